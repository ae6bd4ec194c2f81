"""MLOps zoomcamp 2023, week 3 homework. Moved to Prefect 3 in 2024 (was 2.10)."""
import pathlib
import pickle

import mlflow
import pandas as pd
import xgboost as xgb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect_email import EmailServerCredentials, email_send_message
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import root_mean_squared_error

EMAIL_BLOCK = "rmse-mail"
NOTIFY = "d.ivanova.ml@gmail.com"


@task(retries=3, retry_delay_seconds=2, name="Read taxi data")
def read_data(filename: str) -> pd.DataFrame:
    df = pd.read_parquet(filename)

    df["lpep_dropoff_datetime"] = pd.to_datetime(df["lpep_dropoff_datetime"])
    df["lpep_pickup_datetime"] = pd.to_datetime(df["lpep_pickup_datetime"])
    df["duration"] = (df["lpep_dropoff_datetime"] - df["lpep_pickup_datetime"]).apply(
        lambda td: td.total_seconds() / 60
    )
    df = df[(df["duration"] >= 1) & (df["duration"] <= 60)]

    for col in ["PULocationID", "DOLocationID"]:
        df[col] = df[col].astype(str)
    return df


@task(name="Add features")
def add_features(df_train: pd.DataFrame, df_val: pd.DataFrame):
    for df in (df_train, df_val):
        df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]

    dv = DictVectorizer()
    train_dicts = df_train[["PU_DO", "trip_distance"]].to_dict(orient="records")
    val_dicts = df_val[["PU_DO", "trip_distance"]].to_dict(orient="records")
    X_train = dv.fit_transform(train_dicts)
    X_val = dv.transform(val_dicts)
    return X_train, X_val, df_train["duration"].values, df_val["duration"].values, dv


@task(name="Train best model")
def train_best_model(X_train, X_val, y_train, y_val, dv) -> float:
    logger = get_run_logger()
    with mlflow.start_run():
        train = xgb.DMatrix(X_train, label=y_train)
        valid = xgb.DMatrix(X_val, label=y_val)
        best_params = {
            "learning_rate": 0.09585355369315604,
            "max_depth": 30,
            "min_child_weight": 1.060597050922164,
            "objective": "reg:squarederror",
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
        rmse = root_mean_squared_error(y_val, y_pred)
        mlflow.log_metric("rmse", rmse)
        logger.info("validation RMSE: %s", rmse)

        pathlib.Path("models").mkdir(exist_ok=True)
        with open("models/preprocessor.b", "wb") as f_out:
            pickle.dump(dv, f_out)
        mlflow.log_artifact("models/preprocessor.b", artifact_path="preprocessor")
        mlflow.xgboost.log_model(booster, artifact_path="models_mlflow")

    create_markdown_artifact(
        key="primary-flow-rmse",
        markdown=f"# Validation\n\nRMSE: `{rmse:.5f}`",
        description="validation RMSE",
    )
    return rmse


def send_rmse_email(rmse: float) -> None:
    """not a task: just calls the prefect-email task"""
    credentials = EmailServerCredentials.load(EMAIL_BLOCK)
    email_send_message.submit(
        email_server_credentials=credentials,
        subject=f"primary_flow done, RMSE {rmse:.3f}",
        msg=f"<h3>Training finished</h3><p>RMSE on validation: {rmse}</p>",
        email_to=NOTIFY,
    ).result()


@flow
def primary_flow(train_path: str, val_path: str) -> float:
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    mlflow.set_experiment("nyc-taxi-experiment")

    df_train = read_data(train_path)
    df_val = read_data(val_path)
    X_train, X_val, y_train, y_val, dv = add_features(df_train, df_val)
    rmse = train_best_model(X_train, X_val, y_train, y_val, dv)
    send_rmse_email(rmse)
    return rmse


if __name__ == "__main__":
    primary_flow(
        "../data/green_tripdata_2023-01.parquet",
        "../data/green_tripdata_2023-02.parquet",
    )
