"""NYC green taxi: monthly retraining flow, ported from the 2023 course script to Prefect 3.

MLflow tracking kept as in the course (sqlite file next to this script's working folder).
"""

from pathlib import Path
import pickle

import mlflow
import pandas as pd
import xgboost as xgb
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect_email import EmailServerCredentials, email_send_message
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import root_mean_squared_error

MODELS = Path("models")


@task(retries=3, retry_delay_seconds=2, name="Read taxi data")
def read_data(filename: str) -> pd.DataFrame:
    df = pd.read_parquet(filename)
    df.lpep_pickup_datetime = pd.to_datetime(df.lpep_pickup_datetime)
    df.lpep_dropoff_datetime = pd.to_datetime(df.lpep_dropoff_datetime)
    df["duration"] = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    df[["PULocationID", "DOLocationID"]] = df[["PULocationID", "DOLocationID"]].astype(str)
    return df


@task(name="Add features")
def add_features(df_train: pd.DataFrame, df_val: pd.DataFrame):
    cols = ["PU_DO", "trip_distance"]
    df_train = df_train.assign(PU_DO=df_train.PULocationID + "_" + df_train.DOLocationID)
    df_val = df_val.assign(PU_DO=df_val.PULocationID + "_" + df_val.DOLocationID)
    dv = DictVectorizer()
    X_train = dv.fit_transform(df_train[cols].to_dict(orient="records"))
    X_val = dv.transform(df_val[cols].to_dict(orient="records"))
    return X_train, X_val, df_train.duration.values, df_val.duration.values, dv


@task(name="Train best model")
def train_best_model(X_train, X_val, y_train, y_val, dv) -> float:
    params = {
        "learning_rate": 0.09585355369315604,
        "max_depth": 30,
        "min_child_weight": 1.060597050922164,
        "objective": "reg:squarederror",
        "reg_alpha": 0.018060244040060163,
        "reg_lambda": 0.011658731377413597,
        "seed": 42,
    }
    with mlflow.start_run():
        mlflow.log_params(params)
        dtrain = xgb.DMatrix(X_train, label=y_train)
        dvalid = xgb.DMatrix(X_val, label=y_val)
        booster = xgb.train(
            params=params,
            dtrain=dtrain,
            num_boost_round=100,
            evals=[(dvalid, "validation")],
            early_stopping_rounds=20,
        )
        rmse = float(root_mean_squared_error(y_val, booster.predict(dvalid)))
        mlflow.log_metric("rmse", rmse)

        MODELS.mkdir(exist_ok=True)
        with open(MODELS / "preprocessor.b", "wb") as f_out:
            pickle.dump(dv, f_out)
        mlflow.log_artifact(str(MODELS / "preprocessor.b"), artifact_path="preprocessor")
        mlflow.xgboost.log_model(booster, artifact_path="models_mlflow")

    create_markdown_artifact(
        key="nyc-taxi-monthly-rmse",
        markdown=f"### NYC taxi monthly model\n\nvalidation RMSE = {rmse:.5f}",
    )
    return rmse


@flow(name="NYC taxi monthly")
def train_duration_model(
    training_data_path: str = "../data/green_tripdata_2023-01.parquet",
    validation_data_path: str = "../data/green_tripdata_2023-02.parquet",
    notify: str = "nyc-taxi@example.com",
) -> float:
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    mlflow.set_experiment("nyc-taxi-monthly")

    df_train = read_data(training_data_path)
    df_val = read_data(validation_data_path)
    X_train, X_val, y_train, y_val, dv = add_features(df_train, df_val)
    rmse = train_best_model(X_train, X_val, y_train, y_val, dv)

    mail = email_send_message.submit(
        email_server_credentials=EmailServerCredentials.load("nyc-taxi-email"),
        subject="NYC taxi monthly: done",
        msg=f"RMSE {rmse}",
        email_to=notify,
    )
    mail.result()
    return rmse


if __name__ == "__main__":
    train_duration_model()
