import pickle
from datetime import datetime

import pandas as pd
from dateutil.relativedelta import relativedelta
from prefect import flow, task, get_run_logger
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

CATEGORICAL = ['PUlocationID', 'DOlocationID']


@task
def read_data(path):
    return pd.read_parquet(path)


@task
def prepare_features(df, categorical, train=True):
    logger = get_run_logger()
    df = df.copy()
    df['duration'] = (df.dropOff_datetime - df.pickup_datetime).dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)]
    # a trip without a zone can't tell the model anything -> drop it
    df = df.dropna(subset=categorical).copy()
    logger.info(f"{'train' if train else 'val'}: {len(df)} rows, mean duration {df.duration.mean()}")
    df[categorical] = df[categorical].astype('int').astype('str')
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


@task
def get_paths(date=None):
    ref = datetime.strptime(date, "%Y-%m-%d") if date else datetime.today()
    train_path = f"./data/fhv_tripdata_{(ref - relativedelta(months=2)):%Y-%m}.parquet"
    val_path = f"./data/fhv_tripdata_{(ref - relativedelta(months=1)):%Y-%m}.parquet"
    return train_path, val_path


@flow
def main(date=None):
    stamp = date or datetime.today().strftime("%Y-%m-%d")
    train_path, val_path = get_paths(date)

    df_train = prepare_features(read_data(train_path), CATEGORICAL)
    df_val = prepare_features(read_data(val_path), CATEGORICAL, train=False)

    lr, dv = train_model(df_train, CATEGORICAL)
    run_model(df_val, CATEGORICAL, dv, lr)

    with open(f"./models/model-{stamp}.bin", "wb") as f:
        pickle.dump(lr, f)
    with open(f"./models/dv-{stamp}.b", "wb") as f:
        pickle.dump(dv, f)


if __name__ == "__main__":
    main(date="2021-08-15")
