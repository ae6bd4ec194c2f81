"""checks.flows.oracle: the course pipeline without Prefect, checked on trips whose figures are
worked out by hand, across trip types and ID types, and against the published 2022
DictVectorizer."""

from __future__ import annotations

import math
import pickle
import warnings

import pandas as pd
import pytest
from sklearn.feature_extraction import DictVectorizer

from checks.flows import oracle
from hw3.layout import PROJECT_ROOT
from hw3.trips.tripdata import trip_type

REFERENCE_DV = PROJECT_ROOT.parent / "shared" / "reference" / "dv-2021-08-15.pkl"
NAN = float("nan")

# (pickup zone, dropoff zone, minutes). Zones 1, 2, missing and 3 each get their own mean,
# which a linear model on one-hot zones reproduces exactly (every trip ends in zone 10).
TRAIN_TRIPS = [
    (1, 10, 10), (1, 10, 10), (2, 10, 20), (2, 10, 20), (NAN, 10, 30), (NAN, 10, 30),
    (3, 10, 1), (3, 10, 60),  # the bounds are kept; zone 3's mean is 30.5
    (1, 10, 0.5), (1, 10, 61), (2, 10, -5), (NAN, 10, 0),  # outside 1..60: dropped
]
VAL_TRIPS = [(1, 10, 12), (2, 10, 20), (NAN, 10, 27), (3, 10, 30.5), (1, 10, 90), (2, 10, 0.9)]
TRAIN_KEPT_RESIDUALS = [0, 0, 0, 0, 0, 0, -29.5, 29.5]
VAL_KEPT_RESIDUALS = [2, 0, -3, 0]  # predictions 10, 20, 30, 30.5
VOCABULARY = [  # every (pickup, dropoff) pair of the kept training trips, as strings
    {"PUlocationID": "1", "DOlocationID": "10"}, {"PUlocationID": "2", "DOlocationID": "10"},
    {"PUlocationID": "-1", "DOlocationID": "10"}, {"PUlocationID": "3", "DOlocationID": "10"},
]


def write_trips(path, trips, kind="fhv", id_dtype="float64", month_start="2021-06-01 08:00"):
    """A parquet file of `trips` with the columns of trip type `kind`."""
    columns = trip_type(kind)
    pickup = pd.Series(pd.date_range(month_start, periods=len(trips), freq="37min"), dtype="datetime64[us]")
    minutes = pd.Series([m for _, _, m in trips], dtype=float)
    frame = pd.DataFrame({
        columns.pickup: pickup,
        columns.dropoff: pickup + pd.to_timedelta(minutes, unit="min"),
        columns.pickup_location: pd.Series([p for p, _, _ in trips], dtype="float64").astype(id_dtype),
        columns.dropoff_location: pd.Series([d for _, d, _ in trips], dtype="float64").astype(id_dtype),
    })
    frame.to_parquet(path)
    return path


def rms(values):
    return math.sqrt(sum(v * v for v in values) / len(values))


@pytest.fixture
def hand_files(tmp_path):
    return (write_trips(tmp_path / "train.parquet", TRAIN_TRIPS), write_trips(tmp_path / "val.parquet", VAL_TRIPS))


def test_figures_worked_out_by_hand(hand_files):
    figures = oracle.figures(*hand_files)
    assert (figures.train_rows, figures.val_rows) == (8, 4)
    assert figures.train_mean_duration == pytest.approx((10 * 2 + 20 * 2 + 30 * 2 + 1 + 60) / 8, abs=1e-12)
    assert figures.val_mean_duration == pytest.approx((12 + 20 + 27 + 30.5) / 4, abs=1e-12)
    assert figures.feature_count == 5  # PUlocationID=1, =2, =-1, =3 and DOlocationID=10
    # The figures are roots of mean squared errors; LinearRegression's sparse solver is iterative.
    assert figures.train_mse == pytest.approx(rms(TRAIN_KEPT_RESIDUALS), rel=1e-6)
    assert figures.val_mse == pytest.approx(rms(VAL_KEPT_RESIDUALS), rel=1e-6)
    assert figures.dv_size_bytes == len(pickle.dumps(DictVectorizer().fit(VOCABULARY)))


@pytest.mark.parametrize("kind, id_dtype", [("green", "Int64"), ("yellow", "float64"), ("fhv", "Int32")])
def test_other_trip_types_and_id_types_give_the_same_figures(hand_files, tmp_path, kind, id_dtype):
    files = [write_trips(tmp_path / f"{kind}-{name}.parquet", trips, kind, id_dtype)
             for name, trips in (("train", TRAIN_TRIPS), ("val", VAL_TRIPS))]
    assert oracle.figures(*files, columns=trip_type(kind)) == oracle.figures(*hand_files)


def test_a_trip_lasting_twelve_years_is_dropped(hand_files, tmp_path):
    """Like a real trip picked up in 2009 and dropped off in 2021."""
    years_long = write_trips(tmp_path / "long.parquet", TRAIN_TRIPS + [(1, 10, 12 * 365 * 24 * 60)])
    assert oracle.figures(years_long, hand_files[1]) == oracle.figures(*hand_files)


def test_the_sample_months_give_the_published_vocabulary(sample_data_dir):
    """The synthetic months hold every zone of the course's 2022 DictVectorizer."""
    figures = oracle.figures(*(sample_data_dir / f"fhv_tripdata_2021-{m:02d}.parquet" for m in (6, 7)))
    assert figures.feature_count == 525
    if not REFERENCE_DV.is_file():
        pytest.skip(f"{REFERENCE_DV} is absent: cannot compare with the published DictVectorizer")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pickled with scikit-learn 1.1.1
        published = pickle.loads(REFERENCE_DV.read_bytes())
    assert figures.dv_size_bytes == len(pickle.dumps(published))
