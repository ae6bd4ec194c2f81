"""FHV duration model, retrained monthly (MLOps Zoomcamp week 3, Prefect 3)."""
import datetime
import pickle
from typing import Optional, Tuple

import pandas as pd
from prefect import flow, task, get_run_logger
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

CATEGORICAL = ["PUlocationID", "DOlocationID"]


def to_day(date: Optional[str]) -> datetime.date:
    if date is None:
        return datetime.date.today()
    return datetime.date.fromisoformat(date)


@task
def get_paths(date: Optional[str] = None) -> Tuple[str, str]:
    first = pd.Timestamp(to_day(date).replace(day=1))
    train_month = first - pd.offsets.MonthBegin(2)
    val_month = first - pd.offsets.MonthBegin(1)
    return (
        "data/fhv_tripdata_" + train_month.strftime("%Y-%m") + ".parquet",
        "data/fhv_tripdata_" + val_month.strftime("%Y-%m") + ".parquet",
    )


@task
def read_data(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)


@task
def prepare_features(df: pd.DataFrame, categorical, train: bool = True) -> pd.DataFrame:
    logger = get_run_logger()
    duration = (df["dropOff_datetime"] - df["pickup_datetime"]).dt.total_seconds() / 60
    df = df.assign(duration=duration)
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    logger.info(f"{'train' if train else 'validation'} set: {len(df)} trips, "
                f"mean duration {df.duration.mean()}")
    df[categorical] = df[categorical].fillna(-1).astype("int").astype("str")
    return df


@task
def train_model(df: pd.DataFrame, categorical):
    logger = get_run_logger()
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient="records"))
    y_train = df["duration"].values
    logger.info(f"X_train {X_train.shape}, {len(dv.feature_names_)} features in the DictVectorizer")
    lr = LinearRegression()
    lr.fit(X_train, y_train)
    logger.info(f"training MSE: {root_mean_squared_error(y_train, lr.predict(X_train))}")
    return lr, dv


@task
def run_model(df: pd.DataFrame, categorical, dv, lr) -> float:
    X_val = dv.transform(df[categorical].to_dict(orient="records"))
    y_pred = lr.predict(X_val)
    return float(root_mean_squared_error(df["duration"].values, y_pred))


def dump(obj, path):
    with open(path, "wb") as fh:
        pickle.dump(obj, fh)


@flow(name="monthly-fhv-training", retries=0)
def main(date: Optional[str] = None) -> float:
    logger = get_run_logger()
    day = to_day(date)
    train_path, val_path = get_paths(date)

    df_train = prepare_features(read_data(train_path), CATEGORICAL)
    df_val = prepare_features(read_data(val_path), CATEGORICAL, train=False)
    lr, dv = train_model(df_train, CATEGORICAL)

    val_mse = run_model(df_val, CATEGORICAL, dv, lr)
    logger.info(f"validation MSE: {val_mse}")

    dump(lr, f"models/model-{day.isoformat()}.bin")
    dump(dv, f"models/dv-{day.isoformat()}.b")
    return val_mse


if __name__ == "__main__":
    main("2021-08-15")
