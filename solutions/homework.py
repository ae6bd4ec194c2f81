"""Reference solution: the trip-duration model trained by a Prefect flow.

`main(date)` trains a linear regression on the for-hire-vehicle trips of the month two
months before `date`, validates it on the month before `date`, logs what it measured and
pickles the model and the DictVectorizer into the models folder. It returns the
validation MSE. With HW3_TAXI=green (or yellow) it reads that trip type's files instead.

Folders: trip files are read from `data/` (or `$HW3_DATA_DIR`), artifacts are written to
`models/` (or `$HW3_MODELS_DIR`), both relative to the working directory.
"""

from __future__ import annotations

import datetime
import os
import pickle
import re
import tempfile
from pathlib import Path

import pandas as pd
from dateutil.relativedelta import relativedelta
from prefect import flow, get_run_logger, task
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

# Each trip type's names for the pick-up time, drop-off time, pick-up zone and drop-off
# zone, as TLC's files have them (hw3/trips/manifest.toml lists every column of each type).
COLUMNS = {
    "fhv": ("pickup_datetime", "dropOff_datetime", "PUlocationID", "DOlocationID"),
    "green": ("lpep_pickup_datetime", "lpep_dropoff_datetime", "PULocationID", "DOLocationID"),
    "yellow": ("tpep_pickup_datetime", "tpep_dropoff_datetime", "PULocationID", "DOLocationID"),
}


def taxi() -> str:
    """The trip type the files hold: $HW3_TAXI (fhv, green or yellow), else fhv."""
    name = os.environ.get("HW3_TAXI") or "fhv"
    if name not in COLUMNS:
        raise ValueError(f"HW3_TAXI={name!r} is not a trip type; use one of {', '.join(COLUMNS)}")
    return name


def categorical() -> list[str]:
    """The zone columns, the model's features (PUlocationID and DOlocationID for FHV trips)."""
    return list(COLUMNS[taxi()][2:])


def data_dir() -> Path:
    """Where the monthly trip files are: $HW3_DATA_DIR, else `data`."""
    return Path(os.environ.get("HW3_DATA_DIR") or "data")


def models_dir() -> Path:
    """Where the model and the DictVectorizer are saved: $HW3_MODELS_DIR, else `models`."""
    return Path(os.environ.get("HW3_MODELS_DIR") or "models")


@task
def read_data(path: str) -> pd.DataFrame:
    """One month of trips, as published."""
    return pd.read_parquet(path)


@task
def prepare_features(df: pd.DataFrame, categorical: list[str], train: bool = True) -> pd.DataFrame:
    """Add the trip duration in minutes, keep trips of 1 to 60 minutes and turn the
    location IDs into strings (a missing ID becomes "-1")."""
    logger = get_run_logger()
    pickup, dropoff = COLUMNS[taxi()][:2]
    minutes = (df[dropoff] - df[pickup]).dt.total_seconds() / 60
    df = df.assign(duration=minutes)
    df = df[df["duration"].between(1, 60)].copy()
    logger.info(f"mean duration of the {'training' if train else 'validation'} trips: {df['duration'].mean()} min")
    df[categorical] = df[categorical].fillna(-1).astype("int").astype("str")
    return df


@task
def train_model(df: pd.DataFrame, categorical: list[str]) -> tuple[LinearRegression, DictVectorizer]:
    """Fit the one-hot encoding and the linear regression on the training trips."""
    logger = get_run_logger()
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient="records"))
    y_train = df["duration"].to_numpy()
    logger.info(f"X_train has shape {X_train.shape}")
    logger.info(f"the DictVectorizer has {len(dv.feature_names_)} features")
    lr = LinearRegression().fit(X_train, y_train)
    # Like the course, we call it MSE, but it is the root of the mean squared error.
    mse = root_mean_squared_error(y_train, lr.predict(X_train))
    logger.info(f"training MSE: {mse}")
    return lr, dv


@task
def run_model(df: pd.DataFrame, categorical: list[str], dv: DictVectorizer, lr: LinearRegression) -> float:
    """Predict the validation trips; return the MSE (again the root of the mean squared error)."""
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient="records"))
    logger.info(f"X_val has shape {X_val.shape}")
    mse = root_mean_squared_error(df["duration"].to_numpy(), lr.predict(X_val))
    logger.info(f"validation MSE: {mse}")
    return float(mse)


def run_date(date: str | datetime.date | None) -> datetime.date:
    """The day a run is for: `date` as YYYY-MM-DD (or a date), today when None."""
    if date is None:
        return datetime.date.today()
    if isinstance(date, datetime.datetime):
        return date.date()
    if isinstance(date, datetime.date):
        return date
    if not isinstance(date, str):
        raise TypeError(f"date must be None, a date or a 'YYYY-MM-DD' string, not {type(date).__name__}: {date!r}")
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            raise ValueError("wrong format")
        return datetime.date.fromisoformat(date)
    except ValueError:
        raise ValueError(f"date {date!r} is not a day written as YYYY-MM-DD, e.g. '2021-08-15'") from None


@task
def get_paths(date: str | datetime.date | None = None) -> tuple[str, str]:
    """The files of the month two months before `date` (training) and of the month
    before it (validation)."""
    first_of_month = run_date(date).replace(day=1)
    train_month, val_month = (first_of_month - relativedelta(months=n) for n in (2, 1))
    return tuple(str(data_dir() / f"{taxi()}_tripdata_{month:%Y-%m}.parquet") for month in (train_month, val_month))


def check_month(path: str, day: datetime.date) -> None:
    """Fail with one clear message naming `path` unless it is a month of trips to learn from,
    before any task runs (a task's error would reach main only as an unfinished upstream run)."""
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"{path}: no such trip file; download that month into the folder (`hw3 data fetch {day}`)"
            " or point HW3_DATA_DIR at the folder that has it"
        )
    again = f"delete it and download the month again (`hw3 data fetch {day}`)"
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not parquet
        raise ValueError(f"{path}: not a readable parquet file ({exc}); {again}") from None
    pickup, dropoff, *zones = COLUMNS[taxi()]
    missing = [column for column in COLUMNS[taxi()] if column not in df.columns]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)}, so it is no {taxi()} trip file; {again}")
    wrong = [c for c in (pickup, dropoff) if not pd.api.types.is_datetime64_any_dtype(df[c])]
    wrong += [c for c in zones if not pd.api.types.is_numeric_dtype(df[c])]
    if wrong:
        raise ValueError(f"{path}: {', '.join(wrong)} should hold timestamps (times) and numbers (zones); {again}")
    if df.empty:
        raise ValueError(f"{path}: the file has no trips; {again}")
    if not ((df[dropoff] - df[pickup]).dt.total_seconds() / 60).between(1, 60).any():
        raise ValueError(f"{path}: no trip lasts 1 to 60 minutes, so nothing is left to learn from; {again}")


def save_pickle(obj: object, path: Path) -> None:
    """Pickle `obj` to `path` through a temporary file, so `path` is never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        try:
            pickle.dump(obj, tmp)
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, path)


@flow
def main(date: str | None = None) -> float:
    """Train on the month two months before `date`, validate on the month before, save
    `model-{date}.bin` and `dv-{date}.b`; return the validation MSE."""
    logger = get_run_logger()
    day = run_date(date)
    train_path, val_path = get_paths(date)
    for path in (train_path, val_path):
        check_month(path, day)

    # The two months are read and prepared concurrently; passing a future to a task waits for it.
    zones = categorical()
    df_train = prepare_features.submit(read_data.submit(train_path), zones)
    df_val = prepare_features.submit(read_data.submit(val_path), zones, train=False)

    # train_model returns two objects: its future must be resolved before they can be unpacked.
    lr, dv = train_model.submit(df_train, zones).result()
    val_mse = run_model(df_val, zones, dv, lr)  # called directly: waits and returns the figure

    for obj, name in ((lr, f"model-{day}.bin"), (dv, f"dv-{day}.b")):
        save_pickle(obj, models_dir() / name)
        logger.info(f"saved {models_dir() / name}")
    return val_mse


if __name__ == "__main__":
    main(date="2021-08-15")
