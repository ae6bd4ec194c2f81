"""The 2023 homework's training pipeline ("deployments" assignment), computed directly with
pandas, scikit-learn and xgboost: no Prefect, no import of solutions/. The checks compare a
student's validation RMSE with `rmse(train, val)["rmse"]` on the same files.

The pipeline is the course's 2023 training script (cohorts/2023/03-orchestration):

* keep the green-taxi trips of 1 to 60 minutes (lpep_dropoff_datetime - lpep_pickup_datetime);
* features: "PU_DO" (PULocationID + "_" + DOLocationID, as strings) and the numeric
  trip_distance, through one DictVectorizer fitted on the training month;
* xgb.train with the published hyper-parameters, 100 rounds, early stopping after 20 rounds
  on the validation set; RMSE of booster.predict on the validation set.

xgboost 2.0 changed two defaults that move the figure (tree_method "auto" now means "hist",
base_score is now estimated from the target). Setting `tree_method="exact"` and
`base_score=0.5` gives the figures the course published with xgboost 1.7 to 15 digits:
5.1993124668 (2023-01 -> 2023-02) and 5.3744951952 (2023-02 -> 2023-03).

The oracle trains on one thread by default. The exact method gives the same trees on any
number of threads, and OpenMP's two threads on a busy two-core machine (a Prefect server,
a worker, a student's flow) were measured 5 to 10 times slower than one.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.feature_extraction import DictVectorizer

PICKUP, DROPOFF = "lpep_pickup_datetime", "lpep_dropoff_datetime"
ZONES = ("PULocationID", "DOLocationID")
MIN_MINUTES, MAX_MINUTES = 1, 60
NUM_BOOST_ROUND = 100
EARLY_STOPPING_ROUNDS = 20

# The published best parameters of the 2023 script ("reg:linear" then; the same loss today),
# plus the two pre-2.0 defaults that reproduce its figures on xgboost >= 2.
PARAMS = {
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


def _trips(path: str | os.PathLike) -> tuple[list[dict], np.ndarray]:
    """Feature records and durations (minutes) of the trips of 1 to 60 minutes."""
    df = pd.read_parquet(path, columns=[PICKUP, DROPOFF, *ZONES, "trip_distance"])
    minutes = (df[DROPOFF] - df[PICKUP]).dt.total_seconds() / 60
    kept = (minutes >= MIN_MINUTES) & (minutes <= MAX_MINUTES)
    df = df[kept]
    pu_do = df[ZONES[0]].astype(str) + "_" + df[ZONES[1]].astype(str)
    records = pd.DataFrame({"PU_DO": pu_do, "trip_distance": df["trip_distance"]}).to_dict(orient="records")
    return records, minutes[kept].to_numpy(dtype=float)


# xgboost's own defaults since 2.0 (the histogram method, a base score estimated from the
# target): what a student's unchanged 2023 script gives today. Both count as the course's pipeline.
TODAYS_DEFAULTS = ("tree_method", "base_score")


def rmse(train_path: str | os.PathLike, val_path: str | os.PathLike, nthread: int = 1, todays_defaults: bool = False) -> dict:
    """Train on `train_path`, validate on `val_path`: {rmse, features, train_rows, val_rows}.

    `rmse` is a float at full precision, `features` the DictVectorizer's feature count
    (PU_DO pairs of the training month plus trip_distance), the rows are the kept trips.
    `nthread` is xgboost's (0: all cores); it does not change the figures. `todays_defaults`:
    with xgboost's defaults of today instead of 2023's (TODAYS_DEFAULTS).
    """
    params = {k: v for k, v in PARAMS.items() if not (todays_defaults and k in TODAYS_DEFAULTS)}
    train_records, y_train = _trips(train_path)
    val_records, y_val = _trips(val_path)
    dv = DictVectorizer()
    X_train = dv.fit_transform(train_records)
    X_val = dv.transform(val_records)
    train = xgb.DMatrix(X_train, label=y_train)
    valid = xgb.DMatrix(X_val, label=y_val)
    booster = xgb.train(
        params={**params, "nthread": nthread},
        dtrain=train,
        num_boost_round=NUM_BOOST_ROUND,
        evals=[(valid, "validation")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )
    predicted = booster.predict(valid)
    return {
        "rmse": float(np.sqrt(np.mean((y_val - predicted) ** 2))),
        "features": len(dv.feature_names_),
        "train_rows": len(y_train),
        "val_rows": len(y_val),
    }


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3:
        sys.exit("usage: python checks/deployments/oracle.py TRAIN.parquet VAL.parquet")
    print(rmse(sys.argv[1], sys.argv[2]))
