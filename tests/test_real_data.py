"""The reference flow on real TLC trips: the green-taxi files in ../shared/data, renamed to
FHV columns and file names, must give the same figures as checks.flows.oracle and as a plain
pandas + scikit-learn computation written out below. The files' quirks (a few trips stamped
2008/2009, int32 location IDs from 2023-02 on) are kept."""

from __future__ import annotations

import math
import pickle

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression

from checks.flows import oracle
from hw3.trips.tripdata import trip_type
from http_server import GREEN_DIR
GREEN, FHV = trip_type("green"), trip_type("fhv")
ROLES = ("pickup", "dropoff", "pickup_location", "dropoff_location")
GREEN_TO_FHV = {getattr(GREEN, role): getattr(FHV, role) for role in ROLES}

# date -> (training month, validation month, ID type of each, are there trips stamped before 2010 in each)
CASES = {
    "2021-03-15": ("2021-01", "2021-02", ("int64", "int64"), (True, True)),
    "2022-03-15": ("2022-01", "2022-02", ("int64", "int64"), (True, True)),
    "2023-03-15": ("2023-01", "2023-02", ("int64", "int32"), (True, True)),
    "2023-04-15": ("2023-02", "2023-03", ("int32", "int32"), (True, False)),
}

pytestmark = pytest.mark.skipif(not GREEN_DIR.is_dir(), reason=f"no real trip files: {GREEN_DIR} is absent")


def as_fhv(month: str, folder) -> str:
    """Copy green_tripdata_<month>.parquet to <folder>/fhv_tripdata_<month>.parquet, renaming
    the four columns the pipeline reads and changing nothing else."""
    table = pq.read_table(GREEN_DIR / f"green_tripdata_{month}.parquet")
    target = folder / f"fhv_tripdata_{month}.parquet"
    pq.write_table(table.rename_columns([GREEN_TO_FHV.get(name, name) for name in table.column_names]), target)
    return target


def plain_figures(train_file, val_file) -> tuple[float, int, int]:
    """(validation RMSE, feature count, pickled DictVectorizer size), step by step."""
    frames = []
    for path in (train_file, val_file):
        df = pd.read_parquet(path)
        df["duration"] = (df["dropOff_datetime"] - df["pickup_datetime"]).dt.total_seconds() / 60
        df = df[(df["duration"] >= 1) & (df["duration"] <= 60)].copy()
        for column in ("PUlocationID", "DOlocationID"):
            df[column] = [str(int(value)) for value in df[column].fillna(-1)]
        frames.append(df)
    train, val = frames
    dv = DictVectorizer()
    X_train = dv.fit_transform(train[["PUlocationID", "DOlocationID"]].to_dict(orient="records"))
    lr = LinearRegression().fit(X_train, train["duration"].to_numpy())
    predicted = lr.predict(dv.transform(val[["PUlocationID", "DOlocationID"]].to_dict(orient="records")))
    rmse = math.sqrt(((val["duration"].to_numpy() - predicted) ** 2).mean())
    return rmse, len(dv.feature_names_), len(pickle.dumps(dv))


@pytest.mark.parametrize("date", sorted(CASES))
def test_the_flow_on_real_trips(reference, prefect_api_url, tmp_path, monkeypatch, date):
    train_month, val_month, id_types, old_stamps = CASES[date]
    data_dir, models_dir = tmp_path / "data", tmp_path / "models"
    data_dir.mkdir()
    files = [as_fhv(month, data_dir) for month in (train_month, val_month)]
    for path, id_type, old in zip(files, id_types, old_stamps):  # the quirks are still there
        df = pd.read_parquet(path, columns=[FHV.pickup, FHV.pickup_location])
        assert str(df[FHV.pickup_location].dtype) == id_type
        assert (df[FHV.pickup].dt.year < 2010).any() == old
    monkeypatch.setenv("HW3_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HW3_MODELS_DIR", str(models_dir))

    val_mse = reference.main(date=date)

    from_oracle = oracle.figures(*(GREEN_DIR / f"green_tripdata_{m}.parquet" for m in (train_month, val_month)), GREEN)
    plain_mse, plain_features, plain_dv_size = plain_figures(*files)
    with open(models_dir / f"dv-{date}.b", "rb") as f:
        saved_features = len(pickle.load(f).feature_names_)
    dv_size = (models_dir / f"dv-{date}.b").stat().st_size
    assert val_mse == pytest.approx(from_oracle.val_mse, abs=1e-9)
    assert val_mse == pytest.approx(plain_mse, abs=1e-9)
    assert saved_features == from_oracle.feature_count == plain_features
    assert dv_size == from_oracle.dv_size_bytes == plain_dv_size
