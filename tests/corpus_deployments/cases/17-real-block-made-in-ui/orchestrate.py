import os
import pickle

import mlflow
import pandas as pd
import xgboost as xgb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect_email import EmailServerCredentials, email_send_message
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import mean_squared_error


@task(retries=3, retry_delay_seconds=2, name="Read taxi data")
def read_data(filename: str) -> pd.DataFrame:
    df = pd.read_parquet(filename)
    df.lpep_dropoff_datetime = pd.to_datetime(df.lpep_dropoff_datetime)
    df.lpep_pickup_datetime = pd.to_datetime(df.lpep_pickup_datetime)
    df["duration"] = df.lpep_dropoff_datetime - df.lpep_pickup_datetime
    df.duration = df.duration.apply(lambda td: td.total_seconds() / 60)
    df = df[(df.duration >= 1) & (df.duration <= 60)]
    df[["PULocationID", "DOLocationID"]] = df[["PULocationID", "DOLocationID"]].astype(str)
    return df


@task
def add_features(df_train, df_val):
    df_train["PU_DO"] = df_train["PULocationID"] + "_" + df_train["DOLocationID"]
    df_val["PU_DO"] = df_val["PULocationID"] + "_" + df_val["DOLocationID"]
    dv = DictVectorizer()
    cols = ["PU_DO", "trip_distance"]
    X_train = dv.fit_transform(df_train[cols].to_dict(orient="records"))
    X_val = dv.transform(df_val[cols].to_dict(orient="records"))
    return X_train, X_val, df_train["duration"].values, df_val["duration"].values, dv


@task
def train_best_model(X_train, X_val, y_train, y_val, dv) -> float:
    logger = get_run_logger()
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
        logger.info(f"RMSE = {rmse}")

        os.makedirs("models", exist_ok=True)
        with open("models/preprocessor.b", "wb") as f_out:
            pickle.dump(dv, f_out)
        mlflow.log_artifact("models/preprocessor.b", artifact_path="preprocessor")
        mlflow.xgboost.log_model(booster, artifact_path="models_mlflow")

        create_markdown_artifact(
            key="rmse-artifact",
            markdown=f"# Results\n\nThe validation RMSE is {rmse:.2f}.",
        )
    return rmse


@flow(name="taxi-training")
def main_flow(
    train_path: str = "./data/green_tripdata_2023-01.parquet",
    val_path: str = "./data/green_tripdata_2023-02.parquet",
):
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    mlflow.set_experiment("nyc-taxi-experiment")

    df_train = read_data(train_path)
    df_val = read_data(val_path)
    X_train, X_val, y_train, y_val, dv = add_features(df_train, df_val)
    rmse = train_best_model(X_train, X_val, y_train, y_val, dv)

    # block created in the Prefect UI (Blocks -> Email Server Credentials)
    email_server_credentials = EmailServerCredentials.load("emailtest")
    email_send_message.submit(
        email_server_credentials=email_server_credentials,
        subject="Prefect: taxi-training finished",
        msg=f"The run finished with RMSE {rmse}",
        email_to="aisha.bello.data@gmail.com",
    ).result()


if __name__ == "__main__":
    main_flow()
