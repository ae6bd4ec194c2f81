"""The course pipeline computed directly with pandas and scikit-learn, without Prefect:
the figures a correct flow must log and save, used by the tests and the checks.

The location columns of any trip type are renamed to the FHV names (PUlocationID,
DOlocationID), so the DictVectorizer's features, and so its pickled size, are those a
flow reading the same trips as FHV files would get.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from os import PathLike

import numpy as np
import pandas as pd
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression

from hw3.trips.tripdata import TripType, trip_type

FEATURES = ("PUlocationID", "DOlocationID")
MIN_MINUTES, MAX_MINUTES = 1, 60


@dataclass(frozen=True)
class Figures:
    train_rows: int  # trips kept (1 to 60 minutes)
    val_rows: int
    train_mean_duration: float  # minutes, over the kept trips
    val_mean_duration: float
    feature_count: int  # the DictVectorizer's features
    train_mse: float  # like the course's "MSE": the ROOT of the mean squared error
    val_mse: float
    dv_size_bytes: int  # len(pickle.dumps(dv)), the size of the saved dv-{date}.b


def _trips(path: str | PathLike, columns: TripType) -> tuple[list[dict[str, str]], np.ndarray]:
    """The feature records and the durations (minutes) of the trips of 1 to 60 minutes."""
    df = pd.read_parquet(path, columns=[columns.pickup, columns.dropoff, columns.pickup_location, columns.dropoff_location])
    minutes = (df[columns.dropoff] - df[columns.pickup]) / pd.Timedelta(minutes=1)
    kept = (minutes >= MIN_MINUTES) & (minutes <= MAX_MINUTES)
    locations = df.loc[kept, [columns.pickup_location, columns.dropoff_location]]
    locations.columns = list(FEATURES)
    records = locations.fillna(-1).astype("int64").astype(str).to_dict(orient="records")
    return records, minutes[kept].to_numpy(dtype=float)


def _rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


def figures(train_file: str | PathLike, val_file: str | PathLike, columns: TripType | None = None) -> Figures:
    """Train on `train_file`, validate on `val_file` (FHV columns unless `columns` is given)."""
    columns = columns or trip_type("fhv")
    train_records, y_train = _trips(train_file, columns)
    val_records, y_val = _trips(val_file, columns)
    dv = DictVectorizer()
    X_train = dv.fit_transform(train_records)
    lr = LinearRegression().fit(X_train, y_train)
    return Figures(
        train_rows=len(y_train),
        val_rows=len(y_val),
        train_mean_duration=float(y_train.mean()),
        val_mean_duration=float(y_val.mean()),
        feature_count=len(dv.feature_names_),
        train_mse=_rmse(y_train, lr.predict(X_train)),
        val_mse=_rmse(y_val, lr.predict(dv.transform(val_records))),
        dv_size_bytes=len(pickle.dumps(dv)),
    )
