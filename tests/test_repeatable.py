"""Same files, same marks: a cohort graded on a quiet machine, then again with --force beside
a CPU burner, gives the same CSV and loses the same parts both times
(the checks read what a run sends only once it has arrived: prefect_api.evidence).

Each assignment's cohort is its reference and submissions that lose parts: for the 2023
homework, the reference with retries=0 (the case whose RMSE log was once read too early); for
the 2022 homework, a mistake of the corpus and a real-shaped case.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from submissions import MISTAKES, PROJECT_ROOT, SOLUTIONS, make_submission
from test_cohort import hw3_cohort

DEPLOYMENT_FILES = ("orchestrate.py", "prefect.yaml", "email_block.py", "automation.py", "answers.toml")
BURN_S = 900  # the burner's bound: it is stopped at the end of its run, and stops by itself at the latest then


@contextmanager
def cpu_burner(cores: int = 1):
    """A bounded busy loop on `cores` cores, for the duration of the block. One: the grading's
    two workers then share a core and a half (the first run had two), and in the suite the
    other xdist worker's tests load the second core; a burner on both slowed the whole suite
    by minutes and proved no more."""
    code = f"import time\nend = time.monotonic() + {BURN_S}\nwhile time.monotonic() < end:\n    pass\n"
    burners = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(cores)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(timeout=30)


def graded(cohort: Path, out: Path, *args: str) -> tuple[dict, dict]:
    """(CSV rows by student, the lost parts of each student) of one --force grading."""
    rows, output, _ = hw3_cohort(cohort, out, "--workers", "2", "--force", *args, flows_key="deployments" not in args)
    lost = {}
    for student in rows:
        results = json.loads((out.parent / "results" / student / "results.json").read_text(encoding="utf-8"))
        lost[student] = sorted(part for part, earned in results["extra_data"]["parts"].items() if earned == 0)
    return rows, lost


def assert_repeatable(cohort: Path, folder: Path, *args: str) -> dict:
    """Grade the cohort on a quiet machine, then again with --force beside a CPU burner: the
    same CSV and lost parts both times."""
    first = graded(cohort, folder / "grades.csv", *args)
    with cpu_burner():
        loaded = graded(cohort, folder / "grades.csv", *args)
    assert loaded == first, f"graded beside a CPU burner, the cohort got other marks or reasons:\n{json.dumps([first, loaded], indent=1)}"
    return first[0]


@pytest.mark.slow
def test_the_2023_homework_grades_the_same_every_time(tmp_path, prefect_api_url):
    cohort = tmp_path / "cohort"
    make_submission(cohort / "reference", source=SOLUTIONS / "deployments", files=DEPLOYMENT_FILES)
    make_submission(cohort / "no-retries", {"orchestrate.py": [("retries=3", "retries=0")]},
                    source=SOLUTIONS / "deployments", files=DEPLOYMENT_FILES)
    rows = assert_repeatable(cohort, tmp_path, "--prefect-api-url", prefect_api_url, "--assignment", "deployments")
    assert {name: row["total"] for name, row in rows.items()} == {"reference": "12", "no-retries": "11"}


@pytest.mark.slow
def test_the_2022_homework_grades_the_same_every_time(tmp_path, prefect_api_url):
    cohort = tmp_path / "cohort"
    make_submission(cohort / "reference")
    make_submission(cohort / "prints-the-mse", MISTAKES[0].edits)
    shutil.copytree(PROJECT_ROOT / "tests" / "corpus_real" / "cases" / "07-ported-submit-print-squared-false", cohort / "real",
                    ignore=shutil.ignore_patterns("expected.toml"))
    rows = assert_repeatable(cohort, tmp_path, "--prefect-api-url", prefect_api_url)
    assert rows["reference"]["total"] == "10" and rows["prints-the-mse"]["total"] == "9"
