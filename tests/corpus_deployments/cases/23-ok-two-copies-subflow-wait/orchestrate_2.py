"""Q4: the same training, February -> March, with the RMSE as a markdown artifact."""

import pandas as pd
import xgboost as xgb
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import root_mean_squared_error


@task(retries=3, retry_delay_seconds=2, name="Read taxi data")
def read_data(filename: str) -> pd.DataFrame:
    df = pd.read_parquet(filename)
    for col in ("lpep_pickup_datetime", "lpep_dropoff_datetime"):
        df[col] = pd.to_datetime(df[col])
    df["duration"] = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    df[["PULocationID", "DOLocationID"]] = df[["PULocationID", "DOLocationID"]].astype(str)
    return df


@task
def add_features(df_train: pd.DataFrame, df_val: pd.DataFrame):
    df_train["PU_DO"] = df_train.PULocationID + "_" + df_train.DOLocationID
    df_val["PU_DO"] = df_val.PULocationID + "_" + df_val.DOLocationID
    dv = DictVectorizer()
    X_train = dv.fit_transform(df_train[["PU_DO", "trip_distance"]].to_dict(orient="records"))
    X_val = dv.transform(df_val[["PU_DO", "trip_distance"]].to_dict(orient="records"))
    return X_train, X_val, df_train.duration.values, df_val.duration.values


@task
def train_model(X_train, X_val, y_train, y_val) -> float:
    train = xgb.DMatrix(X_train, label=y_train)
    valid = xgb.DMatrix(X_val, label=y_val)
    booster = xgb.train(
        params={
            "learning_rate": 0.09585355369315604,
            "max_depth": 30,
            "min_child_weight": 1.060597050922164,
            "objective": "reg:squarederror",
            "reg_alpha": 0.018060244040060163,
            "reg_lambda": 0.011658731377413597,
            "seed": 42,
            "tree_method": "exact",
            "base_score": 0.5,
        },
        dtrain=train,
        num_boost_round=100,
        evals=[(valid, "validation")],
        early_stopping_rounds=20,
        verbose_eval=False,
    )
    rmse = float(root_mean_squared_error(y_val, booster.predict(valid)))
    create_markdown_artifact(
        key="rmse-feb-march",
        markdown=f"# RMSE report\n\nValidation RMSE: **{rmse:.2f}**\n",
        description="Q4",
    )
    return rmse


@flow(log_prints=True)
def main_flow_artifact(
    train_path: str = "./data/green_tripdata_2023-02.parquet",
    val_path: str = "./data/green_tripdata_2023-03.parquet",
) -> float:
    X_train, X_val, y_train, y_val = add_features(read_data(train_path), read_data(val_path))
    rmse = train_model(X_train, X_val, y_train, y_val)
    print(f"validation RMSE: {rmse:.5f}")
    return rmse


if __name__ == "__main__":
    main_flow_artifact()
