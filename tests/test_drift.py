"""hw3/sandbox/drift.py, loaded as a flow run's sitecustomize.py: the course's lines that newer
libraries broke work again, and MLflow's requirement inference (a child Python per logged
model) is skipped, writing the flavor's defaults."""

from __future__ import annotations

import shutil
import subprocess
import sys

from hw3.sandbox import drift

SCRIPT = """
import logging, mlflow, mlflow.models, mlflow.utils.environment
from sklearn.metrics import mean_squared_error
warned = []
logging.getLogger("mlflow.utils.requirements_utils").addHandler(logging.Handler())
logging.getLogger("mlflow.utils.requirements_utils").handlers[-1].emit = warned.append
for line in (lambda: mean_squared_error([0.0, 0.0], [3.0, 3.0], squared=False),
             lambda: mlflow.models.infer_pip_requirements("runs:/no-such-run/model", "xgboost", fallback=["xgboost", "mlflow"]),
             lambda: mlflow.set_tracking_uri("http://127.0.0.1:5000") or mlflow.get_tracking_uri(),
             lambda: mlflow.utils.environment.warn_dependency_requirement_mismatches(["xgboost==0.0.1"]) or len(warned)):
    try:
        print(line())
    except Exception as exc:
        print(type(exc).__name__)
"""


def run(tmp_path, bridged: bool) -> list[str]:
    (tmp_path / "bridge").mkdir(exist_ok=True)
    if bridged:
        shutil.copyfile(drift.__file__, tmp_path / "bridge" / "sitecustomize.py")
    env = {"PYTHONPATH": str(tmp_path / "bridge"), "MLFLOW_REQUIREMENTS_INFERENCE_RAISE_ERRORS": "true", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return done.stdout.splitlines()


def test_the_bridges_hold_in_a_flow_runs_process(tmp_path):
    lines = run(tmp_path, bridged=True)
    assert lines == ["3.0", "['xgboost', 'mlflow']", drift.LOCAL_STORE, "0"], lines


def test_without_them_the_course_lines_break(tmp_path):
    squared, requirements, store, warnings = run(tmp_path, bridged=False)
    assert squared == "TypeError"  # scikit-learn 1.6 took `squared` away
    assert requirements != "['xgboost', 'mlflow']"  # MLflow tried to load the model to infer them
    assert store == "http://127.0.0.1:5000"
    assert warnings == "1"  # MLflow compared the requirements with the installed packages
