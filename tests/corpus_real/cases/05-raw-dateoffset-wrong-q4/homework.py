import pickle
import datetime as dt

import pandas as pd
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

from prefect import flow, task, get_run_logger
from prefect.task_runners import SequentialTaskRunner
from prefect.deployments import DeploymentSpec
from prefect.orion.schemas.schedules import CronSchedule
from prefect.flow_runners import SubprocessFlowRunner


@task
def read_data(path):
    df = pd.read_parquet(path)
    print(f"read {len(df)} rows from {path}")
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
    print(f"The shape of X_train is {X_train.shape}")
    logger.info(f"The DictVectorizer has {len(dv.feature_names_)} features")

    lr = LinearRegression()
    lr.fit(X_train, y_train)
    y_pred = lr.predict(X_train)
    mse = mean_squared_error(y_train, y_pred, squared=False)
    logger.info(f"The MSE of training is: {mse}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    val_dicts = df[categorical].to_dict(orient='records')
    X_val = dv.transform(val_dicts)
    y_pred = lr.predict(X_val)
    y_val = df.duration.values
    mse = mean_squared_error(y_val, y_pred, squared=False)
    logger.info(f"The MSE of validation is: {mse}")
    return mse


@task
def get_paths(date=None):
    if date is None:
        date = dt.date.today().strftime("%Y-%m-%d")
    ts = pd.to_datetime(date)
    train_month = (ts - pd.DateOffset(months=2)).strftime("%Y-%m")
    val_month = (ts - pd.DateOffset(months=1)).strftime("%Y-%m")
    return f"./data/fhv_tripdata_{train_month}.parquet", f"./data/fhv_tripdata_{val_month}.parquet"


@flow(name="hw3-training", task_runner=SequentialTaskRunner())
def main(date=None):
    if date is None:
        date = dt.date.today().strftime("%Y-%m-%d")
    categorical = ['PUlocationID', 'DOlocationID']
    train_path, val_path = get_paths(date).result()

    df_train_processed = prepare_features(read_data(train_path), categorical)
    df_val_processed = prepare_features(read_data(val_path), categorical, False)

    lr, dv = train_model(df_train_processed, categorical).result()
    run_model(df_val_processed, categorical, dv, lr)

    pickle.dump(lr, open(f"./models/model-{date}.bin", "wb"))
    pickle.dump(dv, open(f"./models/dv-{date}.b", "wb"))


DeploymentSpec(
    flow=main,
    name="monthly-retrain",
    schedule=CronSchedule(cron="9 15 * * *"),
    flow_runner=SubprocessFlowRunner(),
    tags=["hw3", "fhv"],
)
