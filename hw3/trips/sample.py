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

`taxi="green"` makes green-taxi months instead (the 2023 homework's "deployments"
assignment): the 20 columns and types of TLC's 2023 green files, no missing zone (int64
like the real files), and a trip_distance that tells much of the
duration, so that the 2023 training script (PU_DO + trip_distance, xgboost) gets a validation
RMSE near the real files' 5.2-5.4 (see `_green_month`). Green months are marked with
`"taxi": "green"` in the same metadata entry; FHV months are exactly what they were.
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

from hw3 import settings
from hw3.errors import Hw3Error
from hw3.fsutil import atomic_write
from hw3.trips.tripdata import DEFAULT_ROWS, GREEN_DEFAULT_ROWS, TAXIS, month_file, trip_type

GENERATOR_VERSION = 2
METADATA_KEY = b"hw3.sample"  # the key sample files were written with: a format, not a module path
CACHE_ENV = "HW3_CACHE_DIR"

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

# Green months (taxi="green"): a generator of their own, versioned on its own, so that the FHV
# months above stay byte for byte what they were.
GREEN_GENERATOR_VERSION = 1
GREEN_REAL_ROWS = 68_000  # a real 2023 green month: 64,800 to 72,000 trips
GREEN_CITY_SEED = 20230101
GREEN_ZONES = np.arange(1, 266)
GREEN_OUTLIERS = 0.033  # 2,265 of 68,211 trips in January 2023 fall outside 1..60 min
GREEN_SHORT_OUTLIERS = 0.73  # of the outliers: under a minute (61 of 68,211 exactly zero)
GREEN_MISSING = 0.0634  # trips without store_and_fwd_flag, RatecodeID, passenger_count, payment_type, ...
GREEN_ZERO_DISTANCE = 0.0325  # kept trips with trip_distance 0
GREEN_BAD_DISTANCE = 0.0006  # kept trips with an absurd trip_distance (100 to 120,000 miles)
# Trips per hour of the day, January 2023 (0h..23h).
GREEN_HOURS = np.array([1082, 849, 603, 534, 409, 401, 969, 2578, 3137, 3420, 3538, 3619, 3688, 3874,
                        4228, 4925, 5059, 5056, 5099, 4105, 3146, 2326, 1839, 1462], dtype=float)


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


def check_taxi(taxi: str) -> str:
    """`taxi` if this module makes samples of that trip type, else Hw3Error."""
    if taxi not in TAXIS:
        raise Hw3Error(f"no synthetic sample for {taxi!r} trips; samples exist for {', '.join(TAXIS)}")
    return taxi


def default_rows(taxi: str = "fhv") -> int:
    """The default size of a sample month of this trip type."""
    return GREEN_DEFAULT_ROWS if check_taxi(taxi) == "green" else DEFAULT_ROWS


def sample_mark(year: int, month: int, rows: int, taxi: str = "fhv") -> dict:
    """The `hw3.sample` metadata entry of a sample month (what `sample_info` reads back)."""
    if check_taxi(taxi) == "fhv":  # as it always was: FHV files stay byte for byte the same
        return {"generator": GENERATOR_VERSION, "year": year, "month": month, "rows": rows}
    return {"generator": GREEN_GENERATOR_VERSION, "taxi": taxi, "year": year, "month": month, "rows": rows}


def sample_month(year: int, month: int, rows: int | None = None, taxi: str = "fhv") -> pd.DataFrame:
    """A synthetic month of `taxi` trips (fhv or green) with `rows` trips (default:
    `default_rows(taxi)`), the same every time for the same arguments."""
    rows = default_rows(check_taxi(taxi)) if rows is None else rows
    _check_month(year, month, rows)
    if check_taxi(taxi) == "green":
        return _green_month(year, month, rows)
    return _fhv_month(year, month, rows)


def _fhv_month(year: int, month: int, rows: int) -> pd.DataFrame:
    """A synthetic FHV month (see the module's docstring)."""
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


@cache
def green_schema():
    """The arrow schema of a real 2023 green file (int64 zones and vendor, an all-null ehail_fee)."""
    import pyarrow as pa

    kind = trip_type("green")
    types = dict.fromkeys(kind.columns, pa.float64())
    types.update({
        "VendorID": pa.int64(), kind.pickup: pa.timestamp("us"), kind.dropoff: pa.timestamp("us"),
        "store_and_fwd_flag": pa.string(), kind.pickup_location: pa.int64(), kind.dropoff_location: pa.int64(),
        "ehail_fee": pa.null(),
    })
    return pa.schema([(column, types[column]) for column in kind.columns])


def _green_rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([GREEN_CITY_SEED, GREEN_GENERATOR_VERSION, *key]))


@cache
def _green_city() -> dict[str, np.ndarray]:
    """Where the zones lie, how busy and how slow they are: the same for every month."""
    rng = _green_rng(0)
    zones = len(GREEN_ZONES)
    where = rng.uniform(0.0, 12.0, (zones, 2))  # miles
    miles = 1.3 * np.sqrt(((where[:, None, :] - where[None, :, :]) ** 2).sum(axis=2))  # by road
    np.fill_diagonal(miles, rng.uniform(0.5, 1.0, zones))  # a trip inside one zone
    pu_weight = rng.lognormal(0.0, 2.4, zones)  # green cabs pick up in a few zones (74, 75: a third)
    do_weight = rng.lognormal(0.0, 1.0, zones)
    destination = do_weight[None, :] * np.exp(-miles / 1.4)  # most trips are short
    return {
        "miles": miles,
        "pu_weight": pu_weight / pu_weight.sum(),
        "do_cumulative": np.cumsum(destination / destination.sum(axis=1, keepdims=True), axis=1),
        "slow": rng.lognormal(0.0, 0.15, zones),  # minutes per mile, relative, of each zone
        "pair_minutes": rng.normal(0.0, 1.0, (zones, zones)),  # a route's own detour or wait
    }


def _green_month(year: int, month: int, rows: int) -> pd.DataFrame:
    """A synthetic green month: the 2023 files' columns and types, calibrated on January 2023.

    A trip's duration is about 1 min + route miles x minutes per mile, the pace depending on
    the two zones (which drift a little every month), the hour of the day (rush hours are
    slower) and the trip itself; trip_distance records the route's miles (3.25% recorded as
    0, a few absurd). So PU_DO and trip_distance predict the duration with an RMSE near the
    real files' one, and the month after is a little harder to predict than the month itself.
    """
    city = _green_city()
    rng = _green_rng(year, month, rows)
    month_rng = _green_rng(year, month)  # the month's own character, whatever the sample size
    n, zones = rows, len(GREEN_ZONES)

    pu = rng.choice(zones, n, p=city["pu_weight"])
    chance = rng.random(n)
    do = np.empty(n, dtype=np.int64)
    for zone in np.unique(pu):
        here = pu == zone
        do[here] = np.minimum(np.searchsorted(city["do_cumulative"][zone], chance[here]), zones - 1)
    route = city["miles"][pu, do] * rng.lognormal(0.0, 0.15, n)

    days = calendar.monthrange(year, month)[1]
    hour = rng.choice(24, n, p=GREEN_HOURS / GREEN_HOURS.sum())
    pickup_s = rng.integers(0, days, n) * 86_400 + hour * 3_600 + rng.integers(0, 3_600, n)
    winter = (1 + np.cos(2 * np.pi * (month - 1) / 12)) / 2  # 1 in January, 0 in July
    pace = 4.3 * (1 + 0.05 * winter) + month_rng.normal(0.0, 0.1)  # minutes per mile
    slow = city["slow"] * month_rng.lognormal(0.0, 0.05, zones)
    rush = 1 + 0.18 * np.exp(-(((hour - 8) / 1.5) ** 2)) + 0.22 * np.exp(-(((hour - 17) / 2.0) ** 2)) - 0.12 * (hour < 6)
    per_mile = pace * slow[pu] * slow[do] * rush * rng.lognormal(0.0, 0.22, n)
    minutes = 1.0 + route * per_mile + city["pair_minutes"][pu, do] + rng.normal(0.0, 1.5, n)
    minutes = np.where(minutes < 1.0, rng.uniform(1.0, 3.0, n), minutes)
    minutes = np.where(minutes > 60.0, rng.uniform(40.0, 60.0, n), minutes)

    distance = np.round(route, 2)
    outliers = np.flatnonzero(_pick(rng, n, round(GREEN_OUTLIERS * n), skip=0))
    short = outliers[: round(GREEN_SHORT_OUTLIERS * len(outliers))]
    long = outliers[len(short):]
    minutes[short] = np.where(rng.random(len(short)) < 0.04, 0.0, rng.uniform(0.02, 0.99, len(short)))
    distance[short] = np.where(rng.random(len(short)) < 0.6, 0.0, np.round(rng.uniform(0.0, 0.3, len(short)), 2))
    minutes[long] = np.where(rng.random(len(long)) < 0.7, 60.2 + rng.exponential(40.0, len(long)),
                             rng.uniform(1_000.0, 1_439.9, len(long)))  # meters left running: under a day
    kept = np.setdiff1d(np.arange(n), outliers)
    odd = rng.choice(kept, round((GREEN_ZERO_DISTANCE + GREEN_BAD_DISTANCE) * len(kept)), replace=False)
    bad = odd[: round(GREEN_BAD_DISTANCE * len(kept))]
    distance[odd[len(bad):]] = 0.0
    distance[bad] = np.round(np.exp(rng.uniform(np.log(100.0), np.log(120_000.0), len(bad))), 2)

    # The money columns: cheap, plausible, consistent (a row without a payment type misses
    # the same six fields as TLC's rows without one).
    missing = _pick(rng, n, round(GREEN_MISSING * n), skip=0)
    vendor = np.where(missing | (rng.random(n) >= 0.137), 2, 1).astype(np.int64)
    ratecode = rng.choice([1.0, 5.0, 2.0, 4.0, 3.0], n, p=[0.9719, 0.0239, 0.0025, 0.0009, 0.0008])
    billed = np.clip(minutes, 0.0, 120.0)
    fare = np.where(ratecode == 5.0, np.round(rng.uniform(10.0, 60.0, n)), 3.0 + 3.5 * np.minimum(distance, 60.0) + 0.35 * billed)
    extra = rng.choice([0.0, 1.0, 2.5, 2.75, 5.0], n, p=[0.60, 0.17, 0.18, 0.025, 0.025])
    mta_tax = np.where(missing | (ratecode == 5.0), 0.0, 0.5)
    payment = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], n, p=[0.6365, 0.3545, 0.0074, 0.0015, 0.0001])
    tip = np.where((payment == 1.0) & (rng.random(n) < 0.87), fare * rng.uniform(0.1, 0.3, n), 0.0)
    tolls = np.where(rng.random(n) < 0.023, 6.55, 0.0)
    congestion = np.where(rng.random(n) < 0.26, 2.75, 0.0)
    total = fare + extra + mta_tax + tip + tolls + 1.0 + congestion
    flag = np.where(rng.random(n) < 0.005, "Y", "N").astype(object)
    flag[missing] = None
    passengers = rng.choice([1.0, 2.0, 5.0, 6.0, 3.0, 4.0, 0.0], n, p=[0.850, 0.080, 0.028, 0.017, 0.015, 0.005, 0.005])

    order = np.argsort(pickup_s, kind="stable")  # TLC's files are in pickup order
    start = np.datetime64(f"{year:04d}-{month:02d}-01", "us")
    pickup = start + (pickup_s * 1_000_000).astype("timedelta64[us]")
    dropoff = pickup + (np.round(minutes * 60) * 1_000_000).astype("timedelta64[us]")
    kind = trip_type("green")
    nan = np.nan
    frame = pd.DataFrame({
        "VendorID": vendor,
        kind.pickup: pickup,
        kind.dropoff: dropoff,
        "store_and_fwd_flag": pd.array(flag, dtype="str"),
        "RatecodeID": np.where(missing, nan, ratecode),
        kind.pickup_location: GREEN_ZONES[pu],
        kind.dropoff_location: GREEN_ZONES[do],
        "passenger_count": np.where(missing, nan, passengers),
        "trip_distance": distance,
        "fare_amount": np.round(fare, 2),
        "extra": extra,
        "mta_tax": mta_tax,
        "tip_amount": np.round(tip, 2),
        "tolls_amount": tolls,
        "ehail_fee": pd.Series([None] * n, dtype=object),
        "improvement_surcharge": np.full(n, 1.0),
        "total_amount": np.round(total, 2),
        "payment_type": np.where(missing, nan, payment),
        "trip_type": np.where(missing, nan, np.where(ratecode == 5.0, 2.0, 1.0)),
        "congestion_surcharge": np.where(missing, nan, congestion),
    })
    return frame.iloc[order].reset_index(drop=True)[list(kind.columns)]


def write_sample_month(path: str | os.PathLike, year: int, month: int, rows: int | None = None,
                       taxi: str = "fhv") -> Path:
    """Write a sample month to `path` (atomically), marked as synthetic in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    rows = default_rows(taxi) if rows is None else rows
    schema = green_schema() if taxi == "green" else fhv_schema()
    table = pa.Table.from_pandas(sample_month(year, month, rows, taxi), preserve_index=False).cast(schema)
    mark = json.dumps(sample_mark(year, month, rows, taxi))
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: mark.encode()})
    # One row group like TLC's files; zstd gets their size (TLC's gzip takes 10 s here).
    return atomic_write(path, lambda out: pq.write_table(table, out, compression="zstd", row_group_size=max(rows, 1)),
                        binary=True)


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
    return settings.current().cache_dir


def ensure_sample_month(dest_dir: str | os.PathLike, year: int, month: int, rows: int | None = None,
                        taxi: str = "fhv") -> Path:
    """Put the sample month into dest_dir as <taxi>_tripdata_YYYY-MM.parquet (taxi: fhv or
    green), made once and cached.

    A real (non-sample) file of that name in dest_dir is never replaced: Hw3Error.
    """
    rows = default_rows(taxi) if rows is None else rows
    _check_month(year, month, rows)
    name = month_file(taxi, year, month)
    target = Path(dest_dir) / name
    wanted = sample_mark(year, month, rows, taxi)
    if target.exists():
        if not is_sample(target):
            raise Hw3Error(
                f"{target}: a real trip file is there; not replacing it with a synthetic sample. "
                "Use it, or move it away first"
            )
        if sample_info(target) == wanted:
            return target
    version = f"v{GENERATOR_VERSION}" if taxi == "fhv" else f"{taxi}-v{GREEN_GENERATOR_VERSION}"
    cached = cache_dir() / "samples" / version / f"{Path(name).stem}.rows{rows}.parquet"
    if sample_info(cached) != wanted:
        write_sample_month(cached, year, month, rows, taxi)
    def copy(out) -> None:
        with open(cached, "rb") as handle:
            shutil.copyfileobj(handle, out)

    return atomic_write(target, copy, binary=True)
