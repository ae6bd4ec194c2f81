"""The data manifest and hw3.trips.tripdata, checked against the real green files in ../shared/data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from hw3.trips import tripdata
from hw3.errors import Hw3Error
from hw3.layout import PROJECT_ROOT

GREEN_DIR = PROJECT_ROOT.parent / "shared" / "data"
GREEN_FILES = sorted(GREEN_DIR.glob("green_tripdata_*.parquet"))
needs_green = pytest.mark.skipif(not GREEN_FILES, reason="needs the real green files in ../shared/data")


def test_fhv_columns_are_the_published_ones():
    fhv = tripdata.trip_type("fhv")
    assert fhv.columns == ("dispatching_base_num", "pickup_datetime", "dropOff_datetime", "PUlocationID",
                           "DOlocationID", "SR_Flag", "Affiliated_base_number")
    assert (fhv.pickup, fhv.dropoff, fhv.pickup_location, fhv.dropoff_location) == (
        "pickup_datetime", "dropOff_datetime", "PUlocationID", "DOlocationID")


def test_yellow_and_green_name_their_own_columns():
    yellow, green = tripdata.trip_type("yellow"), tripdata.trip_type("green")
    assert (yellow.pickup, yellow.dropoff) == ("tpep_pickup_datetime", "tpep_dropoff_datetime")
    assert (green.pickup, green.dropoff) == ("lpep_pickup_datetime", "lpep_dropoff_datetime")
    for kind in (yellow, green):
        assert {kind.pickup, kind.dropoff, kind.pickup_location, kind.dropoff_location} <= set(kind.columns)
    assert "airport_fee" in yellow.columns and len(yellow.columns) == 19


@needs_green
@pytest.mark.parametrize("path", GREEN_FILES, ids=lambda p: p.name)
def test_green_columns_are_those_of_the_real_files(path: Path):
    assert list(tripdata.trip_type("green").columns) == pq.read_schema(path).names


def test_unknown_type_lists_the_known_ones():
    with pytest.raises(Hw3Error, match="unknown trip type 'hvfhv'; known types: fhv, green, yellow"):
        tripdata.trip_type("hvfhv")


def test_month_file_names_round_trip():
    assert tripdata.month_file("fhv", 2021, 6) == "fhv_tripdata_2021-06.parquet"
    assert tripdata.parse_month_file("fhv_tripdata_2021-06.parquet") == ("fhv", 2021, 6)
    assert tripdata.parse_month_file("data/green_tripdata_2023-12.parquet") == ("green", 2023, 12)


@pytest.mark.parametrize("name", ["fhv_tripdata_2021-13.parquet", "fhv_tripdata_2021-6.parquet",
                                  "fhv_2021-06.parquet", "fhv_tripdata_2021-06.csv", "models/dv-2021-08-15.b"])
def test_bad_file_names_are_refused(name: str):
    with pytest.raises(Hw3Error, match="not a TLC monthly trip file name"):
        tripdata.parse_month_file(name)


def test_unknown_taxi_in_a_file_name_is_refused():
    with pytest.raises(Hw3Error, match="unknown trip type 'limo'"):
        tripdata.parse_month_file("limo_tripdata_2021-06.parquet")
    with pytest.raises(Hw3Error, match="not a month"):
        tripdata.month_file("fhv", 2021, 0)


def test_url_follows_tlc_and_can_be_redirected(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(tripdata.URL_TEMPLATE_ENV, raising=False)
    assert tripdata.url("fhv", 2021, 6) == "https://d37ci6vzurychx.cloudfront.net/trip-data/fhv_tripdata_2021-06.parquet"
    monkeypatch.setenv(tripdata.URL_TEMPLATE_ENV, "http://127.0.0.1:9/{taxi}/{year}/{month:02d}")
    assert tripdata.url("green", 2022, 3) == "http://127.0.0.1:9/green/2022/03"


@needs_green
def test_known_checksums_are_those_of_the_real_files():
    assert len(GREEN_FILES) == 9
    for path in GREEN_FILES:
        assert tripdata.known_checksum(path.name) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert tripdata.known_checksum("fhv_tripdata_2021-06.parquet") is None


@needs_green
def test_a_real_file_passes_the_check():
    line = tripdata.check_trip_file(GREEN_DIR / "green_tripdata_2023-03.parquet")
    assert line.endswith("ok, green trip file, 72,044 rows, 20 columns")


def test_a_page_of_html_is_not_parquet(tmp_path: Path):
    path = tmp_path / "fhv_tripdata_2021-06.parquet"
    path.write_bytes(b"<html><body>503 Service Unavailable</body></html>")
    with pytest.raises(Hw3Error, match=r"fhv_tripdata_2021-06.parquet: not a parquet file \(49 bytes, starting '<html>"):
        tripdata.check_trip_file(path)


def test_a_truncated_parquet_file_is_damaged(tmp_path: Path):
    path = tmp_path / "fhv_tripdata_2021-06.parquet"
    pd.DataFrame({"a": range(1000)}).to_parquet(path)
    body = path.read_bytes()
    path.write_bytes(body[:200] + body[-100:])  # magic at both ends, footer garbled
    with pytest.raises(Hw3Error, match="damaged parquet file"):
        tripdata.check_trip_file(path)


def test_missing_and_mistyped_columns_are_named(tmp_path: Path):
    path = tmp_path / "fhv_tripdata_2021-06.parquet"
    stamps = pd.to_datetime(["2021-06-01 10:00", "2021-06-01 11:00"])
    pd.DataFrame({"pickup_datetime": stamps, "PUlocationID": [1.0, None], "DOlocationID": [2.0, 3.0]}).to_parquet(path)
    with pytest.raises(Hw3Error, match="missing column.s. dropOff_datetime"):
        tripdata.check_trip_file(path)
    pd.DataFrame({"pickup_datetime": ["2021-06-01 10:00", "x"], "dropOff_datetime": stamps,
                  "PUlocationID": ["1", "2"], "DOlocationID": [2.0, 3.0]}).to_parquet(path)
    with pytest.raises(Hw3Error, match="pickup_datetime is (large_)?string; PUlocationID is (large_)?string"):
        tripdata.check_trip_file(path)


def test_a_file_with_the_needed_columns_only_passes_with_a_note(tmp_path: Path):
    path = tmp_path / "fhv_tripdata_2021-06.parquet"
    stamps = pd.to_datetime(["2021-06-01 10:00", "2021-06-01 11:00"])
    pd.DataFrame({"pickup_datetime": stamps, "dropOff_datetime": stamps + pd.Timedelta(minutes=10), "PUlocationID": [1, 2],
                  "DOlocationID": [2.0, None]}).to_parquet(path)
    line = tripdata.check_trip_file(path)
    assert "ok, fhv trip file, 2 rows, 4 columns (without dispatching_base_num, SR_Flag, Affiliated_base_number)" in line
