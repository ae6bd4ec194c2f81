import os
import pickle
import urllib.request
from datetime import date as dt_date, datetime

import pandas as pd
from prefect import flow, get_run_logger, task
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

URL = "https://nyc-tlc.s3.amazonaws.com/trip+data/fhv_tripdata_{}.parquet"
DATA_DIR = "./data"


def month_before(year, month, n):
    """(year, month) n months before (year, month)"""
    idx = month - 1 - n
    return year + idx // 12, idx % 12 + 1


def fetch(ym):
    path = os.path.join(DATA_DIR, f"fhv_tripdata_{ym}.parquet")
    if not os.path.exists(path):
        os.makedirs(DATA_DIR, exist_ok=True)
        urllib.request.urlretrieve(URL.format(ym), path)
    return path


@task
def get_paths(date=None):
    day = dt_date.today() if date is None else datetime.strptime(date, "%Y-%m-%d").date()
    paths = []
    for n in (2, 1):
        y, m = month_before(day.year, day.month, n)
        paths.append(fetch(f"{y}-{m:02d}"))
    train_path, val_path = paths
    return train_path, val_path


@task
def read_data(path):
    return pd.read_parquet(path)


@task
def prepare_features(df, categorical, train=True):
    logger = get_run_logger()
    df = df.copy()
    df["duration"] = (df.dropOff_datetime - df.pickup_datetime).dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    logger.info(f"The mean duration of {'training' if train else 'validation'} is {df.duration.mean()}")
    df[categorical] = df[categorical].fillna(-1).astype("int").astype("str")
    return df


@task
def train_model(df, categorical):
    logger = get_run_logger()
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient="records"))
    y_train = df.duration.values
    logger.info(f"The shape of X_train is {X_train.shape}")
    logger.info(f"The DictVectorizer has {len(dv.feature_names_)} features")
    lr = LinearRegression().fit(X_train, y_train)
    logger.info(f"The MSE of training is: {root_mean_squared_error(y_train, lr.predict(X_train))}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient="records"))
    mse = root_mean_squared_error(df.duration.values, lr.predict(X_val))
    logger.info(f"The MSE of validation is: {mse}")
    return mse


@flow(name="hw3")
def main(date=None):
    categorical = ["PUlocationID", "DOlocationID"]
    stamp = date or dt_date.today().isoformat()

    train_path, val_path = get_paths(date)
    df_train = prepare_features(read_data(train_path), categorical)
    df_val = prepare_features(read_data(val_path), categorical, False)

    lr, dv = train_model(df_train, categorical)
    run_model(df_val, categorical, dv, lr)

    with open(f"models/model-{stamp}.bin", "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(f"models/dv-{stamp}.b", "wb") as f_out:
        pickle.dump(dv, f_out)


if __name__ == "__main__":
    main(date="2021-08-15")
    print(os.path.getsize("models/dv-2021-08-15.b"), "bytes")
