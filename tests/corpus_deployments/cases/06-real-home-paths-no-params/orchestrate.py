import pickle
from pathlib import Path

import mlflow
import pandas as pd
import xgboost as xgb
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect_email import EmailServerCredentials, email_send_message
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import mean_squared_error

TRAIN_PATH = "/home/sofia/mlops-zoomcamp/03-orchestration/data/green_tripdata_2023-01.parquet"
VAL_PATH = "/home/sofia/mlops-zoomcamp/03-orchestration/data/green_tripdata_2023-02.parquet"
MODELS_DIR = Path("models")


@task(retries=3, retry_delay_seconds=2, name="Read taxi data")
def read_data(filename: str) -> pd.DataFrame:
    df = pd.read_parquet(filename)

    df.lpep_dropoff_datetime = pd.to_datetime(df.lpep_dropoff_datetime)
    df.lpep_pickup_datetime = pd.to_datetime(df.lpep_pickup_datetime)

    df["duration"] = df.lpep_dropoff_datetime - df.lpep_pickup_datetime
    df.duration = df.duration.apply(lambda td: td.total_seconds() / 60)
    df = df[(df.duration >= 1) & (df.duration <= 60)]

    categorical = ["PULocationID", "DOLocationID"]
    df[categorical] = df[categorical].astype(str)
    return df


@task
def add_features(df_train, df_val):
    df_train["PU_DO"] = df_train["PULocationID"] + "_" + df_train["DOLocationID"]
    df_val["PU_DO"] = df_val["PULocationID"] + "_" + df_val["DOLocationID"]

    categorical = ["PU_DO"]
    numerical = ["trip_distance"]
    dv = DictVectorizer()
    X_train = dv.fit_transform(df_train[categorical + numerical].to_dict(orient="records"))
    X_val = dv.transform(df_val[categorical + numerical].to_dict(orient="records"))
    return X_train, X_val, df_train["duration"].values, df_val["duration"].values, dv


@task(log_prints=True)
def train_best_model(X_train, X_val, y_train, y_val, dv) -> float:
    with mlflow.start_run():
        train = xgb.DMatrix(X_train, label=y_train)
        valid = xgb.DMatrix(X_val, label=y_val)
        best_params = {
            "learning_rate": 0.09585355369315604,
            "max_depth": 30,
            "min_child_weight": 1.060597050922164,
            "objective": "reg:linear",
            "reg_alpha": 0.018060244040060163,
            "reg_lambda": 0.011658731377413597,
            "seed": 42,
        }
        mlflow.log_params(best_params)
        booster = xgb.train(
            params=best_params,
            dtrain=train,
            num_boost_round=100,
            evals=[(valid, "validation")],
            early_stopping_rounds=20,
        )
        y_pred = booster.predict(valid)
        rmse = mean_squared_error(y_val, y_pred, squared=False)
        mlflow.log_metric("rmse", rmse)
        print("RMSE:", rmse)

        MODELS_DIR.mkdir(exist_ok=True)
        with open(MODELS_DIR / "preprocessor.b", "wb") as f_out:
            pickle.dump(dv, f_out)
        mlflow.log_artifact(str(MODELS_DIR / "preprocessor.b"), artifact_path="preprocessor")
        mlflow.xgboost.log_model(booster, artifact_path="models_mlflow")

        create_markdown_artifact(key="rmse-report", markdown=f"**RMSE**: {rmse:.3f}")
    return rmse


@flow
def duration_deploy_flow_hw():
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    mlflow.set_experiment("duration-hw3")

    df_train = read_data(TRAIN_PATH)
    df_val = read_data(VAL_PATH)
    X_train, X_val, y_train, y_val, dv = add_features(df_train, df_val)
    rmse = train_best_model(X_train, X_val, y_train, y_val, dv)

    creds = EmailServerCredentials.load("sofia-gmail")
    email_send_message.submit(
        email_server_credentials=creds,
        subject="Duration model retrained",
        msg=f"RMSE = {rmse}",
        email_to="sofia.k.dev@gmail.com",
    ).result()


if __name__ == "__main__":
    duration_deploy_flow_hw()
