from datetime import date

import pandas as pd
import xgboost as xgb
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect_email import EmailServerCredentials, email_send_message
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import root_mean_squared_error


@task(retries=3, retry_delay_seconds=2, name="Read taxi data")
def load_trips(path: str) -> pd.DataFrame:
    trips = pd.read_parquet(path)
    trips["duration"] = (
        pd.to_datetime(trips.lpep_dropoff_datetime) - pd.to_datetime(trips.lpep_pickup_datetime)
    ).dt.total_seconds() / 60
    trips = trips[(trips.duration >= 1) & (trips.duration <= 60)].copy()
    trips[["PULocationID", "DOLocationID"]] = trips[["PULocationID", "DOLocationID"]].astype(str)
    trips["PU_DO"] = trips.PULocationID + "_" + trips.DOLocationID
    return trips


@task
def fit_model(train_df: pd.DataFrame, val_df: pd.DataFrame) -> float:
    dv = DictVectorizer()
    X_train = dv.fit_transform(train_df[["PU_DO", "trip_distance"]].to_dict(orient="records"))
    X_val = dv.transform(val_df[["PU_DO", "trip_distance"]].to_dict(orient="records"))
    dtrain = xgb.DMatrix(X_train, label=train_df.duration.values)
    dval = xgb.DMatrix(X_val, label=val_df.duration.values)
    booster = xgb.train(
        params={
            "learning_rate": 0.09585355369315604,
            "max_depth": 30,
            "min_child_weight": 1.060597050922164,
            "objective": "reg:squarederror",
            "reg_alpha": 0.018060244040060163,
            "reg_lambda": 0.011658731377413597,
            "seed": 42,
        },
        dtrain=dtrain,
        num_boost_round=100,
        evals=[(dval, "validation")],
        early_stopping_rounds=20,
    )
    return float(root_mean_squared_error(val_df.duration.values, booster.predict(dval)))


@flow(log_prints=True)
def taxi_training(
    train_path: str = "data/green_tripdata_2023-01.parquet",
    val_path: str = "data/green_tripdata_2023-02.parquet",
) -> float:
    rmse = fit_model(load_trips(train_path), load_trips(val_path))
    print(f"RMSE: {rmse}")

    create_markdown_artifact(
        key="monthly-rmse",
        markdown=f"# Report {date.today()}\n\n| metric | value |\n|---|---|\n| RMSE | {rmse:.3f} |",
    )

    creds = EmailServerCredentials.load("taxi-alerts")
    email_send_message.submit(
        email_server_credentials=creds,
        subject="taxi_training completed",
        msg=f"RMSE {rmse:.5f} ({train_path} -> {val_path})",
        email_to="marco.bellini.data@gmail.com",
    ).wait()
    return rmse


if __name__ == "__main__":
    taxi_training()
