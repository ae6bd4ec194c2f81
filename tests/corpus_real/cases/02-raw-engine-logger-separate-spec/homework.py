# Homework 3 - orchestration with Prefect (prefect==2.0b5)
# run: python homework.py   (needs `prefect orion start` in another terminal for the UI)
import pickle
from datetime import datetime

import pandas as pd
from prefect import flow, task
from prefect.engine import get_run_logger
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

CATEGORICAL = ['PUlocationID', 'DOlocationID']


@task
def read_data(path):
    return pd.read_parquet(path)


@task
def prepare_features(df, categorical, train=True):
    logger = get_run_logger()
    df['duration'] = (df.dropOff_datetime - df.pickup_datetime).dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    kind = "training" if train else "validation"
    logger.info(f"mean duration of {kind}: {df.duration.mean()}")
    df[categorical] = df[categorical].fillna(-1).astype('int').astype('str')
    return df


@task
def train_model(df, categorical):
    logger = get_run_logger()
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient='records'))
    y_train = df.duration.values
    logger.info(f"X_train: {X_train.shape}, {len(dv.feature_names_)} features")

    lr = LinearRegression()
    lr.fit(X_train, y_train)
    mse = mean_squared_error(y_train, lr.predict(X_train), squared=False)
    logger.info(f"training MSE: {mse}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient='records'))
    y_val = df.duration.values
    mse = mean_squared_error(y_val, lr.predict(X_val), squared=False)
    logger.info(f"validation MSE: {mse}")
    return mse


def get_month(dt, months_back):
    """(year, month) of the month `months_back` months before dt"""
    year = dt.year
    month = dt.month - months_back
    while month < 1:
        month += 12
        year -= 1
    return year, month


@task
def get_paths(date=None):
    if date is None:
        dt = datetime.today()
    else:
        dt = datetime.strptime(date, "%Y-%m-%d")
    ty, tm = get_month(dt, 2)
    vy, vm = get_month(dt, 1)
    train_path = f"./data/fhv_tripdata_{ty}-{tm:02d}.parquet"
    val_path = f"./data/fhv_tripdata_{vy}-{vm:02d}.parquet"
    return train_path, val_path


@flow(name="nyc-fhv-duration")
def main(date=None):
    if date is None:
        date = datetime.today().strftime("%Y-%m-%d")

    train_path, val_path = get_paths(date).result()

    df_train = prepare_features(read_data(train_path), CATEGORICAL).result()
    df_val = prepare_features(read_data(val_path), CATEGORICAL, False).result()

    lr, dv = train_model(df_train, CATEGORICAL).result()
    run_model(df_val, CATEGORICAL, dv, lr)

    with open(f"./models/model-{date}.bin", "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(f"./models/dv-{date}.b", "wb") as f_out:
        pickle.dump(dv, f_out)


if __name__ == "__main__":
    main(date="2021-08-15")
