import pickle
from datetime import datetime
from dateutil.relativedelta import relativedelta

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
def get_paths(date):
    if date is None:
        date = datetime.today()
    else:
        date = datetime.strptime(date, "%Y-%m-%d")
    train_path = (date - relativedelta(months=2)).strftime("./data/fhv_tripdata_%Y-%m.parquet")
    val_path = (date - relativedelta(months=1)).strftime("./data/fhv_tripdata_%Y-%m.parquet")
    return train_path, val_path


@flow
def main(date=None):
    categorical = ['PUlocationID', 'DOlocationID']
    if date is None:
        date = datetime.today().strftime("%Y-%m-%d")

    train_path, val_path = get_paths.submit(date).result()

    df_train_processed = prepare_features.submit(read_data.submit(train_path), categorical)
    df_val_processed = prepare_features.submit(read_data.submit(val_path), categorical, False)

    lr, dv = train_model.submit(df_train_processed, categorical).result()
    run_model.submit(df_val_processed, categorical, dv, lr).result()

    # Q3: we need the size of the DictVectorizer
    with open(f"models/dv-{date}.b", "wb") as f_out:
        pickle.dump(dv, f_out)


if __name__ == "__main__":
    main(date="2021-08-15")
