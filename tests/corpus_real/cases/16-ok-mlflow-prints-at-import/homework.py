import pickle
import warnings
from datetime import datetime

import mlflow
import pandas as pd
from dateutil.relativedelta import relativedelta
from prefect import flow, get_run_logger, task
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

warnings.filterwarnings("ignore")

TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT = "fhv-duration-week3"

mlflow.set_tracking_uri(TRACKING_URI)
mlflow.set_experiment(EXPERIMENT)
print(f"MLflow tracking URI: {TRACKING_URI}")
print(f"MLflow experiment: {EXPERIMENT}")


@task
def read_data(path):
    return pd.read_parquet(path)


@task
def prepare_features(df, categorical, train=True):
    logger = get_run_logger()
    df = df.copy()
    df["duration"] = df["dropOff_datetime"] - df["pickup_datetime"]
    df["duration"] = df["duration"].dt.total_seconds() / 60
    df = df[(df["duration"] >= 1) & (df["duration"] <= 60)].copy()
    logger.info("The mean duration of %s is %s", "training" if train else "validation", df["duration"].mean())
    df[categorical] = df[categorical].fillna(-1).astype("int").astype("str")
    return df


@task
def train_model(df, categorical):
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
def run_model(df, categorical, dv, lr):
    logger = get_run_logger()
    X_val = dv.transform(df[categorical].to_dict(orient="records"))
    rmse = root_mean_squared_error(df["duration"].values, lr.predict(X_val))
    logger.info(f"The MSE of validation is: {rmse}")
    return rmse


@task
def get_paths(date=None):
    base = datetime.today() if date is None else datetime.strptime(date, "%Y-%m-%d")
    train = (base - relativedelta(months=2)).strftime("%Y-%m")
    val = (base - relativedelta(months=1)).strftime("%Y-%m")
    return f"./data/fhv_tripdata_{train}.parquet", f"./data/fhv_tripdata_{val}.parquet"


@flow(name="fhv-training-mlflow")
def main(date=None):
    categorical = ["PUlocationID", "DOlocationID"]
    date_tag = date if date else datetime.today().strftime("%Y-%m-%d")
    train_path, val_path = get_paths(date)

    with mlflow.start_run():
        mlflow.set_tag("model", "LinearRegression")
        mlflow.log_param("train_path", train_path)
        mlflow.log_param("val_path", val_path)

        df_train = prepare_features(read_data(train_path), categorical)
        df_val = prepare_features(read_data(val_path), categorical, train=False)
        lr, dv = train_model(df_train, categorical)
        rmse = run_model(df_val, categorical, dv, lr)
        mlflow.log_metric("val_rmse", rmse)

        with open(f"./models/model-{date_tag}.bin", "wb") as f_out:
            pickle.dump(lr, f_out)
        with open(f"./models/dv-{date_tag}.b", "wb") as f_out:
            pickle.dump(dv, f_out)
    return rmse


if __name__ == "__main__":
    main(date="2021-08-15")
