"""Trip types: the reference reads FHV, green and yellow files (HW3_TAXI), `hw3 key --taxi
green` measures real green months, and the checks' samples follow the key's trip type."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from http_server import GREEN_DIR
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression

from hw3.trips.sample import is_sample
from hw3.trips.tripdata import manifest, trip_type
from checks.flows.variants import ensure_sample_as

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def hw3(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env}
    return subprocess.run([sys.executable, "-m", "hw3.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=600)


def test_the_reference_names_each_types_columns_as_the_manifest_does(reference):
    assert set(reference.COLUMNS) == set(manifest()["types"])
    for name, columns in reference.COLUMNS.items():
        kind = trip_type(name)
        assert columns == (kind.pickup, kind.dropoff, kind.pickup_location, kind.dropoff_location)


@pytest.mark.parametrize("taxi", ["fhv", "green", "yellow"])
def test_get_paths_names_the_files_of_the_trip_type(reference, monkeypatch, taxi):
    monkeypatch.setenv("HW3_TAXI", taxi)
    monkeypatch.setenv("HW3_DATA_DIR", "d")
    assert reference.get_paths.fn("2021-03-15") == (f"d/{taxi}_tripdata_2021-01.parquet", f"d/{taxi}_tripdata_2021-02.parquet")
    assert reference.categorical() == [trip_type(taxi).pickup_location, trip_type(taxi).dropoff_location]


def test_an_unknown_trip_type_is_a_clear_error(reference, monkeypatch):
    monkeypatch.setenv("HW3_TAXI", "limo")
    with pytest.raises(ValueError, match="HW3_TAXI='limo'.*fhv, green, yellow"):
        reference.get_paths.fn("2021-03-15")


def test_a_green_sample_is_the_fhv_sample_under_green_names(tmp_path, monkeypatch):
    monkeypatch.setenv("HW3_CACHE_DIR", str(tmp_path / "cache"))
    green = ensure_sample_as(tmp_path / "data", "green", 2021, 6, 2_000)
    fhv = ensure_sample_as(tmp_path / "data", "fhv", 2021, 6, 2_000)
    assert green.name == "green_tripdata_2021-06.parquet" and is_sample(green)
    kind, fhv_kind = trip_type("green"), trip_type("fhv")
    got, source = pd.read_parquet(green), pd.read_parquet(fhv)
    for new, old in ((kind.pickup, fhv_kind.pickup), (kind.pickup_location, fhv_kind.pickup_location)):
        pd.testing.assert_series_equal(got[new], source[old], check_names=False)
    assert fhv_kind.dropoff not in got.columns
    assert ensure_sample_as(tmp_path / "data", "green", 2021, 6, 2_000).stat().st_mtime_ns == green.stat().st_mtime_ns


def plain_figures(train_file: Path, val_file: Path) -> dict:
    """The green pipeline written out with pandas and scikit-learn only."""

    def trips(path):
        df = pd.read_parquet(path)
        df["duration"] = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
        df = df[(df.duration >= 1) & (df.duration <= 60)].copy()
        zones = ["PULocationID", "DOLocationID"]
        df[zones] = df[zones].fillna(-1).astype(int).astype(str)
        return df[zones].to_dict(orient="records"), df.duration.to_numpy()

    (train, y_train), (val, y_val) = trips(train_file), trips(val_file)
    dv = DictVectorizer()
    model = LinearRegression().fit(dv.fit_transform(train), y_train)
    rmse = float(np.sqrt(np.mean((model.predict(dv.transform(val)) - y_val) ** 2)))
    return {"train_rows": len(y_train), "val_rows": len(y_val), "feature_count": len(dv.feature_names_),
            "val_mse": rmse, "dv_size_bytes": len(pickle.dumps(dv))}


def test_hw3_key_measures_real_green_months(prefect_api_url, tmp_path):
    data = tmp_path / "data"
    out = tmp_path / "green-key.json"
    done = hw3("key", "--taxi", "green", "--date", "2021-03-15", "--out", str(out), "--prefect-api-url", prefect_api_url,
               cwd=tmp_path, env={"HW3_DATA_MIRROR": str(GREEN_DIR), "HW3_DATA_DIR": str(data)})
    assert done.returncode == 0, done.stderr
    key = json.loads(out.read_text())
    row = key["variant"]
    assert (key["taxi"], key["date"], row["training_file"], row["validation_file"]) == (
        "green", "2021-03-15", "green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet")
    files = [data / row["training_file"], data / row["validation_file"]]
    assert all(f.is_file() and not is_sample(f) and pq.read_metadata(f).num_rows > 50_000 for f in files)  # the real months
    expected = plain_figures(*files)
    figures = row["figures"]
    assert {k: figures[k] for k in ("train_rows", "val_rows", "feature_count", "dv_size_bytes")} == {
        k: expected[k] for k in ("train_rows", "val_rows", "feature_count", "dv_size_bytes")}
    assert figures["val_mse"] == pytest.approx(expected["val_mse"], rel=1e-12)
    # Another variant than the course's: options generated around the figures, 0.2 and 10,000 apart.
    q2, q3 = row["questions"]["q2"], row["questions"]["q3"]
    assert q2["answer"] == f"{expected['val_mse']:.3f}" and q2["answer"] in q2["options"]
    assert np.allclose(np.diff([float(o) for o in q2["options"]]), 0.2)
    assert q3["answer"] == f"{round(expected['dv_size_bytes'], -3):,} bytes" and q3["answer"] in q3["options"]
    assert np.diff([int(o.split()[0].replace(",", "")) for o in q3["options"]]).tolist() == [10_000] * 3
    assert figures["scheduled_runs"] == 3 and row["questions"]["q6"]["answer"] == "prefect work-queue ls"
    assert "flow 2021-03-15 done in" in done.stderr and "server" not in key["timings"]  # the session's server
