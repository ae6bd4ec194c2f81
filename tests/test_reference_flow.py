"""The reference flow (solutions/homework.py) on the test session's Prefect server: its
artifacts, its state and logs on the server, its figures against checks.flows.oracle; and `hw3 train`,
which fetches the months (mirror, TLC, else a synthetic sample) and runs the flow."""

from __future__ import annotations

import datetime
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression

from checks.flows import oracle
from hw3.trips.sample import is_sample, write_sample_month
from hw3.layout import PROJECT_ROOT
from http_server import tlc_server  # noqa: F401 (a fixture: a local stand-in for TLC's web server)

COURSE_DATE = "2021-08-15"
TASKS = {"get_paths": 1, "read_data": 2, "prepare_features": 2, "train_model": 1, "run_model": 1}
NUMBER = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"


def server_view(flow_run_id):
    """(flow run, its task runs, its log messages) as the Prefect server has them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return flow_run, task_runs, [log.message for log in logs]


def logged_figure(messages, label):
    """The number in the one log message containing `label` (it must hold a single number)."""
    found = [m for m in messages if label in m]
    assert len(found) == 1, f"expected one log message with {label!r}, got {found}"
    numbers = re.findall(NUMBER, found[0])
    assert len(numbers) == 1, f"expected a single figure in {found[0]!r}"
    return float(numbers[0])


def load_artifacts(models_dir, day):
    with open(models_dir / f"model-{day}.bin", "rb") as f:
        model = pickle.load(f)
    with open(models_dir / f"dv-{day}.b", "rb") as f:
        dv = pickle.load(f)
    return model, dv


def test_the_flow_on_the_sample(reference, prefect_api_url, flow_dirs, capfd):
    data_dir, models_dir = flow_dirs
    capfd.readouterr()
    state = reference.main(date=COURSE_DATE, return_state=True)
    assert capfd.readouterr().out == "", "the flow must log, not print"
    assert state.is_completed()
    val_mse = state.result()
    expected = oracle.figures(data_dir / "fhv_tripdata_2021-06.parquet", data_dir / "fhv_tripdata_2021-07.parquet")
    assert val_mse == pytest.approx(expected.val_mse, abs=1e-9)

    # Exactly the two artifacts, unpickling to the fitted model and vectorizer.
    assert sorted(p.name for p in models_dir.iterdir()) == [f"dv-{COURSE_DATE}.b", f"model-{COURSE_DATE}.bin"]
    model, dv = load_artifacts(models_dir, COURSE_DATE)
    assert isinstance(model, LinearRegression) and isinstance(dv, DictVectorizer)
    assert len(dv.feature_names_) == expected.feature_count == len(model.coef_)
    assert (models_dir / f"dv-{COURSE_DATE}.b").stat().st_size == expected.dv_size_bytes

    flow_run, task_runs, messages = server_view(state.state_details.flow_run_id)
    assert flow_run.state.is_completed() and flow_run.parameters == {"date": COURSE_DATE}
    assert {name: sum(t.task_key.startswith(name + "-") for t in task_runs) for name in TASKS} == TASKS
    assert all(t.state.is_completed() for t in task_runs)
    assert logged_figure(messages, "validation MSE") == pytest.approx(expected.val_mse, abs=1e-9)
    assert any(f"validation MSE: {val_mse}" in m for m in messages)
    assert logged_figure(messages, "training MSE") == pytest.approx(expected.train_mse, abs=1e-9)
    assert logged_figure(messages, "training trips") == pytest.approx(expected.train_mean_duration, abs=1e-9)
    assert logged_figure(messages, "validation trips") == pytest.approx(expected.val_mean_duration, abs=1e-9)
    assert logged_figure(messages, "features") == expected.feature_count
    assert any(f"({expected.train_rows}, {expected.feature_count})" in m for m in messages), "X_train's shape"


def test_date_none_names_the_artifacts_after_today(reference, prefect_api_url, flow_dirs):
    _, models_dir = flow_dirs
    # A moving clock: task-run states stamped at one frozen instant upset the server.
    with time_machine.travel(datetime.datetime(2021, 8, 20, 12, 0), tick=True):
        state = reference.main(return_state=True)
    assert state.is_completed()
    assert sorted(p.name for p in models_dir.iterdir()) == ["dv-2021-08-20.b", "model-2021-08-20.bin"]


def test_a_bad_date_fails_the_flow_and_saves_nothing(reference, prefect_api_url, flow_dirs):
    _, models_dir = flow_dirs
    with pytest.raises(ValueError, match="'2021/08/15'"):
        reference.main(date="2021/08/15")
    assert not models_dir.exists()


def test_a_missing_month_fails_naming_the_file_and_the_fix(reference, prefect_api_url, flow_dirs):
    data_dir, models_dir = flow_dirs
    with pytest.raises(FileNotFoundError, match=r"fhv_tripdata_2021-04\.parquet.*hw3 data fetch 2021-06-15"):
        reference.main(date="2021-06-15")
    assert not models_dir.exists()


def test_a_failed_save_leaves_no_half_written_file(reference, tmp_path):
    target = tmp_path / "models" / "model-2021-08-15.bin"
    unpicklable = [b"x" * 1_000_000, lambda: None]  # fails after a megabyte is written
    with pytest.raises((pickle.PicklingError, AttributeError)):
        reference.save_pickle(unpicklable, target)
    assert list(target.parent.iterdir()) == []

    reference.save_pickle({"fitted": True}, target)
    with pytest.raises((pickle.PicklingError, AttributeError)):
        reference.save_pickle(unpicklable, target)
    assert pickle.loads(target.read_bytes()) == {"fitted": True}, "the earlier file is kept whole"
    assert [p.name for p in target.parent.iterdir()] == [target.name]


# --- `hw3 train`, as a real subprocess ----------------------------------------------------------

def hw3_train(*args, cwd, env):
    """Run `hw3 train` in a fresh interpreter, with this checkout's hw3 importable."""
    return subprocess.run([sys.executable, "-m", "hw3.cli", "train", *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def train_env(tmp_path, tlc_server):
    """Folders of an `hw3 train` run, in tmp; TLC is the local stand-in (empty: every file 404s)."""
    return {"HW3_DATA_DIR": str(tmp_path / "data"), "HW3_MODELS_DIR": str(tmp_path / "models")}


def assert_trained(result, env, day=COURSE_DATE):
    """`hw3 train` succeeded and printed the oracle's validation MSE and both artifact paths."""
    assert result.returncode == 0, result.stderr
    data_dir, models_dir = Path(env["HW3_DATA_DIR"]), Path(env["HW3_MODELS_DIR"])
    train_path, val_path = (data_dir / f"fhv_tripdata_{month}.parquet" for month in ("2021-06", "2021-07"))
    printed = float(re.search(r"validation MSE: (" + NUMBER + ")", result.stdout).group(1))
    assert printed == pytest.approx(oracle.figures(train_path, val_path).val_mse, abs=1e-9)
    for artifact in (models_dir / f"model-{day}.bin", models_dir / f"dv-{day}.b"):
        assert artifact.is_file() and f"saved {artifact}" in result.stdout


def test_hw3_train_fetches_the_months_from_the_mirror(prefect_api_url, train_env, tmp_path):
    mirror = tmp_path / "mirror"
    for month in (6, 7):
        write_sample_month(mirror / f"fhv_tripdata_2021-{month:02d}.parquet", 2021, month, rows=3_000)
    result = hw3_train(cwd=tmp_path, env={**train_env, "HW3_DATA_MIRROR": str(mirror)})
    assert_trained(result, train_env)
    for month in (6, 7):
        name = f"fhv_tripdata_2021-{month:02d}.parquet"
        assert (Path(train_env["HW3_DATA_DIR"]) / name).read_bytes() == (mirror / name).read_bytes()
    assert "SYNTHETIC" not in result.stderr


def test_hw3_train_downloads_from_tlc(prefect_api_url, train_env, tlc_server, tmp_path):
    for month in (6, 7):
        name = f"fhv_tripdata_2021-{month:02d}.parquet"
        tlc_server.files[f"/tlc/{name}"] = write_sample_month(tmp_path / name, 2021, month, rows=2_500).read_bytes()
    result = hw3_train("--date", "2021-08-16", cwd=tmp_path, env=train_env)
    assert_trained(result, train_env, day="2021-08-16")


def test_hw3_train_makes_up_a_sample_when_no_source_has_the_months(prefect_api_url, train_env, tmp_path):
    result = hw3_train("--sample-rows", "2500", cwd=tmp_path, env=train_env)
    assert_trained(result, train_env)
    assert result.stderr.count("SYNTHETIC") == 2
    assert all(is_sample(p) for p in Path(train_env["HW3_DATA_DIR"]).iterdir())


def test_hw3_train_in_a_student_release_uses_homework(prefect_api_url, train_env, sample_data_dir, tmp_path):
    project = tmp_path / "release"
    (project / "homework").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "solutions" / "homework.py", project / "homework" / "homework.py")  # a finished homework
    shutil.copytree(sample_data_dir, train_env["HW3_DATA_DIR"])
    result = hw3_train("--project", str(project), cwd=tmp_path, env=train_env)
    assert_trained(result, train_env)
    assert f"training with {project / 'homework' / 'homework.py'}" in result.stderr


@pytest.mark.parametrize("date", ["2021/08/15", "2021-02-30"])
def test_hw3_train_rejects_a_bad_date(prefect_api_url, train_env, tmp_path, date):
    result = hw3_train("--date", date, cwd=tmp_path, env=train_env)
    assert result.returncode == 2
    assert f"--date {date!r}" in result.stderr and "YYYY-MM-DD" in result.stderr
    assert "Traceback" not in result.stderr
    assert not Path(train_env["HW3_MODELS_DIR"]).exists()


@pytest.mark.slow
def test_hw3_train_starts_its_own_temporary_server(train_env, sample_data_dir, tmp_path):
    """No PREFECT_API_URL: the flow runs on Prefect's temporary local server."""
    shutil.copytree(sample_data_dir, train_env["HW3_DATA_DIR"])
    env = {**train_env, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PREFECT_API_URL", raising=False)
        result = hw3_train(cwd=tmp_path, env=env)
    assert_trained(result, train_env)
    assert "Starting temporary server" in result.stderr


# --- `hw3 train --assignment deployments`: the 2023 flow, run in its own folder -------------------

@pytest.fixture
def release_2023(tmp_path):
    """A student release's project whose homework/deployments/ holds the finished 2023 homework."""
    project = tmp_path / "release"
    shutil.copytree(PROJECT_ROOT / "solutions" / "deployments", project / "homework" / "deployments",
                    ignore=shutil.ignore_patterns("data", "mlflow.db", "__pycache__"))
    return project


def test_hw3_train_runs_the_2023_flow_on_synthetic_months(prefect_api_url, tlc_server, release_2023, tmp_path):
    from checks.deployments import oracle

    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    result = hw3_train("--assignment", "deployments", "--project", str(release_2023), "--sample-rows", "3000",
                       cwd=tmp_path, env={"HW3_DATA_MIRROR": str(empty)})
    assert result.returncode == 0, result.stderr
    folder = release_2023 / "homework" / "deployments"
    assert f"training with {folder / 'orchestrate.py'}" in result.stderr and result.stderr.count("SYNTHETIC") == 2
    data = [folder / "data" / f"green_tripdata_2023-{month:02d}.parquet" for month in (1, 2)]
    printed = float(re.search(r"validation RMSE: (" + NUMBER + ")", result.stdout).group(1))
    assert printed == pytest.approx(oracle.rmse(*data)["rmse"], abs=1e-6)
    assert (folder / "mlflow.db").is_file(), "the run tracks to MLflow in its folder, as the course's script does"


def test_hw3_train_of_the_2023_flow_says_what_to_do(prefect_api_url, tlc_server, release_2023, tmp_path):
    """Without the months, with a date, and on the stub: a line that says what to do, no traceback."""
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    train = ("--assignment", "deployments", "--project", str(release_2023))
    result = hw3_train(*train, cwd=tmp_path, env={"HW3_DATA_MIRROR": str(empty)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "green_tripdata_2023-01.parquet: no source has it" in result.stderr and "--sample-rows N" in result.stderr
    result = hw3_train(*train, "--date", "2023-03-01", cwd=tmp_path, env={})
    assert result.returncode == 2 and "the 2023 flow takes no date" in result.stderr

    stub = release_2023 / "homework" / "deployments" / "orchestrate.py"
    shutil.copyfile(PROJECT_ROOT / "homework" / "deployments" / "orchestrate.py", stub)
    result = hw3_train(*train, "--sample-rows", "2500", cwd=tmp_path, env={"HW3_DATA_MIRROR": str(empty)})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "hw3: orchestrate.py: make main_flow a Prefect flow" in result.stderr
