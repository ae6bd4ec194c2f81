"""Synthetic FHV months: offline stand-ins for TLC's for-hire-vehicle trip files.

The real FHV files cannot be downloaded everywhere (CI, this course's sandboxes), so this
module makes FHV-shaped months: the same columns and types, calibrated to the figures the
course published for the real 2021 files: 83% of pickup zones missing (and, our estimate,
14% of dropoff zones), about 3.8% of durations outside 1..60 min (a few negative or zero, some
hours or days long), a raw mean near 19.2 min, and trip durations that a linear model on
one-hot zones predicts with a validation RMSE near the real files' one (2021-06 -> 2021-07).

Every month contains every zone of the 2022 reference DictVectorizer (pickup zones 1..265
but 103, 104, 105, 199; dropoff zones 1..265 but 103, 104, 199), so the course pipeline
finds its 525 features even in a small sample. A month is a pure function of
(year, month, rows) and the generator version; the file carries an `hw3.sample` entry in
its parquet metadata so that it is never mistaken for a real TLC file.
"""

from __future__ import annotations

import calendar
import json
import os
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from hw3.errors import Hw3Error
from hw3.tripdata import month_file, trip_type

GENERATOR_VERSION = 2
METADATA_KEY = b"hw3.sample"
CACHE_ENV = "HW3_CACHE_DIR"

DEFAULT_ROWS = 25_000
REAL_ROWS = 1_200_000
MIN_ROWS = 2_000  # room for one kept trip per zone besides the 83% without a pickup zone

PU_ZONES = np.array([z for z in range(1, 266) if z not in (103, 104, 105, 199)], dtype=float)
DO_ZONES = np.array([z for z in range(1, 266) if z not in (103, 104, 199)], dtype=float)

# Shares, per trip. PU_MISSING is the published 83%. DO_MISSING is not published: an
# estimate for 2021 (most FHV trips name their dropoff zone).
PU_MISSING = 0.83
DO_MISSING = 0.14
OUTLIERS = 0.0384  # 44,286 of 1,154,112 trips in January 2021 fall outside 1..60 min
SHORT_OUTLIERS = 0.4  # of the outliers: under a minute (some zero, a few negative)
LONG_OUTLIER_MEAN = 150.0  # minutes; brings the raw mean to about 19.2 min

# The duration model (minutes): base + pickup-zone effect + dropoff-zone effect + noise.
CITY_SEED = 20210101  # the zones' popularity and effects, shared by every month
BASE = 15.8  # January; SUMMER_BASE more in July (summer trips are longer and more varied)
SUMMER_BASE = 2.0
PU_EFFECT_SD, DO_EFFECT_SD = 4.7, 5.0  # spread of the real 2022 model's coefficients
PU_MISSING_EFFECT, DO_MISSING_EFFECT = -3.15, 5.74  # its coefficients of "-1"
MONTH_SHIFT_SD = 2.0  # how much a zone's effect changes from month to month
BASE_SHIFT_SD = 0.5  # how much the typical trip changes from month to month
NOISE_SD = 11.5  # January; times (1 + SUMMER_NOISE) in July
SUMMER_NOISE = 0.13
NOISE_SHAPE = 3.0  # gamma shape: trip times are skewed to the right
FEATURES = len(PU_ZONES) + len(DO_ZONES) + 2  # columns of the course's one-hot matrix
OVERFIT = 2.1  # measured: a small sample's validation MSE grows by about OVERFIT * FEATURES / rows


@cache
def fhv_schema():
    """The arrow schema of a real 2021 FHV file (strings, microsecond timestamps, doubles)."""
    import pyarrow as pa

    kind = trip_type("fhv")
    types = {
        "dispatching_base_num": pa.string(), kind.pickup: pa.timestamp("us"),
        kind.dropoff: pa.timestamp("us"), kind.pickup_location: pa.float64(),
        kind.dropoff_location: pa.float64(), "SR_Flag": pa.float64(), "Affiliated_base_number": pa.string(),
    }
    return pa.schema([(column, types[column]) for column in kind.columns])


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([GENERATOR_VERSION, *key]))


def _city() -> dict[str, np.ndarray]:
    """Zone popularity and duration effects, the same for every month."""
    rng = _rng(CITY_SEED)
    city = {}
    for side, zones, sd in (("pu", PU_ZONES, PU_EFFECT_SD), ("do", DO_ZONES, DO_EFFECT_SD)):
        weight = rng.lognormal(0.0, 1.3, len(zones))
        weight /= weight.sum()
        effect = rng.normal(0.0, sd, len(zones))
        city[f"{side}_weight"] = weight
        city[f"{side}_effect"] = effect - weight @ effect  # centred on the typical trip
    city["bases"] = np.array([f"B{n:05d}" for n in np.sort(rng.choice(np.arange(1, 3400), 700, replace=False))])
    base_weight = rng.pareto(1.2, len(city["bases"])) + 0.05
    city["base_weight"] = base_weight / base_weight.sum()
    return city


def _check_month(year: int, month: int, rows: int) -> None:
    if not 1 <= month <= 12 or not 1 <= year <= 9999:
        raise Hw3Error(f"{year}-{month:02d} is not a month; give the month as YYYY-MM, e.g. 2021-06")
    if rows < MIN_ROWS:
        raise Hw3Error(f"a sample month needs at least {MIN_ROWS:,} rows (asked for {rows:,})")


def sample_month(year: int, month: int, rows: int = DEFAULT_ROWS) -> pd.DataFrame:
    """A synthetic FHV month with `rows` trips, the same every time for the same arguments."""
    _check_month(year, month, rows)
    city = _city()
    rng = _rng(year, month, rows)
    month_rng = _rng(year, month)  # the month's own character, whatever the sample size
    n = rows

    # Zones: the first rows visit every zone once (kept trips), the rest follow popularity.
    pu = rng.choice(len(PU_ZONES), n, p=city["pu_weight"])
    do = rng.choice(len(DO_ZONES), n, p=city["do_weight"])
    pu[: len(PU_ZONES)] = np.arange(len(PU_ZONES))
    do[: len(DO_ZONES)] = np.arange(len(DO_ZONES))
    forced = max(len(PU_ZONES), len(DO_ZONES))
    pu_missing = _pick(rng, n, round(PU_MISSING * n), skip=len(PU_ZONES))
    do_missing = _pick(rng, n, round(DO_MISSING * n), skip=len(DO_ZONES))

    # Expected duration per trip; each month shifts the zone effects a little.
    pu_effect = city["pu_effect"] + month_rng.normal(0.0, MONTH_SHIFT_SD, len(PU_ZONES))
    do_effect = city["do_effect"] + month_rng.normal(0.0, MONTH_SHIFT_SD, len(DO_ZONES))
    summer = (1 - np.cos(2 * np.pi * (month - 1) / 12)) / 2  # 0 in January, 1 in July
    base = BASE + SUMMER_BASE * summer + month_rng.normal(0.0, BASE_SHIFT_SD)
    mean = base + np.where(pu_missing, PU_MISSING_EFFECT, pu_effect[pu])
    mean += np.where(do_missing, DO_MISSING_EFFECT, do_effect[do])
    # A linear model fitted to few trips overfits its FEATURES coefficients, which raises its
    # squared error on new trips; less noise makes up for it, so the validation error is about
    # the same at every sample size.
    noise_sd = NOISE_SD * (1 + SUMMER_NOISE * summer) / np.sqrt(1 + OVERFIT * FEATURES / n)
    minutes = _kept_durations(rng, mean, noise_sd)

    # Outliers: exact counts, so the share is the same at every size.
    outliers = np.flatnonzero(_pick(rng, n, round(OUTLIERS * n), skip=forced))
    short = round(SHORT_OUTLIERS * len(outliers))
    minutes[outliers[:short]] = _short_outliers(rng, short)
    minutes[outliers[short:]] = _long_outliers(rng, len(outliers) - short)

    start = np.datetime64(f"{year:04d}-{month:02d}-01", "us")
    month_s = calendar.monthrange(year, month)[1] * 86_400
    pickup_s = np.sort(rng.integers(0, month_s, n))
    order = rng.permutation(n)  # trips in pickup order, zones and durations shuffled over them
    pickup = start + (pickup_s * 1_000_000).astype("timedelta64[us]")
    dropoff = pickup + (np.round(minutes[order] * 60) * 1_000_000).astype("timedelta64[us]")

    bases = city["bases"]
    dispatching = rng.choice(len(bases), n, p=city["base_weight"])
    affiliated = np.where(rng.random(n) < 0.9, dispatching, rng.choice(len(bases), n, p=city["base_weight"]))
    affiliated_values = bases[affiliated].astype(object)
    affiliated_values[rng.random(n) < 0.03] = None

    kind = trip_type("fhv")
    frame = pd.DataFrame({
        "dispatching_base_num": pd.array(bases[dispatching], dtype="str"),
        kind.pickup: pickup,
        kind.dropoff: dropoff,
        kind.pickup_location: np.where(pu_missing, np.nan, PU_ZONES[pu])[order],
        kind.dropoff_location: np.where(do_missing, np.nan, DO_ZONES[do])[order],
        "SR_Flag": np.full(n, np.nan),
        "Affiliated_base_number": pd.array(affiliated_values, dtype="str"),
    })
    return frame[list(kind.columns)]


def _pick(rng: np.random.Generator, n: int, count: int, skip: int) -> np.ndarray:
    """A mask of exactly `count` random rows, none of the first `skip`."""
    mask = np.zeros(n, dtype=bool)
    mask[skip + rng.choice(n - skip, count, replace=False)] = True
    return mask


def _kept_durations(rng: np.random.Generator, mean: np.ndarray, noise_sd: float) -> np.ndarray:
    """Durations in 1..60 min around `mean`, with right-skewed noise (redrawn until inside)."""
    minutes = np.empty_like(mean)
    todo = np.arange(len(mean))
    for _ in range(50):
        noise = (rng.gamma(NOISE_SHAPE, 1.0, len(todo)) - NOISE_SHAPE) / np.sqrt(NOISE_SHAPE)
        minutes[todo] = mean[todo] + noise_sd * noise
        todo = todo[(minutes[todo] < 1) | (minutes[todo] > 60)]
        if not len(todo):
            break
    minutes[todo] = rng.uniform(1, 60, len(todo))
    return minutes


def _short_outliers(rng: np.random.Generator, count: int) -> np.ndarray:
    """Trips under a minute: mostly seconds long, some exactly zero, a few negative."""
    minutes = rng.uniform(0.0, 0.99, count)
    kind = rng.random(count)
    minutes[kind < 0.15] = 0.0
    negative = kind > 0.95
    minutes[negative] = -rng.uniform(1.0, 120.0, negative.sum())
    return minutes


def _long_outliers(rng: np.random.Generator, count: int) -> np.ndarray:
    """Trips over an hour with a heavy tail (a few last days), mean LONG_OUTLIER_MEAN."""
    quantiles = (np.arange(count) + 0.5) / count
    extra = (1 - quantiles) ** -0.5 - 1  # Lomax tail, shape 2
    extra *= (LONG_OUTLIER_MEAN - 60.5) / extra.mean()
    return rng.permutation(60.5 + extra)


def write_sample_month(path: str | os.PathLike, year: int, month: int, rows: int = DEFAULT_ROWS) -> Path:
    """Write a sample month to `path` (atomically), marked as synthetic in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    table = pa.Table.from_pandas(sample_month(year, month, rows), preserve_index=False).cast(fhv_schema())
    mark = json.dumps({"generator": GENERATOR_VERSION, "year": year, "month": month, "rows": rows})
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: mark.encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    try:
        # One row group like TLC's files; zstd gets their size (TLC's gzip takes 10 s here).
        pq.write_table(table, part, compression="zstd", row_group_size=max(rows, 1))
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path


def sample_info(path: str | os.PathLike) -> dict | None:
    """The `hw3.sample` metadata of a parquet file, None for a file that isn't a sample."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):
        return None
    mark = metadata.get(METADATA_KEY)
    return json.loads(mark) if mark else None


def is_sample(path: str | os.PathLike) -> bool:
    """True for a file this module made, False for a real TLC file (or no parquet file)."""
    return sample_info(path) is not None


def cache_dir() -> Path:
    """Where sample months are kept between runs: HW3_CACHE_DIR, else ~/.cache/hw3."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hw3")


def ensure_sample_month(dest_dir: str | os.PathLike, year: int, month: int, rows: int = DEFAULT_ROWS) -> Path:
    """Put the sample month into dest_dir as fhv_tripdata_YYYY-MM.parquet, made once and cached.

    A real (non-sample) file of that name in dest_dir is never replaced: Hw3Error.
    """
    _check_month(year, month, rows)
    name = month_file("fhv", year, month)
    target = Path(dest_dir) / name
    wanted = {"generator": GENERATOR_VERSION, "year": year, "month": month, "rows": rows}
    if target.exists():
        if not is_sample(target):
            raise Hw3Error(
                f"{target}: a real trip file is there; not replacing it with a synthetic sample. "
                "Use it, or move it away first"
            )
        if sample_info(target) == wanted:
            return target
    cached = cache_dir() / "samples" / f"v{GENERATOR_VERSION}" / f"{Path(name).stem}.rows{rows}.parquet"
    if sample_info(cached) != wanted:
        write_sample_month(cached, year, month, rows)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{name}.part")
    try:
        shutil.copyfile(cached, part)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target
