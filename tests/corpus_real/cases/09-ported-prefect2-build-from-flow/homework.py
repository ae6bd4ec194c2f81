"""
Homework week 3 (redone in 2023 with prefect 2.10).
Train on month M-2, validate on M-1.
"""
import pickle
from datetime import datetime

import pandas as pd
from prefect import flow, task, get_run_logger
from prefect.task_runners import SequentialTaskRunner
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

DATA_DIR = "./data"
MODEL_DIR = "./models"


@task(retries=2)
def read_data(path):
    return pd.read_parquet(path)


@task
def prepare_features(df, categorical, train=True):
    logger = get_run_logger()
    df['duration'] = (df.dropOff_datetime - df.pickup_datetime).apply(lambda td: td.total_seconds() / 60)
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
    rmse = mean_squared_error(y_train, lr.predict(X_train)) ** 0.5
    logger.info(f"The MSE of training is: {rmse}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient='records'))
    rmse = mean_squared_error(df.duration.values, lr.predict(X_val)) ** 0.5
    logger.info(f"The MSE of validation is: {rmse}")
    return rmse


def months_back(year, month, n):
    idx = year * 12 + (month - 1) - n
    y, m = divmod(idx, 12)
    return y, m + 1


@task
def get_paths(date=None):
    ref = datetime.now() if date is None else datetime.strptime(date, "%Y-%m-%d")
    paths = []
    for n in (2, 1):
        y, m = months_back(ref.year, ref.month, n)
        paths.append(f"{DATA_DIR}/fhv_tripdata_{y:04d}-{m:02d}.parquet")
    return paths[0], paths[1]


@flow(name="fhv-training", task_runner=SequentialTaskRunner())
def main(date=None):
    categorical = ['PUlocationID', 'DOlocationID']
    run_date = date if date else datetime.now().strftime("%Y-%m-%d")

    train_path, val_path = get_paths(date)
    df_train = prepare_features(read_data(train_path), categorical)
    df_val = prepare_features(read_data(val_path), categorical, train=False)

    lr, dv = train_model(df_train, categorical)
    run_model(df_val, categorical, dv, lr)

    with open(f"{MODEL_DIR}/model-{run_date}.bin", "wb") as f:
        pickle.dump(lr, f)
    with open(f"{MODEL_DIR}/dv-{run_date}.b", "wb") as f:
        pickle.dump(dv, f)


if __name__ == "__main__":
    main("2021-08-15")
