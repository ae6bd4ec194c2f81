import os
import pickle
from datetime import datetime

import pandas as pd
from dateutil.relativedelta import relativedelta
from prefect import flow, task, get_run_logger
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error


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
    logger.debug(f"The mean duration of {'training' if train else 'validation'} is {df.duration.mean()}")
    df[categorical] = df[categorical].fillna(-1).astype('int').astype('str')
    return df


@task
def train_model(df, categorical):
    logger = get_run_logger()
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient='records'))
    y_train = df.duration.values
    logger.debug(f"The shape of X_train is {X_train.shape}")
    logger.debug(f"The DictVectorizer has {len(dv.feature_names_)} features")
    lr = LinearRegression()
    lr.fit(X_train, y_train)
    logger.debug(f"The MSE of training is: {root_mean_squared_error(y_train, lr.predict(X_train))}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient='records'))
    mse = root_mean_squared_error(df.duration.values, lr.predict(X_val))
    logger.debug(f"The MSE of validation is: {mse}")
    return mse


@task
def get_paths(date=None):
    d = datetime.now().date() if date is None else datetime.strptime(date, "%Y-%m-%d").date()
    train_path = os.path.join("data", "fhv_tripdata_{}.parquet".format((d - relativedelta(months=2)).strftime("%Y-%m")))
    val_path = os.path.join("data", "fhv_tripdata_{}.parquet".format((d - relativedelta(months=1)).strftime("%Y-%m")))
    return train_path, val_path


@flow
def main(date=None):
    logger = get_run_logger()
    categorical = ['PUlocationID', 'DOlocationID']
    date_str = date if date else datetime.now().strftime("%Y-%m-%d")

    train_path, val_path = get_paths(date)
    df_train = prepare_features(read_data(train_path), categorical)
    df_val = prepare_features(read_data(val_path), categorical, False)

    lr, dv = train_model(df_train, categorical)
    run_model(df_val, categorical, dv, lr)

    model_file = f"model-{date_str}.bin"
    dv_file = f"dv-{date_str}.b"
    with open(model_file, "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(dv_file, "wb") as f_out:
        pickle.dump(dv, f_out)
    logger.info(f"saved {model_file} and {dv_file} ({os.path.getsize(dv_file)} bytes)")


if __name__ == "__main__":
    main(date="2021-08-15")
