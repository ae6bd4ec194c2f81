"""MLOps zoomcamp hw3 - training flow (prefect 2.4 + mlflow)"""
import pickle
from datetime import datetime

import mlflow
import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta
from prefect import flow, get_run_logger, task
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

mlflow.set_tracking_uri("sqlite:///mlflow.db")
mlflow.set_experiment("nyc-fhv-orchestration")


@task
def read_data(path):
    df = pd.read_parquet(path)
    return df


@task
def prepare_features(df, categorical, train=True):
    logger = get_run_logger()
    df["duration"] = df.dropOff_datetime - df.pickup_datetime
    df["duration"] = df.duration.dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    logger.info(f"mean duration ({'train' if train else 'val'}): {df.duration.mean():.3f}")
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
    lr = LinearRegression()
    lr.fit(X_train, y_train)
    rmse = np.sqrt(mean_squared_error(y_train, lr.predict(X_train)))
    logger.info(f"The MSE of training is: {rmse}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient="records"))
    y_pred = lr.predict(X_val)
    rmse = np.sqrt(mean_squared_error(df.duration.values, y_pred))
    logger.info(f"The MSE of validation is: {rmse}")
    return rmse


@task
def get_paths(date):
    if date:
        ref = datetime.strptime(date, "%Y-%m-%d")
    else:
        ref = datetime.now()
    train_month = (ref - relativedelta(months=2)).strftime("%Y-%m")
    val_month = (ref - relativedelta(months=1)).strftime("%Y-%m")
    return (f"./data/fhv_tripdata_{train_month}.parquet",
            f"./data/fhv_tripdata_{val_month}.parquet")


@flow
def main(date=None):
    categorical = ["PUlocationID", "DOlocationID"]
    date_str = date or datetime.now().strftime("%Y-%m-%d")

    train_path, val_path = get_paths(date)

    with mlflow.start_run():
        mlflow.set_tag("developer", "me")
        mlflow.log_param("train_data", train_path)
        mlflow.log_param("val_data", val_path)

        df_train = prepare_features(read_data(train_path), categorical)
        df_val = prepare_features(read_data(val_path), categorical, False)

        lr, dv = train_model(df_train, categorical).result()
        rmse = run_model(df_val, categorical, dv, lr)
        mlflow.log_metric("rmse", rmse)

        with open(f"models/model-{date_str}.bin", "wb") as f_out:
            pickle.dump(lr, f_out)
        with open(f"models/dv-{date_str}.b", "wb") as f_out:
            pickle.dump(dv, f_out)


main(date="2021-08-15")
