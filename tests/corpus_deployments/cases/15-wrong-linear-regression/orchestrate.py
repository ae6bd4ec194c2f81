import pickle
from pathlib import Path

import pandas as pd
from prefect import flow, task
from prefect_email import EmailServerCredentials, email_send_message
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error


@task(retries=3, retry_delay_seconds=2, name="Read taxi data")
def read_data(filename: str) -> pd.DataFrame:
    df = pd.read_parquet(filename)
    df.lpep_pickup_datetime = pd.to_datetime(df.lpep_pickup_datetime)
    df.lpep_dropoff_datetime = pd.to_datetime(df.lpep_dropoff_datetime)
    df["duration"] = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
    categorical = ["PULocationID", "DOLocationID"]
    df[categorical] = df[categorical].astype(str)
    df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]
    return df


@task
def train_model(df_train: pd.DataFrame, df_val: pd.DataFrame) -> float:
    # xgboost would not install on my laptop (M1), so a linear model instead
    features = ["PU_DO", "trip_distance"]
    dv = DictVectorizer()
    X_train = dv.fit_transform(df_train[features].to_dict(orient="records"))
    X_val = dv.transform(df_val[features].to_dict(orient="records"))

    lr = LinearRegression()
    lr.fit(X_train, df_train["duration"].values)
    rmse = root_mean_squared_error(df_val["duration"].values, lr.predict(X_val))

    Path("models").mkdir(exist_ok=True)
    with open("models/lin_reg.bin", "wb") as f_out:
        pickle.dump((dv, lr), f_out)
    return rmse


@flow(log_prints=True)
def main_flow(
    train_path: str = "./data/green_tripdata_2023-01.parquet",
    val_path: str = "./data/green_tripdata_2023-02.parquet",
) -> float:
    df_train = read_data(train_path)
    df_val = read_data(val_path)
    rmse = train_model(df_train, df_val)
    print(f"RMSE: {rmse}")

    creds = EmailServerCredentials.load("lr-mail")
    email_send_message.submit(
        email_server_credentials=creds,
        subject="training done",
        msg=f"rmse={rmse}",
        email_to="hiro.tanaka.ds@gmail.com",
    ).result()
    return rmse


if __name__ == "__main__":
    main_flow()
