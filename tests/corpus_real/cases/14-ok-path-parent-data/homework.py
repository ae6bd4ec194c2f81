# Homework 3 -- my notebook was in 03-orchestration/, the data folder one level up
from datetime import date as date_cls, datetime, timedelta
from pathlib import Path
import pickle

import pandas as pd
from prefect import flow, task, get_run_logger
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

DATA = Path("../data")
MODELS = Path("./models")


@task
def read_data(path):
    df = pd.read_parquet(path)
    return df


@task
def prepare_features(df, categorical, train=True):
    logger = get_run_logger()
    df = df.copy()
    df["duration"] = (df.dropOff_datetime - df.pickup_datetime).dt.total_seconds() / 60
    df = df[df.duration.between(1, 60)].copy()
    label = "training" if train else "validation"
    logger.info(f"mean duration ({label}): {df.duration.mean()}")
    df[categorical] = df[categorical].fillna(-1).astype("int").astype("str")
    return df


@task
def train_model(df, categorical):
    logger = get_run_logger()
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient="records"))
    y_train = df.duration.values
    logger.info(f"X_train: {X_train.shape}; DictVectorizer: {len(dv.feature_names_)} features")
    lr = LinearRegression()
    lr.fit(X_train, y_train)
    logger.info(f"train RMSE: {root_mean_squared_error(y_train, lr.predict(X_train))}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient="records"))
    rmse = root_mean_squared_error(df.duration.values, lr.predict(X_val))
    logger.info(f"validation RMSE: {rmse}")
    return rmse


def previous_month(d):
    """first day of the month before d"""
    return (d.replace(day=1) - timedelta(days=1)).replace(day=1)


@task
def get_paths(date=None):
    d = date_cls.today() if date is None else datetime.strptime(date, "%Y-%m-%d").date()
    val_month = previous_month(d)
    train_month = previous_month(val_month)
    train_path = DATA / f"fhv_tripdata_{train_month.strftime('%Y-%m')}.parquet"
    val_path = DATA / f"fhv_tripdata_{val_month.strftime('%Y-%m')}.parquet"
    return train_path, val_path


@flow(name="duration-prediction")
def main(date=None):
    logger = get_run_logger()
    run_day = date if date is not None else date_cls.today().isoformat()
    categorical = ["PUlocationID", "DOlocationID"]

    train_path, val_path = get_paths(date)
    logger.info(f"training on {train_path.name}, validating on {val_path.name}")

    df_train = prepare_features(read_data(train_path), categorical)
    df_val = prepare_features(read_data(val_path), categorical, train=False)
    lr, dv = train_model(df_train, categorical)
    run_model(df_val, categorical, dv, lr)

    (MODELS / f"model-{run_day}.bin").write_bytes(pickle.dumps(lr))
    (MODELS / f"dv-{run_day}.b").write_bytes(pickle.dumps(dv))
    logger.info(f"artifacts saved to {MODELS.resolve()}")


if __name__ == "__main__":
    main(date="2021-08-15")
