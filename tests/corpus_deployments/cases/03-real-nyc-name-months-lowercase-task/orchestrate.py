import pathlib
import pickle

import mlflow
import pandas as pd
import xgboost as xgb
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect_email import EmailServerCredentials, email_send_message
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import mean_squared_error

BEST_PARAMS = {
    "learning_rate": 0.09585355369315604,
    "max_depth": 30,
    "min_child_weight": 1.060597050922164,
    "objective": "reg:linear",
    "reg_alpha": 0.018060244040060163,
    "reg_lambda": 0.011658731377413597,
    "seed": 42,
}


@task(retries=3, retry_delay_seconds=2, name="read taxi data")
def read_data(filename: str) -> pd.DataFrame:
    print(f"reading {filename}")
    df = pd.read_parquet(filename)

    df.lpep_dropoff_datetime = pd.to_datetime(df.lpep_dropoff_datetime)
    df.lpep_pickup_datetime = pd.to_datetime(df.lpep_pickup_datetime)
    df["duration"] = df.lpep_dropoff_datetime - df.lpep_pickup_datetime
    df.duration = df.duration.apply(lambda td: td.total_seconds() / 60)
    df = df[(df.duration >= 1) & (df.duration <= 60)]

    categorical = ["PULocationID", "DOLocationID"]
    df[categorical] = df[categorical].astype(str)
    print(f"{len(df)} rows kept")
    return df


@task
def add_features(df_train: pd.DataFrame, df_val: pd.DataFrame):
    df_train["PU_DO"] = df_train["PULocationID"] + "_" + df_train["DOLocationID"]
    df_val["PU_DO"] = df_val["PULocationID"] + "_" + df_val["DOLocationID"]

    cols = ["PU_DO", "trip_distance"]
    dv = DictVectorizer()
    X_train = dv.fit_transform(df_train[cols].to_dict(orient="records"))
    X_val = dv.transform(df_val[cols].to_dict(orient="records"))

    return X_train, X_val, df_train["duration"].values, df_val["duration"].values, dv


@task
def train_best_model(X_train, X_val, y_train, y_val, dv) -> float:
    with mlflow.start_run():
        train = xgb.DMatrix(X_train, label=y_train)
        valid = xgb.DMatrix(X_val, label=y_val)
        mlflow.log_params(BEST_PARAMS)

        booster = xgb.train(
            params=BEST_PARAMS,
            dtrain=train,
            num_boost_round=100,
            evals=[(valid, "validation")],
            early_stopping_rounds=20,
        )

        y_pred = booster.predict(valid)
        rmse = mean_squared_error(y_val, y_pred, squared=False)
        mlflow.log_metric("rmse", rmse)
        print(f"validation rmse = {rmse}")

        pathlib.Path("models").mkdir(exist_ok=True)
        with open("models/preprocessor.b", "wb") as f_out:
            pickle.dump(dv, f_out)
        mlflow.log_artifact("models/preprocessor.b", artifact_path="preprocessor")
        mlflow.xgboost.log_model(booster, artifact_path="models_mlflow")

        create_markdown_artifact(
            key="nyc-taxi-rmse",
            markdown=f"## NYC taxi duration model\n\nRMSE on the validation month: {rmse:.4f}",
        )
    return rmse


@flow(name="NYC Taxi duration prediction", log_prints=True)
def main_flow(months: list = [1, 2], year: int = 2023, color: str = "green") -> None:
    """months[0] is the training month, months[1] the validation month"""
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    mlflow.set_experiment("nyc-taxi-experiment")

    train_path = f"./data/{color}_tripdata_{year}-{months[0]:02d}.parquet"
    val_path = f"./data/{color}_tripdata_{year}-{months[1]:02d}.parquet"

    df_train = read_data(train_path)
    df_val = read_data(val_path)

    X_train, X_val, y_train, y_val, dv = add_features(df_train, df_val)
    rmse = train_best_model(X_train, X_val, y_train, y_val, dv)

    email_credentials_block = EmailServerCredentials.load("nys-gmail")
    email_send_message.with_options(name="email-rmse")(
        email_server_credentials=email_credentials_block,
        subject="NYC taxi model trained",
        msg=f"The flow finished, validation RMSE is {rmse:.5f}",
        email_to=email_credentials_block.username,
    )


if __name__ == "__main__":
    main_flow()
