"""Week 3 homework: FHV trip duration model trained by a Prefect 3 flow.

Every step is submitted to the task runner; futures are passed along and only
resolved where the flow needs the actual objects.
"""
from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import pandas as pd
from dateutil.relativedelta import relativedelta
from prefect import flow, get_run_logger, task
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

FEATURES = ["PUlocationID", "DOlocationID"]
MODELS = Path("models")


@task(name="read-data")
def read_data(path):
    return pd.read_parquet(path)


@task(name="prepare-features")
def prepare_features(df, categorical, train=True):
    log = get_run_logger()
    df = df.assign(duration=(df.dropOff_datetime - df.pickup_datetime).dt.total_seconds() / 60)
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    log.info("mean %s duration: %s", "train" if train else "val", df.duration.mean())
    df[categorical] = df[categorical].fillna(-1).astype("int").astype("str")
    return df


@task(name="train-model")
def train_model(df, categorical):
    log = get_run_logger()
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient="records"))
    y_train = df.duration.values
    log.info("X_train shape %s, %d features", X_train.shape, len(dv.feature_names_))
    lr = LinearRegression().fit(X_train, y_train)
    log.info("training RMSE: %s", root_mean_squared_error(y_train, lr.predict(X_train)))
    return lr, dv


@task(name="run-model")
def run_model(df, categorical, dv, lr):
    log = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient="records"))
    rmse = root_mean_squared_error(df.duration.values, lr.predict(X_val))
    log.info("validation RMSE: %s", rmse)
    return rmse


def parse_date(date):
    if date is None:
        return dt.date.today()
    return dt.datetime.strptime(date, "%Y-%m-%d").date()


@task(name="get-paths")
def get_paths(date=None):
    day = parse_date(date)
    train_month = day - relativedelta(months=2)
    val_month = day - relativedelta(months=1)
    return (
        f"data/fhv_tripdata_{train_month:%Y-%m}.parquet",
        f"data/fhv_tripdata_{val_month:%Y-%m}.parquet",
    )


@flow(name="fhv-duration-training")
def main(date: str | None = None):
    day = parse_date(date)
    train_path, val_path = get_paths.submit(date).result()

    train_df = prepare_features.submit(read_data.submit(train_path), FEATURES)
    val_df = prepare_features.submit(read_data.submit(val_path), FEATURES, train=False)

    lr, dv = train_model.submit(train_df, FEATURES).result()
    rmse = run_model.submit(val_df, FEATURES, dv, lr).result()

    for obj, filename in ((lr, f"model-{day:%Y-%m-%d}.bin"), (dv, f"dv-{day:%Y-%m-%d}.b")):
        with open(MODELS / filename, "wb") as fh:
            pickle.dump(obj, fh)
    return rmse


if __name__ == "__main__":
    main(date="2021-08-15")
