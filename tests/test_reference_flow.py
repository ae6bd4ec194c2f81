"""The reference flow (solutions/homework.py) on the test session's Prefect server: its
artifacts, its state and logs on the server, its figures against hw3.oracle."""

from __future__ import annotations

import datetime
import pickle
import re

import pytest
import time_machine
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression

from hw3 import oracle

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
