import pickle
from datetime import datetime, timedelta

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
    df['duration'] = df.dropOff_datetime - df.pickup_datetime
    df['duration'] = df.duration.dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()

    mean_duration = df.duration.mean()
    if train:
        logger.info(f"The mean duration of training is {mean_duration}")
    else:
        logger.info(f"The mean duration of validation is {mean_duration}")

    df[categorical] = df[categorical].fillna(-1).astype('int').astype('str')
    return df


@task
def train_model(df, categorical):
    logger = get_run_logger()
    train_dicts = df[categorical].to_dict(orient='records')
    dv = DictVectorizer()
    X_train = dv.fit_transform(train_dicts)
    y_train = df.duration.values

    logger.info(f"The shape of X_train is {X_train.shape}")
    logger.info(f"The DictVectorizer has {len(dv.feature_names_)} features")

    lr = LinearRegression()
    lr.fit(X_train, y_train)
    y_pred = lr.predict(X_train)
    mse = root_mean_squared_error(y_train, y_pred)
    logger.info(f"The MSE of training is: {mse}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    val_dicts = df[categorical].to_dict(orient='records')
    X_val = dv.transform(val_dicts)
    y_pred = lr.predict(X_val)
    y_val = df.duration.values

    mse = root_mean_squared_error(y_val, y_pred)
    logger.info(f"The MSE of validation is: {mse}")
    return mse


@task
def get_paths(date=None):
    if date is None:
        date = datetime.today()
    else:
        date = datetime.strptime(date, "%Y-%m-%d")
    # two months back ~ 60 days, one month back ~ 30 days
    train_date = date - timedelta(days=60)
    val_date = date - timedelta(days=30)
    train_path = f"./data/fhv_tripdata_{train_date.strftime('%Y-%m')}.parquet"
    val_path = f"./data/fhv_tripdata_{val_date.strftime('%Y-%m')}.parquet"
    return train_path, val_path


@flow
def main(date=None):
    categorical = ['PUlocationID', 'DOlocationID']
    if date is None:
        date = datetime.today().strftime("%Y-%m-%d")

    train_path, val_path = get_paths(date)

    df_train = read_data(train_path)
    df_train_processed = prepare_features(df_train, categorical).result()

    df_val = read_data(val_path)
    df_val_processed = prepare_features(df_val, categorical, False).result()

    lr, dv = train_model(df_train_processed, categorical)
    run_model(df_val_processed, categorical, dv, lr)

    with open(f"models/model-{date}.bin", "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(f"models/dv-{date}.b", "wb") as f_out:
        pickle.dump(dv, f_out)


if __name__ == "__main__":
    main(date="2021-08-15")
