"""Week 3 homework on Prefect 3: train the duration model and report the RMSE."""

import numpy as np
import pandas as pd
import xgboost as xgb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect_email import EmailServerCredentials, email_send_message
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import mean_squared_error

XGB_PARAMS = dict(
    learning_rate=0.09585355369315604,
    max_depth=30,
    min_child_weight=1.060597050922164,
    objective="reg:squarederror",
    reg_alpha=0.018060244040060163,
    reg_lambda=0.011658731377413597,
    seed=42,
)


@task(retries=3, retry_delay_seconds=2, name="Read taxi data")
def read_data(path: str) -> pd.DataFrame:
    df = pd.read_parquet(path)
    pickup = pd.to_datetime(df["lpep_pickup_datetime"])
    dropoff = pd.to_datetime(df["lpep_dropoff_datetime"])
    df["duration"] = (dropoff - pickup).dt.total_seconds() / 60
    df = df[df["duration"].between(1, 60)].copy()
    df["PULocationID"] = df["PULocationID"].astype(str)
    df["DOLocationID"] = df["DOLocationID"].astype(str)
    return df


@task
def vectorize(df_train: pd.DataFrame, df_val: pd.DataFrame):
    def records(df):
        pu_do = df["PULocationID"] + "_" + df["DOLocationID"]
        return pd.DataFrame({"PU_DO": pu_do, "trip_distance": df["trip_distance"]}).to_dict(orient="records")

    dv = DictVectorizer()
    X_train = dv.fit_transform(records(df_train))
    X_val = dv.transform(records(df_val))
    return X_train, X_val, df_train["duration"].values, df_val["duration"].values


@task
def train(X_train, X_val, y_train, y_val) -> float:
    logger = get_run_logger()
    dtrain = xgb.DMatrix(X_train, label=y_train)
    dval = xgb.DMatrix(X_val, label=y_val)
    booster = xgb.train(
        XGB_PARAMS,
        dtrain,
        num_boost_round=100,
        evals=[(dval, "validation")],
        early_stopping_rounds=20,
        verbose_eval=False,
    )
    rmse = float(np.sqrt(mean_squared_error(y_val, booster.predict(dval))))
    logger.info(f"RMSE on the validation month: {rmse:.5f}")
    create_markdown_artifact(
        key="rmse",
        markdown=f"### Validation RMSE\n\n{rmse:.5f}",
        description="xgboost duration model",
    )
    return rmse


@flow
def main_flow(
    train_path: str = "data/green_tripdata_2023-01.parquet",
    val_path: str = "data/green_tripdata_2023-02.parquet",
    email_to: str = "nadia.rahman.dev@gmail.com",
) -> float:
    X_train, X_val, y_train, y_val = vectorize(read_data(train_path), read_data(val_path))
    rmse = train(X_train, X_val, y_train, y_val)

    credentials = EmailServerCredentials.load("Email-Notify")
    email_send_message.submit(
        email_server_credentials=credentials,
        subject=f"main_flow finished: RMSE {rmse:.3f}",
        msg=f"<p>RMSE = {rmse}</p>",
        email_to=email_to,
    ).result()
    return rmse


if __name__ == "__main__":
    main_flow()
