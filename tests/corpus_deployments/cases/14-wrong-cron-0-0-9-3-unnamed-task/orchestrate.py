import pandas as pd
import xgboost as xgb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect_email import EmailServerCredentials, email_send_message
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import root_mean_squared_error

BEST_PARAMS = {
    "learning_rate": 0.09585355369315604,
    "max_depth": 30,
    "min_child_weight": 1.060597050922164,
    "objective": "reg:squarederror",
    "reg_alpha": 0.018060244040060163,
    "reg_lambda": 0.011658731377413597,
    "seed": 42,
    "tree_method": "exact",
    "base_score": 0.5,
}


@task(retries=3, retry_delay_seconds=2)
def read_data(filename: str) -> pd.DataFrame:
    df = pd.read_parquet(filename)
    df["duration"] = (
        pd.to_datetime(df["lpep_dropoff_datetime"]) - pd.to_datetime(df["lpep_pickup_datetime"])
    ).dt.total_seconds() / 60
    df = df[(df["duration"] >= 1) & (df["duration"] <= 60)].copy()
    df["PULocationID"] = df["PULocationID"].astype(str)
    df["DOLocationID"] = df["DOLocationID"].astype(str)
    return df


@task
def add_features(df_train, df_val):
    dicts = []
    for df in (df_train, df_val):
        df = df.assign(PU_DO=df["PULocationID"] + "_" + df["DOLocationID"])
        dicts.append(df[["PU_DO", "trip_distance"]].to_dict(orient="records"))
    dv = DictVectorizer()
    X_train = dv.fit_transform(dicts[0])
    X_val = dv.transform(dicts[1])
    return X_train, X_val, df_train["duration"].to_numpy(), df_val["duration"].to_numpy()


@task
def train_best_model(X_train, X_val, y_train, y_val) -> float:
    dtrain = xgb.DMatrix(X_train, label=y_train)
    dvalid = xgb.DMatrix(X_val, label=y_val)
    booster = xgb.train(
        BEST_PARAMS,
        dtrain,
        num_boost_round=100,
        evals=[(dvalid, "validation")],
        early_stopping_rounds=20,
        verbose_eval=10,
    )
    rmse = float(root_mean_squared_error(y_val, booster.predict(dvalid)))
    get_run_logger().info("RMSE %.5f", rmse)
    create_markdown_artifact(key="rmse-report", markdown=f"Validation RMSE: **{rmse:.5f}**")
    return rmse


@flow
def main_flow(
    train_path: str = "./data/green_tripdata_2023-01.parquet",
    val_path: str = "./data/green_tripdata_2023-02.parquet",
) -> float:
    X_train, X_val, y_train, y_val = add_features(read_data(train_path), read_data(val_path))
    rmse = train_best_model(X_train, X_val, y_train, y_val)
    creds = EmailServerCredentials.load("zoomcamp-email")
    email_send_message.submit(
        email_server_credentials=creds,
        subject="Monthly retraining done",
        msg=f"RMSE: {rmse:.5f}",
        email_to="anika.schulz@posteo.de",
    ).result()
    return rmse


if __name__ == "__main__":
    main_flow()
