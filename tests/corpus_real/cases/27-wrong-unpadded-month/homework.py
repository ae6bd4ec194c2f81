# MLOps Zoomcamp - homework 3
# data lives in ../data (shared with week 1 and 2)
import pickle
import datetime

import pandas as pd
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error
from prefect import flow, task, get_run_logger


@task
def read_data(path):
    df = pd.read_parquet(path)
    return df


@task
def prepare_features(df, categorical, train=True):
    logger = get_run_logger()
    df = df.copy()
    df['duration'] = df.dropOff_datetime - df.pickup_datetime
    df['duration'] = df.duration.dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    logger.info(f"The mean duration of {'training' if train else 'validation'} is {df.duration.mean()}")
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
    mse = root_mean_squared_error(y_train, lr.predict(X_train))
    logger.info(f"The MSE of training is: {mse}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient='records'))
    mse = root_mean_squared_error(df.duration.values, lr.predict(X_val))
    logger.info(f"The MSE of validation is: {mse}")
    return mse


@task
def get_paths(date=None):
    if date is None:
        d = datetime.date.today()
    else:
        d = datetime.datetime.strptime(date, "%Y-%m-%d").date()

    train_year, train_month = d.year, d.month - 2
    val_year, val_month = d.year, d.month - 1
    if train_month < 1:
        train_year, train_month = train_year - 1, train_month + 12
    if val_month < 1:
        val_year, val_month = val_year - 1, val_month + 12

    train_path = f"../data/fhv_tripdata_{train_year}-{train_month}.parquet"
    val_path = f"../data/fhv_tripdata_{val_year}-{val_month}.parquet"
    return train_path, val_path


@flow
def main(date=None):
    categorical = ['PUlocationID', 'DOlocationID']
    if date is None:
        date = datetime.date.today().isoformat()
    train_path, val_path = get_paths(date)

    df_train = prepare_features(read_data(train_path), categorical)
    df_val = prepare_features(read_data(val_path), categorical, False)
    lr, dv = train_model(df_train, categorical)
    run_model(df_val, categorical, dv, lr)

    with open(f"./models/model-{date}.bin", "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(f"./models/dv-{date}.b", "wb") as f_out:
        pickle.dump(dv, f_out)


if __name__ == "__main__":
    main(date="2021-08-15")
