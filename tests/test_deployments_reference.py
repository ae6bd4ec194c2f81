"""The "deployments" assignment (the course's 2023 homework): its oracle, its reference
solution (solutions/deployments/) and its data, the green synthetic sample.

* the oracle (checks/deployments/oracle.py) gives the published figures on the real green
  files, and so does a plain computation written out here;
* the reference flow gives the oracle's RMSE on the green sample, logs it, saves it as a
  markdown artifact, mails it through prefect-email, and retries a read that fails once;
* the green sample is deterministic, plausible, reachable through the data commands, and the
  FHV sample is exactly what it was.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tomllib

from hw3.trips import sample
from hw3.layout import PROJECT_ROOT

SOLUTION_DIR = PROJECT_ROOT / "solutions" / "deployments"
ORACLE_FILE = PROJECT_ROOT / "checks" / "deployments" / "oracle.py"

# Published (2023 homework) and measured on the real files (../shared/reference/2023-homework.md).
REAL_FIGURES = {
    ("2023-01", "2023-02"): {"rmse": 5.1993124668, "features": 5_702, "train_rows": 65_946, "val_rows": 62_574},
    ("2023-02", "2023-03"): {"rmse": 5.3744951952, "features": 5_867, "train_rows": 62_574, "val_rows": 69_392},
}
Q3_ANSWER, Q4_ANSWER = "5.19931", "5.37"
# The reference on the green sample (default size, 10,000 trips a month), measured with xgboost 3.2.
SAMPLE_RMSE = {("2023-01", "2023-02"): 5.596380547684376, ("2023-02", "2023-03"): 5.556453288413793}
# Content digests of FHV sample months made by the generator before green months existed.
FHV_DIGESTS = {
    (2021, 6, 25_000): "f338efadf59e82e76af012629009a1383239b3a6de02f278248bc699972a9193",
    (2021, 6, 2_000): "7bbe3e8ee61e6deba3cc47043b62c30de5ec41fca75ec09dae464a5367667fd1",
    (2023, 2, 3_000): "f3877b0d896403d9f595213e4f06b52e703f3a8de874c59985cb3aa6478e6523",
}


def real_data_dir() -> Path | None:
    """The folder of the real green 2023 files: HW3_DATA_MIRROR (a folder), else ../shared/data."""
    for folder in (os.environ.get("HW3_DATA_MIRROR"), PROJECT_ROOT.parent / "shared" / "data"):
        if folder and "://" not in str(folder) and all(
            (Path(folder) / f"green_tripdata_2023-0{m}.parquet").is_file() for m in (1, 2, 3)
        ):
            return Path(folder)
    return None


REAL_DIR = real_data_dir()
needs_real = pytest.mark.skipif(
    REAL_DIR is None,
    reason="needs the real green files green_tripdata_2023-01..03.parquet in HW3_DATA_MIRROR or ../shared/data",
)


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def oracle() -> ModuleType:
    return load(ORACLE_FILE, "deployments_oracle")


@pytest.fixture(scope="module")
def orchestrate() -> ModuleType:
    return load(SOLUTION_DIR / "orchestrate.py", "deployments_reference_orchestrate")


@pytest.fixture(scope="module")
def green_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder like the course's: data/ holds the green sample months 2023-01..03."""
    folder = tmp_path_factory.mktemp("green-run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(sample.CACHE_ENV, str(tmp_path_factory.mktemp("green-cache")))
        for month in (1, 2, 3):
            sample.ensure_sample_month(folder / "data", 2023, month, taxi="green")
    return folder


def month_path(folder: Path, month: str) -> Path:
    return folder / f"green_tripdata_{month}.parquet"


def plain_rmse(train_file: Path, val_file: Path) -> float:
    """The 2023 training script, written out again: numpy durations, a fresh DictVectorizer."""
    import xgboost as xgb
    from sklearn.feature_extraction import DictVectorizer

    def trips(path):
        df = pd.read_parquet(path)
        seconds = (df["lpep_dropoff_datetime"].to_numpy() - df["lpep_pickup_datetime"].to_numpy()) / np.timedelta64(1, "s")
        minutes = seconds / 60
        keep = (minutes >= 1) & (minutes <= 60)
        df = df[keep]
        records = [{"PU_DO": f"{pu}_{do}", "trip_distance": d}
                   for pu, do, d in zip(df["PULocationID"], df["DOLocationID"], df["trip_distance"])]
        return records, minutes[keep]

    (train, y_train), (val, y_val) = trips(train_file), trips(val_file)
    dv = DictVectorizer()
    dtrain = xgb.DMatrix(dv.fit_transform(train), label=y_train)
    dval = xgb.DMatrix(dv.transform(val), label=y_val)
    params = {"learning_rate": 0.09585355369315604, "max_depth": 30, "min_child_weight": 1.060597050922164,
              "objective": "reg:squarederror", "reg_alpha": 0.018060244040060163,
              "reg_lambda": 0.011658731377413597, "seed": 42, "tree_method": "exact", "base_score": 0.5,
              "nthread": 1}  # not the script's; the same trees, and far faster on a busy machine
    booster = xgb.train(params, dtrain, num_boost_round=100, evals=[(dval, "validation")],
                        early_stopping_rounds=20, verbose_eval=False)
    return float(np.sqrt(np.mean((booster.predict(dval) - y_val) ** 2)))


# --- the oracle on the real files -------------------------------------------------------

@needs_real
@pytest.mark.slow
@pytest.mark.parametrize("pair", list(REAL_FIGURES), ids=lambda pair: "->".join(pair))
def test_oracle_gives_the_published_figures_on_the_real_files(oracle, pair):
    train, val = (month_path(REAL_DIR, month) for month in pair)
    got = oracle.rmse(train, val)
    want = REAL_FIGURES[pair]
    assert {k: got[k] for k in ("features", "train_rows", "val_rows")} == {k: want[k] for k in ("features", "train_rows", "val_rows")}
    assert got["rmse"] == pytest.approx(want["rmse"], abs=1e-9)
    assert got["rmse"] == pytest.approx(plain_rmse(train, val), abs=1e-9)
    if pair == ("2023-01", "2023-02"):
        assert f"{got['rmse']:.5f}" == Q3_ANSWER
    else:
        assert f"{got['rmse']:.2f}" == Q4_ANSWER


def imported(path: Path) -> set[str]:
    """The top-level packages a file imports."""
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return {name.split(".")[0] for name in names}


def test_oracle_is_independent_of_prefect_and_the_solution():
    assert imported(ORACLE_FILE) <= {"__future__", "os", "sys", "numpy", "pandas", "xgboost", "sklearn"}


@pytest.mark.parametrize("pair", [
    ("2023-01", "2023-02"),
    pytest.param(("2023-02", "2023-03"), marks=pytest.mark.slow),
], ids=lambda pair: "->".join(pair))
def test_oracle_on_the_green_sample_is_the_plain_computation_and_plausible(oracle, green_dir, pair):
    train, val = (month_path(green_dir / "data", month) for month in pair)
    got = oracle.rmse(train, val)
    assert 5.0 < got["rmse"] < 8.0
    assert got["rmse"] == pytest.approx(SAMPLE_RMSE[pair], abs=1e-4)  # the same sample, the same figure
    assert got["rmse"] == pytest.approx(plain_rmse(train, val), abs=1e-9)
    assert got["train_rows"] == got["val_rows"] == round(sample.GREEN_DEFAULT_ROWS * (1 - sample.GREEN_OUTLIERS))
    assert 2_000 < got["features"] < 3_500


@pytest.mark.slow
def test_the_oracles_threads_change_nothing(oracle, green_dir):
    train, val = (month_path(green_dir / "data", month) for month in ("2023-01", "2023-02"))
    assert oracle.rmse(train, val, nthread=2)["rmse"] == oracle.rmse(train, val)["rmse"]


def test_the_keys_flow_trains_on_one_thread_as_the_checks_worker_does(tmp_path):
    """hw3 key's run of the reference flow (hooks.RUN_FLOW) sets one thread per numeric library
    before the flow's module is imported, as the checks' worker does for a student's run."""
    from checks.deployments import hooks
    from checks.deployments.session import WORKER_ENV

    (tmp_path / "orchestrate.py").write_text(
        "import os, types\n"
        "def main_flow(train_path, val_path, return_state):\n"
        "    threads = os.environ.get('OMP_NUM_THREADS'), os.environ.get('OPENBLAS_NUM_THREADS')\n"
        "    details = types.SimpleNamespace(flow_run_id='/'.join(map(str, threads)))\n"
        "    return types.SimpleNamespace(state_details=details, type=types.SimpleNamespace(value='COMPLETED'))\n")
    env = {k: v for k, v in os.environ.items() if k not in WORKER_ENV}
    done = subprocess.run([sys.executable, "-c", hooks.RUN_FLOW, "a", "b"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.split() == ["flow", "run", f"{WORKER_ENV['OMP_NUM_THREADS']}/{WORKER_ENV['OPENBLAS_NUM_THREADS']}",
                                   "COMPLETED"], done.stderr


def test_the_oracles_figure_is_computed_once_per_machine(green_dir, tmp_path, monkeypatch):
    """reuse.oracle_rmse: the oracle's figure, then the kept one; other files are computed anew."""
    from checks.deployments import oracle, reuse

    monkeypatch.setenv(sample.CACHE_ENV, str(tmp_path / "cache"))
    train, val = (month_path(green_dir / "data", month) for month in ("2023-01", "2023-02"))
    assert reuse.oracle_rmse(train, val) == pytest.approx(oracle.rmse(train, val)["rmse"], abs=1e-12)
    [kept] = (tmp_path / "cache" / "oracle").iterdir()
    kept.write_text('{"rmse": 1.25}')
    assert reuse.oracle_rmse(train, val) == 1.25, "the second session reads the kept figure"
    assert reuse.oracle_rmse(train, val, todays_defaults=True) != 1.25, "today's defaults are kept apart"
    assert reuse.oracle_rmse(val, train) != 1.25, "other files: another figure"
    assert len(list((tmp_path / "cache" / "oracle").iterdir())) == 3


def test_an_empty_mlflow_store_is_made_once_and_records_a_run(tmp_path, monkeypatch):
    """reuse.mlflow_template: made once, and a run's metrics land in a copy of it as they would
    in a store of the run's own."""
    from checks.deployments import reuse

    monkeypatch.setenv(sample.CACHE_ENV, str(tmp_path / "cache"))
    template = reuse.mlflow_template()
    assert template is not None and template.is_file()
    made = template.stat().st_mtime_ns
    assert reuse.mlflow_template() == template and template.stat().st_mtime_ns == made
    run = tmp_path / "run"
    run.mkdir()
    (run / reuse.STORE_NAME).write_bytes(b"the submission's own")
    reuse.provide_store(run, template)
    assert (run / reuse.STORE_NAME).read_bytes() == b"the submission's own", "a submission's store is kept"
    (run / reuse.STORE_NAME).unlink()
    reuse.provide_store(run, template)
    code = ("import mlflow\nmlflow.set_tracking_uri('sqlite:///mlflow.db')\nmlflow.set_experiment('nyc-taxi-experiment')\n"
            "with mlflow.start_run():\n    mlflow.log_metric('rmse', 5.25)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=run, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Creating initial MLflow database tables" not in result.stderr
    import sqlite3
    with sqlite3.connect(run / reuse.STORE_NAME) as db:
        assert db.execute("SELECT key, value FROM metrics").fetchall() == [("rmse", 5.25)]


# --- the green sample ---------------------------------------------------------------------

def is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def frame_digest(frame: pd.DataFrame) -> str:
    """A digest of a frame's values and column names, independent of the parquet writer."""
    digest = hashlib.sha256()
    for name in frame.columns:
        column = frame[name]
        digest.update(name.encode())
        if column.dtype.kind in "Mm":
            digest.update(column.to_numpy().astype("datetime64[us]").view("int64").tobytes())
        elif column.dtype.kind == "f":
            digest.update(column.to_numpy().tobytes())
        else:
            digest.update("\x00".join("\x01" if is_missing(v) else str(v) for v in column.tolist()).encode())
    return digest.hexdigest()


@pytest.mark.parametrize(("year", "month", "rows"), list(FHV_DIGESTS))
def test_the_fhv_sample_is_unchanged(year, month, rows, tmp_path):
    assert frame_digest(sample.sample_month(year, month, rows)) == FHV_DIGESTS[(year, month, rows)]
    path = sample.write_sample_month(tmp_path / f"fhv_tripdata_{year}-{month:02d}.parquet", year, month, rows)
    assert sample.sample_info(path) == {"generator": sample.GENERATOR_VERSION, "year": year, "month": month, "rows": rows}
    assert sample.GENERATOR_VERSION == 2


def test_the_green_sample_is_deterministic_and_marked(tmp_path, monkeypatch):
    monkeypatch.setenv(sample.CACHE_ENV, str(tmp_path / "cache"))
    first = sample.write_sample_month(tmp_path / "a" / "green_tripdata_2023-01.parquet", 2023, 1, taxi="green")
    second = sample.write_sample_month(tmp_path / "b" / "green_tripdata_2023-01.parquet", 2023, 1, taxi="green")
    assert first.read_bytes() == second.read_bytes()
    assert sample.sample_info(first) == {"generator": sample.GREEN_GENERATOR_VERSION, "taxi": "green",
                                         "year": 2023, "month": 1, "rows": sample.GREEN_DEFAULT_ROWS}
    assert sample.is_sample(first)
    pd.testing.assert_frame_equal(sample.sample_month(2023, 1, taxi="green"), pd.read_parquet(first))
    february = sample.sample_month(2023, 2, taxi="green")
    assert not np.array_equal(february["PULocationID"].to_numpy(), pd.read_parquet(first)["PULocationID"].to_numpy())
    assert len(sample.sample_month(2023, 1, 3_000, taxi="green")) == 3_000

    ensured = sample.ensure_sample_month(tmp_path / "data", 2023, 1, taxi="green")
    assert ensured == tmp_path / "data" / "green_tripdata_2023-01.parquet"
    assert ensured.read_bytes() == first.read_bytes()
    cached = tmp_path / "cache" / "samples" / f"green-v{sample.GREEN_GENERATOR_VERSION}" / "green_tripdata_2023-01.rows10000.parquet"
    assert cached.is_file()
    fhv = sample.ensure_sample_month(tmp_path / "data", 2023, 1, 2_000)  # the FHV month beside it
    assert fhv.name == "fhv_tripdata_2023-01.parquet" and "taxi" not in sample.sample_info(fhv)


def test_the_green_sample_has_the_real_columns_and_shape(tmp_path):
    path = sample.write_sample_month(tmp_path / "green_tripdata_2023-01.parquet", 2023, 1, taxi="green")
    schema = pq.read_schema(path)
    assert schema.names == list(sample.green_schema().names)
    if REAL_DIR is not None:
        real = pq.read_schema(month_path(REAL_DIR, "2023-01"))
        assert list(zip(schema.names, schema.types)) == list(zip(real.names, real.types))
    assert schema.field("PULocationID").type == pa.int64() and schema.field("ehail_fee").type == pa.null()
    frame = pd.read_parquet(path)
    assert frame.dtypes.to_dict() == sample.sample_month(2023, 1, taxi="green").dtypes.to_dict()
    assert frame[["PULocationID", "DOLocationID", "trip_distance"]].notna().all().all()
    assert frame["lpep_pickup_datetime"].is_monotonic_increasing
    assert frame["lpep_pickup_datetime"].min() >= pd.Timestamp(2023, 1, 1)
    assert frame["lpep_pickup_datetime"].max() < pd.Timestamp(2023, 2, 1)
    minutes = (frame["lpep_dropoff_datetime"] - frame["lpep_pickup_datetime"]).dt.total_seconds() / 60
    kept = minutes.between(1, 60)
    assert (~kept).mean() == pytest.approx(sample.GREEN_OUTLIERS, abs=0.001)
    assert 10 < minutes[kept].mean() < 18  # real January 2023: 13.7 min
    distance = frame.loc[kept, "trip_distance"]
    assert (distance == 0).mean() == pytest.approx(sample.GREEN_ZERO_DISTANCE, abs=0.003)
    sane = (distance > 0) & (distance < 50)
    assert np.corrcoef(distance[sane], minutes[kept][sane])[0, 1] > 0.6  # real: 0.76
    assert frame["payment_type"].isna().mean() == pytest.approx(sample.GREEN_MISSING, abs=0.001)


def test_hw3_data_sample_writes_green_months(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), sample.CACHE_ENV: str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "hw3.cli", "data", "sample", "--taxi", "green", "2023-01", "2023-02",
                          "--rows", "2000", "--dest", str(tmp_path / "data")],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"{tmp_path / 'data'}/green_tripdata_2023-0{m}.parquet: synthetic green month, 2,000 trips"
                                       for m in (1, 2)]
    checked = subprocess.run([sys.executable, "-m", "hw3.cli", "data", "check", *sorted(map(str, (tmp_path / "data").iterdir()))],
                             env=env, capture_output=True, text=True, timeout=300, check=False)
    assert checked.returncode == 0, checked.stdout
    assert all("ok, green trip file, 2,000 rows, 20 columns [SYNTHETIC sample" in line for line in checked.stdout.splitlines())


# --- the reference solution: its contract, without a server --------------------------------------

def test_the_reference_contract(orchestrate):
    read = orchestrate.read_data
    assert (read.name, read.retries, read.retry_delay_seconds) == ("Read taxi data", 3, 2)
    assert orchestrate.main_flow.name == "main-flow"
    parameters = inspect.signature(orchestrate.main_flow.fn).parameters
    assert {name: p.default for name, p in parameters.items()} == {
        "train_path": "data/green_tripdata_2023-01.parquet", "val_path": "data/green_tripdata_2023-02.parquet",
        "notify_to": None, "email_block": "taxi-email"}
    assert "mlflow" in imported(SOLUTION_DIR / "orchestrate.py")  # tracked as the course's 2023 script is
    assert ".submit(" in inspect.getsource(orchestrate.send_report)


def test_prefect_yaml_deploys_from_where_it_is():
    import yaml

    config = yaml.safe_load((SOLUTION_DIR / "prefect.yaml").read_text())
    (deployment,) = config["deployments"]
    assert deployment["name"] == "taxi-monthly" and deployment["entrypoint"] == "orchestrate.py:main_flow"
    assert deployment["work_pool"] == {"name": "taxi-pool", "work_queue_name": "default"}
    assert deployment["schedules"] == [{"cron": "0 9 3 * *", "timezone": "UTC"}]
    # The pull step's folder is the output of a build step run where `prefect deploy` runs.
    (build,) = config["build"]
    assert build == {"prefect.deployments.steps.set_working_directory": {"id": "here", "directory": "."}}
    assert config["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ here.directory }}"}}]


def test_answers_are_the_published_options():
    answers = tomllib.loads((SOLUTION_DIR / "answers.toml").read_text())
    assert answers == {
        "q1": '@task(retries=3, retry_delay_seconds=2, name="Read taxi data")', "q2": "0 9 3 * *",
        "q3": Q3_ANSWER, "q4": Q4_ANSWER, "q5": "email_send_message", "q6": "prefect.flow-run.Completed",
    }


# --- the reference flow on a Prefect server ------------------------------------------------------

def flow_logs(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # the logs are sent in batches
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]


def task_runs(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


@pytest.mark.slow
def test_the_reference_flow_gives_the_oracles_rmse_logs_it_and_saves_it(prefect_api_url, orchestrate, oracle,
                                                                         green_dir, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    monkeypatch.chdir(green_dir)  # the defaults are relative: data/green_tripdata_2023-0{1,2}.parquet
    for pair in SAMPLE_RMSE:
        kwargs = {} if pair == ("2023-01", "2023-02") else {
            "train_path": f"data/green_tripdata_{pair[0]}.parquet", "val_path": f"data/green_tripdata_{pair[1]}.parquet"}
        state = orchestrate.main_flow(**kwargs, return_state=True)  # no notify_to: no email, no block needed
        assert state.is_completed(), state
        rmse = state.result()
        want = oracle.rmse(*(month_path(green_dir / "data", month) for month in pair))["rmse"]
        assert rmse == pytest.approx(want, abs=1e-9)

        flow_run_id = state.state_details.flow_run_id
        assert f"validation RMSE: {rmse}" in flow_logs(flow_run_id)
        names = sorted(run.name.rsplit("-", 1)[0] for run in task_runs(flow_run_id))
        assert names == ["Read taxi data", "Read taxi data", "add_features", "train_best_model"]
        with get_client(sync_client=True) as client:
            (artifact,) = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        assert (artifact.key, artifact.type) == ("rmse-report", "markdown")
        assert f"| {rmse:.5f} |" in artifact.data


@pytest.mark.slow
def test_the_reference_flow_mails_the_rmse(prefect_api_url, orchestrate, green_dir, monkeypatch):
    controller_module = pytest.importorskip("aiosmtpd.controller")
    email_block = load(SOLUTION_DIR / "email_block.py", "deployments_reference_email_block")

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = controller_module.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        block_id = email_block.save_email_block("127.0.0.1", port, name="test-taxi-email")
        assert len(block_id) == 36
        monkeypatch.chdir(green_dir)
        rmse = orchestrate.main_flow(notify_to="student@example.com", email_block="test-taxi-email")
    finally:
        controller.stop()
    (envelope,) = inbox.messages
    assert envelope.rcpt_tos == ["student@example.com"]
    text = envelope.content.decode()
    subject = next(line for line in text.splitlines() if line.startswith("Subject: "))
    assert "main-flow" in subject and f"{rmse:.5f}" in subject


@pytest.mark.slow
def test_a_read_that_fails_once_is_retried(prefect_api_url, orchestrate, green_dir, tmp_path, monkeypatch):
    """How a check can make the student's read_data fail exactly once without touching it:
    the training file is missing at the first attempt and is put in place as soon as the API
    shows that task run waiting for its retry (AwaitingRetry; the retry starts 2 s later)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        TaskRunFilter,
        TaskRunFilterName,
        TaskRunFilterState,
        TaskRunFilterStateName,
    )

    waiting_reads = TaskRunFilter(name=TaskRunFilterName(like_="Read taxi data"),
                                  state=TaskRunFilterState(name=TaskRunFilterStateName(any_=["AwaitingRetry"])))
    folder = tmp_path / "run"
    shutil.copytree(green_dir / "data", folder / "data")
    late = folder / "data" / "late" / "green_tripdata_2023-01.parquet"
    monkeypatch.chdir(folder)
    placed = threading.Event()

    def put_the_file_in_place_on_the_first_failure():
        deadline = time.monotonic() + 120
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline and not placed.is_set():
                if client.read_task_runs(task_run_filter=waiting_reads):
                    late.parent.mkdir()
                    shutil.copy(folder / "data" / "green_tripdata_2023-01.parquet", late)
                    placed.set()
                time.sleep(0.2)

    watcher = threading.Thread(target=put_the_file_in_place_on_the_first_failure, daemon=True)
    watcher.start()
    state = orchestrate.main_flow(train_path="data/late/green_tripdata_2023-01.parquet", return_state=True)
    placed.set()
    watcher.join(10)
    assert state.is_completed(), state
    flow_run_id = state.state_details.flow_run_id
    reads = {run.name: run for run in task_runs(flow_run_id) if run.name.startswith("Read taxi data")}
    assert sorted(run.run_count for run in reads.values()) == [1, 2]
    retried = next(run for run in reads.values() if run.run_count == 2)
    with get_client(sync_client=True) as client:
        history = [s.name for s in client.read_task_run_states(retried.id)]
    assert history == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]
    assert any("FileNotFoundError" in line and "Retry 1/3 will start 2 second(s) from now" in line
               for line in flow_logs(flow_run_id))
