"""How one grading is invoked, for every way of grading (`hw3 grade`, --watch, a cohort's
workers): the pytest command line of the checks, the submission and the key it is given, and
what a warm grading process imports ahead."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from contextlib import suppress
from importlib import metadata
from pathlib import Path

from hw3 import layout
from hw3.errors import Hw3Error

# What a warm grading process (--watch, a cohort's checker) imports before the checks run.
PRELOADED = ("pytest", "prefect", "pandas", "pyarrow.parquet", "sklearn.feature_extraction", "sklearn.linear_model",
             "sklearn.metrics", "hw3.grading.plugin", "hw3.grading.session")
WARM_ARGS = ("-W", "ignore::pytest.PytestAssertRewriteWarning")  # pytest's word that the plugins were imported before it


def preload() -> None:
    """Import what a grade needs ahead (PRELOADED, and the pytest plugins installed beside it,
    which pytest would import at each start: anyio's alone takes 0.3 s), then freeze what is
    loaded out of the garbage collector's sight: pytest collects five times at its end, 0.25 s
    over a heap of pandas, scikit-learn and Prefect. A module that fails here is imported again
    by the grade, which says why."""
    plugins = tuple(entry.module for entry in metadata.entry_points(group="pytest11"))
    for name in (*PRELOADED, *plugins):
        with suppress(Exception):
            importlib.import_module(name)
    gc.freeze()


def project_checks() -> Path:
    """The package's checks folder; Hw3Error if it is gone."""
    if not (layout.CHECKS_DIR / "conftest.py").is_file():
        raise Hw3Error(f"{layout.CHECKS_DIR}: the checks are missing; restore the checks/ folder of the homework")
    return layout.CHECKS_DIR


def given_answer_key(given: str) -> Path:
    """The key file of `--answer-key given`; Hw3Error if there is none."""
    if not Path(given).is_file():
        raise Hw3Error(f"--answer-key {given}: no such file; give the key `hw3 key` wrote")
    return Path(given).resolve()


def pytest_argv(target: Path | None, results_json: Path | None, api_url: str | None, extra: list[str],
                checks_dir: Path | None = None) -> list[str]:
    """`python -m pytest checks/ ...` for one submission (the checks of `checks_dir`, default
    the project's)."""
    argv = [sys.executable, "-m", "pytest", str(checks_dir or project_checks()), "-p", "no:cacheprovider"]
    if target:
        argv += ["--target", str(target)]
    if results_json:
        argv += ["--results-json", str(results_json)]
    if api_url:
        argv += ["--prefect-api-url", api_url]
    return argv + extra


def submission_target(given: str | os.PathLike, option: str = "--target") -> Path:
    """The folder or notebook to grade; Hw3Error if it is neither."""
    path = Path(given).resolve()
    if path.is_dir() or path.is_file() and path.suffix == ".ipynb":
        return path
    raise Hw3Error(f"{option} {given}: no such folder or .ipynb notebook; give the folder that holds homework.py (or the notebook)")
