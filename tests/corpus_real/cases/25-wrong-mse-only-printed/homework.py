import pickle
import datetime

import pandas as pd
from prefect import flow, task, get_run_logger
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error


def shift_month(d, n):
    """first day of the month n months before d"""
    y, m = d.year, d.month - n
    while m <= 0:
        y, m = y - 1, m + 12
    return datetime.date(y, m, 1)


@task
def get_paths(date=None):
    d = datetime.date.today() if date is None else datetime.date.fromisoformat(date)
    train, val = shift_month(d, 2), shift_month(d, 1)
    return (f"./data/fhv_tripdata_{train:%Y-%m}.parquet",
            f"./data/fhv_tripdata_{val:%Y-%m}.parquet")


@task
def read_data(path):
    return pd.read_parquet(path)


@task
def prepare_features(df, categorical, train=True):
    logger = get_run_logger()
    df = df.copy()
    df['duration'] = (df.dropOff_datetime - df.pickup_datetime).dt.total_seconds() / 60
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
    logger.info(f"The MSE of training is: {root_mean_squared_error(y_train, lr.predict(X_train))}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    val_dicts = df[categorical].to_dict(orient='records')
    X_val = dv.transform(val_dicts)
    y_pred = lr.predict(X_val)
    y_val = df.duration.values

    mse = root_mean_squared_error(y_val, y_pred)
    print(f"The MSE of validation is: {mse}")
    return mse


@flow
def main(date=None):
    categorical = ['PUlocationID', 'DOlocationID']
    tag = date if date is not None else datetime.date.today().isoformat()

    train_path, val_path = get_paths(date)

    df_train_processed = prepare_features(read_data(train_path), categorical)
    df_val_processed = prepare_features(read_data(val_path), categorical, False)

    lr, dv = train_model(df_train_processed, categorical)
    run_model(df_val_processed, categorical, dv, lr)

    with open(f"models/model-{tag}.bin", "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(f"models/dv-{tag}.b", "wb") as f_out:
        pickle.dump(dv, f_out)


if __name__ == "__main__":
    main(date="2021-08-15")
