"""The 2023 homework (`deployments`) through the rest of the machinery: its student release
(stubs, checks with the work part of the key, no reference, no hooks.py, no other assignment)
grades its stubs 0 and the reference's work full marks with the answers recorded, and a
cohort of its submissions is graded with `hw3 grade --cohort --assignment deployments`."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hw3 import assignment
from hw3.authoring import notebook, release
from hw3.layout import PROJECT_ROOT

DEPLOYMENTS = assignment.load("deployments")
COURSE = DEPLOYMENTS.catalogue
STUDENT_FILES = ("orchestrate.py", "prefect.yaml", "email_block.py", "automation.py", "answers.toml")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    return release.release(PROJECT_ROOT, tmp_path_factory.mktemp("release") / "student-repo", assignment="deployments")


def test_the_release_ships_the_assignment_only(released):
    names = {p.relative_to(released).as_posix() for p in released.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert {f"homework/deployments/{name}" for name in (*STUDENT_FILES, "HOMEWORK.md", "orchestrate.ipynb")} <= names
    assert {"checks/conftest.py", "checks/deployments/key.json", "checks/deployments/jobs.py"} <= names
    assert not [n for n in names if n.startswith(("solutions/", "tests/", "checks/flows/", "homework/homework"))]
    assert "checks/deployments/hooks.py" not in names and "hw3/authoring/key.py" not in names
    key = json.loads((released / "checks/deployments/key.json").read_text())
    assert key["answers"] == {}
    assert "answer =" not in (released / "checks/deployments/catalogue.toml").read_text()


def grade_in(folder: Path, api_url: str, *args: str) -> dict:
    """`python -m pytest checks/` in the release (no --assignment: the one it ships)."""
    results = folder.parent / f"{folder.name}-results.json"
    done = subprocess.run([sys.executable, "-m", "pytest", "checks/", "-p", "no:cacheprovider", "--prefect-api-url", api_url,
                           "--results-json", str(results), *args], cwd=folder, capture_output=True, text=True, timeout=900)
    assert results.is_file(), (done.stdout + done.stderr)[-4000:]
    return json.loads(results.read_text(encoding="utf-8"))


def test_the_release_grades_its_stubs_zero_and_the_reference_s_work_in_full(released, prefect_api_url, tmp_path):
    stubs = grade_in(shutil.copytree(released, tmp_path / "stubs"), prefect_api_url)
    assert stubs["score"] == 0 and all(t["output"].startswith("not attempted") for t in stubs["tests"])
    reference = shutil.copytree(released, tmp_path / "reference")
    for name in STUDENT_FILES:
        shutil.copy(DEPLOYMENTS.solutions() / name, reference / "homework" / "deployments" / name)
    graded = grade_in(reference, prefect_api_url)
    work = sum(p.points for q in COURSE.questions for p in q.parts if p.id != "answer")
    assert graded["score"] == work == 6, json.dumps(graded, indent=1)[-3000:]
    assert graded["extra_data"]["recorded"] == [f"{q.id}.answer" for q in COURSE.questions]


def test_a_cohort_is_graded(tmp_path):
    cohort = tmp_path / "cohort"
    shutil.copytree(DEPLOYMENTS.solutions(), cohort / "ada", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(DEPLOYMENTS.homework(), cohort / "bob", ignore=shutil.ignore_patterns("__pycache__", "HOMEWORK.md"))
    out = tmp_path / "grades.csv"
    done = subprocess.run([sys.executable, "-m", "hw3.cli", "grade", "--assignment", "deployments", "--cohort", str(cohort),
                           "--out", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "HW3_COHORT_TIMEOUT_S": "600"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = {row["student"]: row for row in csv.DictReader(out.open())}
    assert (rows["ada"]["total"], rows["bob"]["total"]) == ("12", "0")
    assert [rows["ada"][q.id] for q in COURSE.questions] == ["2"] * 6


def test_the_reference_as_a_notebook_gets_full_marks(prefect_api_url, tmp_path):
    folder = shutil.copytree(DEPLOYMENTS.solutions(), tmp_path / "submission", ignore=shutil.ignore_patterns("__pycache__"))
    code = "!pip install prefect-email\n# %%\n" + (folder / "orchestrate.py").read_text(encoding="utf-8")
    notebook.write(notebook.from_script(code), folder / "orchestrate.ipynb")
    (folder / "orchestrate.py").unlink()
    results = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "pytest", str(PROJECT_ROOT / "checks"), "-p", "no:cacheprovider",
                           "--assignment", "deployments", "--target", str(folder / "orchestrate.ipynb"),
                           "--prefect-api-url", prefect_api_url, "--results-json", str(results)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    graded = json.loads(results.read_text())
    assert graded["score"] == COURSE.max_score, (done.stdout + done.stderr)[-4000:]
    assert not (folder / "orchestrate.py").exists()  # graded from a staging copy
