"""The synthetic FHV months: shape, determinism and calibration against the published
figures of the real 2021 FHV files (../shared/reference/README.md)."""

from __future__ import annotations

import os
import pickle
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from checks.flows import oracle
from hw3.trips import sample
from hw3.errors import Hw3Error
from hw3.layout import PROJECT_ROOT

REFERENCE_DV = PROJECT_ROOT.parent / "shared" / "reference" / "dv-2021-08-15.pkl"
GREEN_JAN = PROJECT_ROOT.parent / "shared" / "data" / "green_tripdata_2021-01.parquet"

REAL_VAL_MSE = 11.63703264088319  # 2021-06 -> 2021-07, published
VAL_TOLERANCE = 0.1  # measured: 11.594 at DEFAULT_ROWS, 11.645 at REAL_ROWS
FHV_TYPES = {
    "dispatching_base_num": pa.string(), "pickup_datetime": pa.timestamp("us"),
    "dropOff_datetime": pa.timestamp("us"), "PUlocationID": pa.float64(), "DOlocationID": pa.float64(),
    "SR_Flag": pa.float64(), "Affiliated_base_number": pa.string(),
}


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(sample.CACHE_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def june() -> pd.DataFrame:
    return sample.sample_month(2021, 6)


@pytest.fixture(scope="module")
def course_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("course")
    return (sample.write_sample_month(folder / "fhv_tripdata_2021-06.parquet", 2021, 6),
            sample.write_sample_month(folder / "fhv_tripdata_2021-07.parquet", 2021, 7))


def minutes(frame: pd.DataFrame) -> pd.Series:
    return (frame["dropOff_datetime"] - frame["pickup_datetime"]) / pd.Timedelta(minutes=1)


def test_file_schema_is_the_real_fhv_schema(course_files):
    schema = pq.read_schema(course_files[0])
    assert dict(zip(schema.names, schema.types)) == FHV_TYPES
    assert schema.names == list(FHV_TYPES)  # and in the real order


def test_frame_dtypes_are_those_pandas_reads_from_the_file(june, course_files):
    assert june.dtypes.to_dict() == pd.read_parquet(course_files[0]).dtypes.to_dict()
    assert str(june["pickup_datetime"].dtype) == "datetime64[us]"
    assert june["PUlocationID"].dtype == np.float64 and june["SR_Flag"].isna().all()
    assert june["dispatching_base_num"].str.fullmatch(r"B\d{5}").all()
    assert june["Affiliated_base_number"].isna().mean() == pytest.approx(0.03, abs=0.01)
    assert len(june) == sample.DEFAULT_ROWS


def test_same_arguments_same_data_other_months_other_data(june, tmp_path):
    pd.testing.assert_frame_equal(sample.sample_month(2021, 6), june)
    first = sample.write_sample_month(tmp_path / "a" / "fhv_tripdata_2021-06.parquet", 2021, 6, 2000)
    second = sample.write_sample_month(tmp_path / "b" / "fhv_tripdata_2021-06.parquet", 2021, 6, 2000)
    assert first.read_bytes() == second.read_bytes()
    july = sample.sample_month(2021, 7)
    assert not np.array_equal(june["DOlocationID"].to_numpy(), july["DOlocationID"].to_numpy())
    assert len(sample.sample_month(2021, 6, 3000)) == 3000


@pytest.mark.parametrize(("year", "month"), [(2021, 2), (2021, 6), (2024, 2), (2022, 12)])
def test_pickups_are_inside_the_month(year, month):
    frame = sample.sample_month(year, month, 2000)
    start = pd.Timestamp(year, month, 1)
    assert frame["pickup_datetime"].min() >= start
    assert frame["pickup_datetime"].max() < start + pd.offsets.MonthBegin(1)
    assert frame["pickup_datetime"].is_monotonic_increasing  # in pickup order, like TLC's files


def test_missing_zones_share(june):
    kept = june[minutes(june).between(1, 60)]
    assert kept["PUlocationID"].isna().mean() == pytest.approx(0.83, abs=0.005)
    assert june["DOlocationID"].isna().mean() == pytest.approx(sample.DO_MISSING, abs=0.005)


@pytest.mark.parametrize(("year", "month"), [(2021, 1), (2021, 6), (2021, 7), (2023, 2)])
def test_every_month_has_exactly_the_reference_zones(year, month):
    frame = sample.sample_month(year, month, sample.MIN_ROWS)
    kept = frame[minutes(frame).between(1, 60)]
    pu = set(kept["PUlocationID"].dropna().astype(int))
    do = set(kept["DOlocationID"].dropna().astype(int))
    assert pu == set(range(1, 266)) - {103, 104, 105, 199}
    assert do == set(range(1, 266)) - {103, 104, 199}


def test_outliers_on_both_sides(june):
    duration = minutes(june)
    assert (~duration.between(1, 60)).mean() == pytest.approx(0.0384, abs=0.001)  # 44,286 of 1,154,112
    assert (duration < 0).sum() > 0 and (duration == 0).sum() > 0
    assert duration.between(0, 1, inclusive="neither").sum() > 0
    assert (duration > 60).sum() > 0 and (duration > 24 * 60).sum() > 0


def test_raw_mean_duration_of_january():
    assert minutes(sample.sample_month(2021, 1)).mean() == pytest.approx(19.1672, abs=0.3)


def test_course_pipeline_gives_the_published_figures(course_files):
    figures = oracle.figures(*course_files)
    assert figures.feature_count == 525
    assert figures.dv_size_bytes == 13_191
    assert figures.val_mse == pytest.approx(REAL_VAL_MSE, abs=VAL_TOLERANCE)
    assert 10.0 < figures.train_mse < figures.val_mse


@pytest.mark.skipif(not REFERENCE_DV.is_file(), reason="needs ../shared/reference")
def test_vocabulary_is_the_reference_vectorizers(course_files):
    from sklearn.feature_extraction import DictVectorizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pickled by scikit-learn 1.1.1
        reference = pickle.load(REFERENCE_DV.open("rb"))
    frame = pd.read_parquet(course_files[0])
    kept = frame[minutes(frame).between(1, 60)][["PUlocationID", "DOlocationID"]]
    dv = DictVectorizer().fit(kept.fillna(-1).astype(int).astype(str).to_dict(orient="records"))
    assert dv.feature_names_ == list(reference.feature_names_)


@pytest.mark.slow
def test_real_scale_generation_and_figures(tmp_path):
    started = time.perf_counter()
    train = sample.write_sample_month(tmp_path / "fhv_tripdata_2021-06.parquet", 2021, 6, sample.REAL_ROWS)
    elapsed = time.perf_counter() - started
    val = sample.write_sample_month(tmp_path / "fhv_tripdata_2021-07.parquet", 2021, 7, sample.REAL_ROWS)
    assert elapsed < 20  # about 3 s on 2 cores
    assert 10e6 < train.stat().st_size < 16e6  # real 2021 months: 11-13 MB
    figures = oracle.figures(train, val)
    assert figures.train_rows == round(sample.REAL_ROWS * (1 - sample.OUTLIERS))
    assert (figures.feature_count, figures.dv_size_bytes) == (525, 13_191)
    assert figures.val_mse == pytest.approx(REAL_VAL_MSE, abs=0.03)


def test_is_sample_tells_synthetic_from_real(course_files, tmp_path):
    assert sample.is_sample(course_files[0])
    assert sample.sample_info(course_files[0]) == {"generator": sample.GENERATOR_VERSION, "year": 2021,
                                                   "month": 6, "rows": sample.DEFAULT_ROWS}
    if GREEN_JAN.is_file():
        assert not sample.is_sample(GREEN_JAN)
    (tmp_path / "page.parquet").write_text("<html></html>")
    assert not sample.is_sample(tmp_path / "page.parquet")
    assert not sample.is_sample(tmp_path / "absent.parquet")


def test_ensure_caches_and_copies(cache, tmp_path):
    path = sample.ensure_sample_month(tmp_path / "data", 2021, 6, 2000)
    assert path == tmp_path / "data" / "fhv_tripdata_2021-06.parquet"
    cached = cache / "samples" / f"v{sample.GENERATOR_VERSION}" / "fhv_tripdata_2021-06.rows2000.parquet"
    assert cached.read_bytes() == path.read_bytes()
    stamp = cached.stat().st_mtime_ns
    again = sample.ensure_sample_month(tmp_path / "other", 2021, 6, 2000)
    assert again.read_bytes() == path.read_bytes() and cached.stat().st_mtime_ns == stamp  # from the cache
    bigger = sample.ensure_sample_month(tmp_path / "data", 2021, 6, 3000)  # a sample of another size replaces it
    assert sample.sample_info(bigger)["rows"] == 3000
    assert sorted(os.listdir(tmp_path / "data")) == ["fhv_tripdata_2021-06.parquet"]


@pytest.mark.skipif(not GREEN_JAN.is_file(), reason="needs ../shared/data")
def test_ensure_never_replaces_a_real_file(tmp_path):
    real = tmp_path / "fhv_tripdata_2021-01.parquet"
    shutil.copy(GREEN_JAN, real)
    with pytest.raises(Hw3Error, match="a real trip file is there; not replacing it"):
        sample.ensure_sample_month(tmp_path, 2021, 1, 2000)
    assert real.read_bytes() == GREEN_JAN.read_bytes()


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(Hw3Error, match="at least 2,000 rows"):
        sample.sample_month(2021, 6, 10)
    with pytest.raises(Hw3Error, match="2021-13 is not a month"):
        sample.ensure_sample_month(tmp_path, 2021, 13)
    assert not list(tmp_path.iterdir())
