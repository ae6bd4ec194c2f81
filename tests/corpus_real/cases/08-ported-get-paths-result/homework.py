import os
import pickle
import datetime

import pandas as pd
from dateutil.relativedelta import relativedelta

from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error  # squared=False was removed

from prefect import flow, task, get_run_logger


@task
def read_data(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)


@task
def prepare_features(df: pd.DataFrame, categorical: list, train: bool = True) -> pd.DataFrame:
    logger = get_run_logger()
    df = df.copy()
    df["duration"] = (df["dropOff_datetime"] - df["pickup_datetime"]).dt.total_seconds() / 60
    df = df[(df["duration"] >= 1) & (df["duration"] <= 60)].copy()
    what = "training" if train else "validation"
    logger.info(f"The mean duration of {what} is {df['duration'].mean()}")
    df[categorical] = df[categorical].fillna(-1).astype("int").astype("str")
    return df


@task
def train_model(df: pd.DataFrame, categorical: list):
    logger = get_run_logger()
    dv = DictVectorizer()
    X_train = dv.fit_transform(df[categorical].to_dict(orient="records"))
    y_train = df["duration"].values
    logger.info(f"The shape of X_train is {X_train.shape}")
    logger.info(f"The DictVectorizer has {len(dv.feature_names_)} features")

    lr = LinearRegression()
    lr.fit(X_train, y_train)
    rmse = root_mean_squared_error(y_train, lr.predict(X_train))
    logger.info(f"The MSE of training is: {rmse}")
    return lr, dv


@task
def run_model(df: pd.DataFrame, categorical: list, dv, lr) -> float:
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient="records"))
    rmse = root_mean_squared_error(df["duration"].values, lr.predict(X_val))
    logger.info(f"The MSE of validation is: {rmse}")
    return rmse


@task
def get_paths(date=None):
    """date: 'YYYY-MM-DD' or None -> (train_path, val_path)"""
    if date is None:
        day = datetime.date.today()
    else:
        day = datetime.datetime.strptime(date, "%Y-%m-%d").date()
    train = day - relativedelta(months=2)
    val = day - relativedelta(months=1)
    train_path = os.path.join("data", f"fhv_tripdata_{train.strftime('%Y-%m')}.parquet")
    val_path = os.path.join("data", f"fhv_tripdata_{val.strftime('%Y-%m')}.parquet")
    return train_path, val_path


@flow(name="homework-3")
def main(date: str = None):
    categorical = ["PUlocationID", "DOlocationID"]
    # as in the homework text
    train_path, val_path = get_paths(date).result()

    df_train = prepare_features(read_data(train_path), categorical)
    df_val = prepare_features(read_data(val_path), categorical, False)

    lr, dv = train_model(df_train, categorical)
    run_model(df_val, categorical, dv, lr)

    if date is None:
        date = datetime.date.today().strftime("%Y-%m-%d")
    with open(os.path.join("models", f"model-{date}.bin"), "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(os.path.join("models", f"dv-{date}.b"), "wb") as f_out:
        pickle.dump(dv, f_out)


if __name__ == "__main__":
    main(date="2021-08-15")
