from __future__ import annotations

import pickle
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from dateutil.relativedelta import relativedelta
from prefect import flow, get_run_logger, task
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

DATA_DIR = Path("data")
MODELS_DIR = Path("models")
CATEGORICAL = ["PUlocationID", "DOlocationID"]


@task
def read_data(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


@task
def prepare_features(df: pd.DataFrame, categorical: list[str], train: bool = True) -> pd.DataFrame:
    logger = get_run_logger()
    df = df.copy()
    df["duration"] = (df["dropOff_datetime"] - df["pickup_datetime"]).dt.total_seconds() / 60
    df = df[(df["duration"] >= 1) & (df["duration"] <= 60)].copy()
    logger.info("mean duration (%s): %.4f", "train" if train else "val", df["duration"].mean())
    df[categorical] = df[categorical].fillna(-1).astype("int").astype("str")
    return df


@task
def train_model(df: pd.DataFrame, categorical: list[str]):
    logger = get_run_logger()
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient="records"))
    y_train = df["duration"].values
    logger.info("X_train shape: %s", X_train.shape)
    logger.info("DictVectorizer features: %d", len(dv.feature_names_))
    lr = LinearRegression()
    lr.fit(X_train, y_train)
    rmse = mean_squared_error(y_train, lr.predict(X_train), squared=False)
    logger.info("training MSE: %s", rmse)
    return lr, dv


@task
def run_model(df: pd.DataFrame, categorical: list[str], dv: DictVectorizer, lr: LinearRegression) -> float:
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient="records"))
    rmse = mean_squared_error(df["duration"].values, lr.predict(X_val), squared=False)
    logger.info("validation MSE: %s", rmse)
    return rmse


@task
def get_paths(date: str | None = None) -> tuple[Path, Path]:
    day = date_from_param(date)
    months = [day - relativedelta(months=n) for n in (2, 1)]
    return tuple(DATA_DIR / f"fhv_tripdata_{m:%Y-%m}.parquet" for m in months)


def date_from_param(value: str | None) -> date:
    return date.today() if value is None else datetime.strptime(value, "%Y-%m-%d").date()


@flow(name="ride-duration-monthly")
def main(date: str | None = None) -> float:
    day = date_from_param(date)
    train_path, val_path = get_paths(date)

    df_train = prepare_features(read_data(train_path), CATEGORICAL)
    df_val = prepare_features(read_data(val_path), CATEGORICAL, train=False)
    lr, dv = train_model(df_train, CATEGORICAL)
    rmse = run_model(df_val, CATEGORICAL, dv, lr)

    with open(MODELS_DIR / f"model-{day:%Y-%m-%d}.bin", "wb") as fh:
        pickle.dump(lr, fh)
    with open(MODELS_DIR / f"dv-{day:%Y-%m-%d}.b", "wb") as fh:
        pickle.dump(dv, fh)
    return rmse


if __name__ == "__main__":
    main(date="2021-08-15")
