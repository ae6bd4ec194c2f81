"""What every grading session would compute the same way, made once per machine and kept in
the grader's cache (HW3_CACHE_DIR):

- the oracle's RMSE on the sample months (two trainings, about 6 s of CPU a session), under
  the two files' contents, the oracle's code and xgboost's version;
- an empty MLflow SQLite store, put into each flow run's folder as `mlflow.db` unless the
  submission brought its own: the course's `mlflow.set_tracking_uri("sqlite:///mlflow.db")`
  then opens a store whose tables exist (MLflow builds them on first use, about 1 s of CPU a
  run). What a run records is the same either way.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from hw3 import settings
from hw3.fsutil import atomic_write

STORE_NAME = "mlflow.db"  # the course's store, relative to the folder the flow runs in
MAKE_STORE = "import sys, mlflow\nmlflow.MlflowClient(tracking_uri='sqlite:///' + sys.argv[1]).search_experiments()\n"
MAKE_TIMEOUT_S = 120


def oracle_rmse(train_path: Path, val_path: Path, todays_defaults: bool = False) -> float:
    """oracle.rmse(...)["rmse"], computed once for these files and this oracle."""
    from checks.deployments import oracle

    digest = hashlib.sha256(Path(oracle.__file__).read_bytes() + oracle.xgb.__version__.encode() + bytes([todays_defaults]))
    for path in (train_path, val_path):
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    kept = settings.current().cache_dir / "oracle" / f"{digest.hexdigest()[:32]}.json"
    try:
        return float(json.loads(kept.read_text(encoding="utf-8"))["rmse"])
    except (OSError, ValueError, KeyError, TypeError):
        value = oracle.rmse(train_path, val_path, todays_defaults=todays_defaults)["rmse"]
        atomic_write(kept, json.dumps({"rmse": value}))
        return value


def _mlflow_version() -> str | None:
    for name in ("mlflow-skinny", "mlflow"):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def mlflow_template() -> Path | None:
    """The kept empty store (made on first use, in a child Python); None where MLflow is not
    installed or the store cannot be made (the runs then make their own, as they would)."""
    release = _mlflow_version()
    if release is None:
        return None
    kept = settings.current().cache_dir / "mlflow" / f"empty-{release}.db"
    if kept.is_file():
        return kept
    kept.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=kept.parent) as scratch:
        made = Path(scratch) / STORE_NAME
        try:
            subprocess.run([sys.executable, "-c", MAKE_STORE, str(made)], cwd=scratch, capture_output=True,
                           timeout=MAKE_TIMEOUT_S, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        if not made.is_file():
            return None
        os.replace(made, kept)
    return kept


def provide_store(folder: Path, template: Path | None) -> None:
    """A copy of the empty store `template` in `folder` as mlflow.db, unless one is there."""
    if template is not None and not (folder / STORE_NAME).exists():
        shutil.copyfile(template, folder / STORE_NAME)
