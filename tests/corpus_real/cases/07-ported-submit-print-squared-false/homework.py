# Ported from prefect 2.0b5 to prefect 3 (2024 rerun of the zoomcamp homework).
# - task calls now go through .submit() and futures are resolved with .result()
# - DeploymentSpec moved to deployment.py
import pickle
from datetime import date as Date, datetime

import pandas as pd
from dateutil.relativedelta import relativedelta
from prefect import flow, get_run_logger, task
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error


@task
def read_data(path):
    return pd.read_parquet(path)


@task
def prepare_features(df, categorical, train=True):
    df['duration'] = df.dropOff_datetime - df.pickup_datetime
    df['duration'] = df.duration.dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()

    mean_duration = df.duration.mean()
    if train:
        print(f"The mean duration of training is {mean_duration}")
    else:
        print(f"The mean duration of validation is {mean_duration}")

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
    lr = LinearRegression().fit(X_train, y_train)
    mse = mean_squared_error(y_train, lr.predict(X_train), squared=False)
    logger.info(f"The MSE of training is: {mse}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient='records'))
    mse = mean_squared_error(df.duration.values, lr.predict(X_val), squared=False)
    logger.info(f"The MSE of validation is: {mse}")
    return mse


@task
def get_paths(date=None):
    run_day = Date.today() if date is None else datetime.strptime(date, "%Y-%m-%d").date()
    months = [run_day - relativedelta(months=k) for k in (2, 1)]
    train_path, val_path = (f"./data/fhv_tripdata_{m:%Y-%m}.parquet" for m in months)
    return train_path, val_path


@flow
def main(date=None):
    logger = get_run_logger()
    categorical = ['PUlocationID', 'DOlocationID']
    date = date or Date.today().isoformat()

    train_path, val_path = get_paths.submit(date).result()
    logger.info(f"train: {train_path}  val: {val_path}")

    df_train = prepare_features.submit(read_data.submit(train_path), categorical)
    df_val = prepare_features.submit(read_data.submit(val_path), categorical, False)

    lr, dv = train_model.submit(df_train, categorical).result()
    run_model.submit(df_val, categorical, dv, lr).wait()

    with open(f"./models/model-{date}.bin", "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(f"./models/dv-{date}.b", "wb") as f_out:
        pickle.dump(dv, f_out)


if __name__ == "__main__":
    main(date="2021-08-15")
