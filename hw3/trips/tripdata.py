"""TLC monthly trip files: names, URLs, columns and checksums (from hw3/trips/manifest.toml),
and the check that a file really is such a trip file."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hw3 import layout, settings
from hw3.errors import Hw3Error

# Set to point every download at another server (the tests use a local one).
URL_TEMPLATE_ENV = "HW3_TLC_URL_TEMPLATE"

_MONTH_FILE = re.compile(r"(?P<taxi>[a-z]+)_tripdata_(?P<year>\d{4})-(?P<month>\d{2})\.parquet")
PARQUET_MAGIC = b"PAR1"
# The synthetic months (sample.py): their trip types, and how many trips a month has by default.
TAXIS = ("fhv", "green")
DEFAULT_ROWS = 25_000
GREEN_DEFAULT_ROWS = 10_000  # the 2023 script trains xgboost with exact trees: about 2 s at this size
MIN_MINUTES, MAX_MINUTES = 1, 60  # the trips the homework keeps
_TICKS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


@dataclass(frozen=True)
class TripType:
    name: str
    url_template: str
    pickup: str
    dropoff: str
    pickup_location: str
    dropoff_location: str
    columns: tuple[str, ...]


@cache
def _load_manifest(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise Hw3Error(f"{path}: cannot read the data manifest ({exc}); restore it from the project's git") from exc


def manifest() -> dict:
    """The parsed data manifest (layout.MANIFEST_FILE)."""
    return _load_manifest(Path(layout.MANIFEST_FILE))


def trip_type(name: str) -> TripType:
    """The TLC trip type called `name` (fhv, green, yellow)."""
    types = manifest()["types"]
    if name not in types:
        raise Hw3Error(f"unknown trip type {name!r}; known types: {', '.join(sorted(types))}")
    entry = dict(types[name])
    entry["columns"] = tuple(entry["columns"])
    return TripType(name=name, **entry)


def month_file(taxi: str, year: int, month: int) -> str:
    """The name TLC gives a month's file, e.g. fhv_tripdata_2021-06.parquet."""
    if not 1 <= int(month) <= 12:
        raise Hw3Error(f"month {month} of {year} is not a month (1..12)")
    return f"{trip_type(taxi).name}_tripdata_{int(year):04d}-{int(month):02d}.parquet"


def parse_month_file(name: str) -> tuple[str, int, int]:
    """(taxi, year, month) from a file name like fhv_tripdata_2021-06.parquet."""
    match = _MONTH_FILE.fullmatch(Path(name).name)
    if not match or not 1 <= int(match["month"]) <= 12:
        raise Hw3Error(
            f"{name}: not a TLC monthly trip file name; expected <taxi>_tripdata_YYYY-MM.parquet, "
            "e.g. fhv_tripdata_2021-06.parquet"
        )
    trip_type(match["taxi"])
    return match["taxi"], int(match["year"]), int(match["month"])


def url(taxi: str, year: int, month: int) -> str:
    """Where TLC publishes a month's file (HW3_TLC_URL_TEMPLATE overrides the manifest)."""
    template = settings.current().tlc_url_template or trip_type(taxi).url_template
    return template.format(taxi=taxi, year=int(year), month=int(month))


def known_checksum(file_name: str) -> str | None:
    """The published sha256 of a TLC file, if the manifest knows it."""
    return manifest().get("checksums", {}).get(Path(file_name).name)


def read_parquet_schema(path: Path, label: str | None = None):
    """The pyarrow schema of a parquet file; Hw3Error if `path` is not a parquet file.

    `label` names the file in messages (a download's temporary file stands for its target).
    """
    import pyarrow.parquet as pq

    label = label or str(path)
    with open(path, "rb") as handle:
        head = handle.read(4)
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    if size < 12 or head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
        with open(path, "rb") as handle:
            start = handle.read(60).decode("utf-8", "replace").split("\n")[0]
        raise Hw3Error(
            f"{label}: not a parquet file ({size} bytes, starting {start!r}); the server may have sent "
            "an error page. Delete it and fetch it again, or check the name and the month"
        )
    try:
        return pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a damaged footer
        raise Hw3Error(f"{label}: damaged parquet file ({exc}); delete it and fetch it again") from exc


def check_trip_file(path: Path, name: str | None = None) -> str:
    """Validate a trip file against the manifest entry for the type its name says.

    Returns a one-line summary; raises Hw3Error naming the file and what is wrong.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    label = str(path)
    taxi, _, _ = parse_month_file(name or str(path))
    kind = trip_type(taxi)
    schema = read_parquet_schema(Path(path), label)
    needed = {kind.pickup: pa.types.is_timestamp, kind.dropoff: pa.types.is_timestamp,
              kind.pickup_location: _is_number, kind.dropoff_location: _is_number}
    missing = [column for column in needed if column not in schema.names]
    if missing:
        raise Hw3Error(
            f"{label}: missing column(s) {', '.join(missing)} that a {taxi} file has; "
            f"it has {', '.join(schema.names)}. Is it really a {taxi} file?"
        )
    wrong = [f"{column} is {schema.field(column).type}" for column, ok in needed.items()
             if not ok(schema.field(column).type)]
    if wrong:
        raise Hw3Error(
            f"{label}: {'; '.join(wrong)}; expected timestamps for {kind.pickup}/{kind.dropoff} "
            f"and numbers for {kind.pickup_location}/{kind.dropoff_location}"
        )
    rows = pq.ParquetFile(path).metadata.num_rows
    if rows == 0:
        raise Hw3Error(f"{label}: the file has no trips; delete it and fetch the month again, or pick another month")
    kept = usable_trips(path, kind)
    if kept == 0:
        raise Hw3Error(
            f"{label}: none of its {rows:,} trips lasts {MIN_MINUTES} to {MAX_MINUTES} minutes, so nothing is left to "
            f"train or validate on; check {kind.pickup}/{kind.dropoff}, or fetch the month again"
        )
    others = [column for column in kind.columns if column not in schema.names]
    note = f" (without {', '.join(others)})" if others else ""
    return f"{label}: ok, {taxi} trip file, {rows:,} rows, {len(schema.names)} columns{note}"


def usable_trips(path: Path, kind: TripType) -> int:
    """How many trips of the file last MIN_MINUTES to MAX_MINUTES (the homework's filter)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=[kind.pickup, kind.dropoff])
    seconds = pc.divide(pc.cast(pc.subtract(table[kind.dropoff], table[kind.pickup]), "int64"),
                        _TICKS_PER_SECOND[table.schema.field(kind.pickup).type.unit])
    minutes = pc.divide(pc.cast(seconds, "double"), 60)
    kept = pc.and_(pc.greater_equal(minutes, MIN_MINUTES), pc.less_equal(minutes, MAX_MINUTES))
    return int(pc.sum(pc.cast(pc.fill_null(kept, False), "int64")).as_py() or 0)


def _is_number(data_type) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(data_type) or pa.types.is_floating(data_type)
