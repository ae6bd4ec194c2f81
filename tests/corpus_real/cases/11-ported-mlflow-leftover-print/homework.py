import datetime
import pickle

import mlflow
import pandas as pd
from prefect import flow, get_run_logger, task
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

# mlflow from week 2, kept it
mlflow.set_tracking_uri("sqlite:///mlflow.db")
mlflow.set_experiment("hw3-fhv")

CATEGORICAL = ["PUlocationID", "DOlocationID"]


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
    if train:
        logger.info(f"The mean duration of training is {df.duration.mean()}")
    else:
        logger.info(f"The mean duration of validation is {df.duration.mean()}")
    df[categorical] = df[categorical].fillna(-1).astype("int").astype("str")
    return df


@task
def train_model(df, categorical):
    logger = get_run_logger()
    train_dicts = df[categorical].to_dict(orient="records")
    dv = DictVectorizer()
    X_train = dv.fit_transform(train_dicts)
    y_train = df.duration.values

    print(f"The shape of X_train is {X_train.shape}")
    logger.info(f"The DictVectorizer has {len(dv.feature_names_)} features")

    lr = LinearRegression()
    lr.fit(X_train, y_train)
    rmse = root_mean_squared_error(y_train, lr.predict(X_train))
    logger.info(f"The MSE of training is: {rmse}")
    return lr, dv


@task
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient="records"))
    rmse = root_mean_squared_error(df.duration.values, lr.predict(X_val))
    logger.info(f"The MSE of validation is: {rmse}")
    return rmse


@task
def get_paths(date=None):
    if date is None:
        month = pd.Period(datetime.date.today(), freq="M")
    else:
        month = pd.Period(date, freq="M")
    train_path = f"./data/fhv_tripdata_{month - 2}.parquet"
    val_path = f"./data/fhv_tripdata_{month - 1}.parquet"
    return train_path, val_path


@flow(name="hw3-train")
def main(date=None):
    tag = date or datetime.date.today().strftime("%Y-%m-%d")
    train_path, val_path = get_paths(date)

    df_train = prepare_features(read_data(train_path), CATEGORICAL)
    df_val = prepare_features(read_data(val_path), CATEGORICAL, train=False)

    with mlflow.start_run(run_name=f"train-{tag}"):
        lr, dv = train_model(df_train, CATEGORICAL)
        rmse = run_model(df_val, CATEGORICAL, dv, lr)
        mlflow.log_param("train_path", train_path)
        mlflow.log_metric("val_rmse", rmse)

    with open(f"./models/model-{tag}.bin", "wb") as f_out:
        pickle.dump(lr, f_out)
    with open(f"./models/dv-{tag}.b", "wb") as f_out:
        pickle.dump(dv, f_out)
    return rmse


if __name__ == "__main__":
    main(date="2021-08-15")
