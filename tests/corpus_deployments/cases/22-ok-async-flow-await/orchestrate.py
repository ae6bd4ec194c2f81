"""Homework 3 (deployments) on Prefect 3, with an async flow.

The tasks are ordinary sync tasks; the flow is async so that prefect-email's async task
email_send_message can simply be awaited.
"""

import asyncio

import numpy as np
import pandas as pd
import xgboost as xgb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect_email import EmailServerCredentials, email_send_message
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import mean_squared_error

FEATURES = ["PU_DO", "trip_distance"]
BOOSTER_PARAMS = {
    "learning_rate": 0.09585355369315604,
    "max_depth": 30,
    "min_child_weight": 1.060597050922164,
    "objective": "reg:squarederror",
    "reg_alpha": 0.018060244040060163,
    "reg_lambda": 0.011658731377413597,
    "seed": 42,
}


@task(retries=3, retry_delay_seconds=2, name="Read taxi data")
def read_data(filename: str) -> pd.DataFrame:
    df = pd.read_parquet(filename)
    df["lpep_pickup_datetime"] = pd.to_datetime(df["lpep_pickup_datetime"])
    df["lpep_dropoff_datetime"] = pd.to_datetime(df["lpep_dropoff_datetime"])
    minutes = (df["lpep_dropoff_datetime"] - df["lpep_pickup_datetime"]).dt.total_seconds() / 60
    df = df.assign(duration=minutes)
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    df["PULocationID"] = df["PULocationID"].astype(str)
    df["DOLocationID"] = df["DOLocationID"].astype(str)
    df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]
    return df


@task
def fit(df_train: pd.DataFrame, df_val: pd.DataFrame) -> float:
    dv = DictVectorizer()
    X_train = dv.fit_transform(df_train[FEATURES].to_dict(orient="records"))
    X_val = dv.transform(df_val[FEATURES].to_dict(orient="records"))
    dtrain = xgb.DMatrix(X_train, label=df_train["duration"].values)
    dval = xgb.DMatrix(X_val, label=df_val["duration"].values)
    booster = xgb.train(
        params=BOOSTER_PARAMS,
        dtrain=dtrain,
        num_boost_round=100,
        evals=[(dval, "validation")],
        early_stopping_rounds=20,
        verbose_eval=False,
    )
    rmse = float(np.sqrt(mean_squared_error(df_val["duration"].values, booster.predict(dval))))
    get_run_logger().info(f"RMSE: {rmse}")
    return rmse


@task
def publish(rmse: float, train_path: str, val_path: str) -> None:
    create_markdown_artifact(
        key="monthly-rmse",
        markdown=f"# Validation RMSE\n\n* train: `{train_path}`\n* validation: `{val_path}`\n* **RMSE: {rmse:.3f}**\n",
    )


@flow(name="monthly-training")
async def monthly_training(
    train_path: str = "./data/green_tripdata_2023-01.parquet",
    val_path: str = "./data/green_tripdata_2023-02.parquet",
    recipient: str = "mlops-alerts@example.com",
) -> float:
    df_train = read_data(train_path)
    df_val = read_data(val_path)
    rmse = fit(df_train, df_val)
    publish(rmse, train_path, val_path)

    credentials = await EmailServerCredentials.aload("hw3-smtp")
    await email_send_message(
        email_server_credentials=credentials,
        subject="monthly-training completed",
        msg=f"Validation RMSE {rmse:.5f}",
        email_to=recipient,
    )
    return rmse


if __name__ == "__main__":
    asyncio.run(monthly_training())
