import pickle
from datetime import datetime

import pandas as pd
from dateutil.relativedelta import relativedelta
from prefect import flow, task, get_run_logger
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error


def to_datetime(date):
    if date is None:
        return datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return datetime.strptime(date, "%Y-%m-%d")


@task
def get_paths(date=None):
    date = to_datetime(date)
    train = date - relativedelta(months=2)
    val = date - relativedelta(months=1)
    return (f"./data/fhv_tripdata_{train.year}-{train.month:02}.parquet",
            f"./data/fhv_tripdata_{val.year}-{val.month:02}.parquet")


@task
def read_data(path):
    return pd.read_parquet(path)


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
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient='records'))
    y_train = df.duration.values
    logger.info(f"The shape of X_train is {X_train.shape}")
    logger.info(f"The DictVectorizer has {len(dv.feature_names_)} features")
    lr = LinearRegression()
    lr.fit(X_train, y_train)
    logger.info(f"The MSE of training is: {root_mean_squared_error(y_train, lr.predict(X_train))}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient='records'))
    mse = root_mean_squared_error(df.duration.values, lr.predict(X_val))
    logger.info(f"The MSE of validation is: {mse}")
    return mse


@flow
def main(date=None):
    run_date = to_datetime(date)
    categorical = ['PUlocationID', 'DOlocationID']

    train_path, val_path = get_paths(date)
    df_train = prepare_features(read_data(train_path), categorical)
    df_val = prepare_features(read_data(val_path), categorical, False)

    lr, dv = train_model(df_train, categorical)
    run_model(df_val, categorical, dv, lr)

    # model-{date}.bin / dv-{date}.b
    with open(f"models/model-{run_date}.bin", "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(f"models/dv-{run_date}.b", "wb") as f_out:
        pickle.dump(dv, f_out)


if __name__ == "__main__":
    main(date="2021-08-15")
