"""Code written for Prefect 2 (and older scikit-learn, and MLflow) is read before it runs:
each idiom is named with its line, its Prefect 3 way and the part it costs; the probe's
compatibility layer lets the code import and run; get_paths is judged on its own contract."""

from __future__ import annotations

import textwrap
from pathlib import Path

from checks.flows import migration
from submissions import FLOWS_JOBS
from hw3.sandbox.runner import Sandbox, run_probe

RAW = """\
from prefect import flow, task
from prefect.task_runners import SequentialTaskRunner
from prefect.deployments import DeploymentSpec
from prefect.orion.schemas.schedules import CronSchedule
from prefect.flow_runners import SubprocessFlowRunner
from prefect.engine import get_run_logger
from sklearn.metrics import mean_squared_error
import mlflow
import datetime

@task
def get_paths(date):
    day = datetime.datetime.strptime(date, "%Y-%m-%d") if date else datetime.datetime.now()
    return f"./data/fhv_tripdata_{day.year}-{day.month:02d}.parquet", "../data/b.parquet", "extra"

@task
def train_model(x):
    return mean_squared_error([1, 2], [1, 3], squared=False)

@flow(task_runner=SequentialTaskRunner())
def main(date=None):
    train, val, _ = get_paths(date).result()
    value = train_model(1)
    value.result()

main(date="2021-08-15")
DeploymentSpec(flow=main, name="m", schedule=CronSchedule(cron="0 9 15 * *"), flow_runner=SubprocessFlowRunner())
"""


def submission(folder: Path, homework: str, **others: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "homework.py").write_text(textwrap.dedent(homework))
    for name, text in others.items():
        (folder / name).write_text(text)
    return folder


def test_every_idiom_is_found_with_its_line_its_part_and_the_prefect_3_way(tmp_path):
    folder = submission(tmp_path, RAW)
    (folder / "notes.md").write_text("first run `prefect orion start`\n")
    found = {(f.file, f.line, f.charge): f.message for f in migration.scan(folder)}
    assert ("homework.py", 2, "Q1.flow") in found and "drop the `task_runner` argument" in found[("homework.py", 2, "Q1.flow")]
    for line in (3, 4, 5):
        assert ("homework.py", line, "Q4.deployment") in found
    assert "to_deployment" in found[("homework.py", 3, "Q4.deployment")]
    assert "from prefect import get_run_logger" in found[("homework.py", 6, "Q1.flow")]
    assert "root_mean_squared_error" in found[("homework.py", 18, None)] and "at no cost" in found[("homework.py", 18, None)]
    assert "doesn't use MLflow" in found[("homework.py", 8, None)]
    assert "get_paths.submit(...).result()" in found[("homework.py", 22, "Q1.flow")]
    assert "`value.result()` (homework.py, line 24)" in found[("homework.py", 24, "Q1.flow")]
    assert "if __name__ == \"__main__\"" in found[("homework.py", 26, None)]
    assert "prefect server start" in found[("notes.md", 1, None)]
    assert all("written for Prefect 2" in m for (_, _, charge), m in found.items() if charge in ("Q1.flow", "Q4.deployment"))
    assert migration.compat_flags(migration.scan(folder), folder) == ["mlflow", "prefect2", "result", "squared"]


def test_a_file_the_checks_do_not_run_is_a_note_only(tmp_path):
    folder = submission(tmp_path, "from prefect import flow\n")
    (folder / "old_deploy.py").write_text("from prefect.deployments import DeploymentSpec\n")
    (finding,) = migration.scan(folder)
    assert (finding.file, finding.charge) == ("old_deploy.py", None)


def test_prefect_3_code_has_no_finding(tmp_path):
    folder = submission(tmp_path, "from prefect import flow, task, get_run_logger\n@task\ndef t():\n    return 1\n"
                                  "@flow\ndef main():\n    t.submit().result()\n    return t()\n")
    assert migration.scan(folder) == []


def test_the_same_idiom_on_several_lines_is_said_once(tmp_path):
    folder = submission(tmp_path, "from sklearn.metrics import mean_squared_error as m\na = m(1, 1, squared=False)\nb = m(1, 1, squared=False)\n")
    (finding,) = migration.scan(folder)
    assert "(homework.py, lines 2 and 3)" in finding.message


def test_raw_prefect_2_code_imports_and_get_paths_is_judged_alone(tmp_path):
    target = submission(tmp_path / "target", RAW)
    result = run_probe("get_paths", target, Sandbox(tmp_path / "sandbox", ""), jobs=FLOWS_JOBS, compat=["mlflow", "prefect2", "result", "squared"],
                       dates=["2021-08-15"], frozen_days=[])
    assert result.ok, result.reason
    assert result.data["dates"]["2021-08-15"]["paths"] == ["./data/fhv_tripdata_2021-08.parquet", "../data/b.parquet"]


def test_a_datetime_only_get_paths_is_told_the_contract(tmp_path):
    homework = "def get_paths(date):\n    return (f'{date.year}-{date.month:02d}', 'b')\n"
    target = submission(tmp_path / "target", homework)
    result = run_probe("get_paths", target, Sandbox(tmp_path / "sandbox", ""), jobs=FLOWS_JOBS, dates=["2021-08-15"], frozen_days=[])
    error = result.data["dates"]["2021-08-15"]["error"]
    assert error.startswith("raised AttributeError: 'str' object has no attribute 'year' (homework.py, line 2, in get_paths)")
    assert "the checks pass a date string 'YYYY-MM-DD', or None; yours works when given a datetime instead" in error


def test_a_reason_never_names_a_grader_file(tmp_path):
    homework = "import pandas as pd\ndef get_paths(date):\n    pd.read_parquet('/nowhere/x.parquet')\n"
    target = submission(tmp_path / "target", homework)
    result = run_probe("get_paths", target, Sandbox(tmp_path / "sandbox", ""), jobs=FLOWS_JOBS, dates=["2021-08-15"], frozen_days=[])
    error = result.data["dates"]["2021-08-15"]["error"]
    assert error.endswith("(homework.py, line 3, in get_paths)") and "probe.py" not in error and "site-packages" not in error
