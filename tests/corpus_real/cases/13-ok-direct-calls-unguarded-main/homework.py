import pickle
from datetime import datetime

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect import get_run_logger
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error


def get_month(year, month, offset):
    """shift (year, month) back by `offset` months"""
    month = month - offset
    if month <= 0:
        month = month + 12
        year = year - 1
    return year, month


@task
def get_paths(date=None):
    if date is None:
        date = datetime.now().strftime("%Y-%m-%d")
    d = datetime.strptime(date, "%Y-%m-%d")

    train_year, train_month = get_month(d.year, d.month, 2)
    val_year, val_month = get_month(d.year, d.month, 1)

    train_path = "./data/fhv_tripdata_%d-%02d.parquet" % (train_year, train_month)
    val_path = "./data/fhv_tripdata_%d-%02d.parquet" % (val_year, val_month)
    return train_path, val_path


@task
def read_data(path):
    return pd.read_parquet(path)


@task
def prepare_features(df, categorical, train=True):
    logger = get_run_logger()
    df = df.copy()
    df['duration'] = df.dropOff_datetime - df.pickup_datetime
    df['duration'] = df.duration.dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    name = 'training' if train else 'validation'
    logger.info(f"The mean duration of {name} is {df.duration.mean()}")
    df[categorical] = df[categorical].fillna(-1).astype('int').astype('str')
    return df


@task
def train_model(df, categorical):
    logger = get_run_logger()
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient='records'))
    y_train = df.duration.values
    logger.info(f"The shape of X_train is {X_train.shape}")
    logger.info(f"The DictVectorizer has {len(dv.feature_names_)} features")
    lr = LinearRegression()
    lr.fit(X_train, y_train)
    mse = np.sqrt(mean_squared_error(y_train, lr.predict(X_train)))
    logger.info(f"The MSE of training is: {mse}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient='records'))
    y_val = df.duration.values
    mse = np.sqrt(mean_squared_error(y_val, lr.predict(X_val)))
    # warning so it stands out in the UI
    logger.warning(f"The MSE of validation is: {mse}")
    return mse


@flow
def main(date=None):
    if date is None:
        date = datetime.now().strftime("%Y-%m-%d")
    categorical = ['PUlocationID', 'DOlocationID']

    train_path, val_path = get_paths(date)

    df_train = read_data(train_path)
    df_train_processed = prepare_features(df_train, categorical)

    df_val = read_data(val_path)
    df_val_processed = prepare_features(df_val, categorical, False)

    lr, dv = train_model(df_train_processed, categorical)
    run_model(df_val_processed, categorical, dv, lr)

    with open(f'./models/model-{date}.bin', 'wb') as f_out:
        pickle.dump(lr, f_out)
    with open(f'./models/dv-{date}.b', 'wb') as f_out:
        pickle.dump(dv, f_out)


main(date="2021-08-15")
