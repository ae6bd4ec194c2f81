"""
Week 3 homework - prefect orchestration
Requirements (from the homework text):
  * model saved as model-{date}.pkl, DictVectorizer as dv-{date}.pkl
"""
import os
import pickle
from datetime import date as Date

import pandas as pd
from dateutil.relativedelta import relativedelta
from prefect import flow, task, get_run_logger
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

MODEL_DIR = "models"


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


@task
def get_paths(date=None):
    d = Date.today() if date is None else Date.fromisoformat(date)
    train = d - relativedelta(months=2)
    val = d - relativedelta(months=1)
    return (
        f"./data/fhv_tripdata_{train.year}-{train.month:02d}.parquet",
        f"./data/fhv_tripdata_{val.year}-{val.month:02d}.parquet",
    )


@flow
def main(date=None):
    categorical = ["PUlocationID", "DOlocationID"]
    date = date or Date.today().isoformat()
    train_path, val_path = get_paths(date)

    df_train = prepare_features(read_data(train_path), categorical)
    df_val = prepare_features(read_data(val_path), categorical, False)
    lr, dv = train_model(df_train, categorical)
    run_model(df_val, categorical, dv, lr)

    with open(os.path.join(MODEL_DIR, f"model-{date}.pkl"), "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(os.path.join(MODEL_DIR, f"dv-{date}.pkl"), "wb") as f_out:
        pickle.dump(dv, f_out)


if __name__ == "__main__":
    main(date="2021-08-15")
