"""The corpus of real-shaped 2023 submissions (tests/corpus_deployments/cases): whole
submissions written the way June-2023 students wrote the homework (Prefect 2.10 projects,
deployment.yaml, git_clone pull steps, MLflow, squared=False, renamed flows, email blocks
saved by scripts of their own), each with the marks per part written down before it was
graded (expected.toml).

Graded as an instructor grades a cohort (`hw3 grade --cohort --assignment deployments`, with
the reference's key), the marks must equal the expectation part by part; a lost question has
a reason; no reason names a grader folder; a failed run's reason gives its exception with the
student's file and line. Two of the cases, graded again beside a CPU burner, get the same
marks and reasons (tests/repeat.py): one with full marks, and one that loses its retries, whose
RMSE log was once read before it arrived.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from repeat import assert_regraded_alike
from submissions import PROJECT_ROOT

CASES = Path(__file__).with_name("corpus_deployments") / "cases"
REPEATED = ("03-real-nyc-name-months-lowercase-task", "21-ok-submit-result-automation-objects")  # one round of the two workers
GRADER_PATHS = ("probe.py", "site-packages", "/tmp/", ".cache", "grading-servers", str(PROJECT_ROOT))


def expected(case: Path) -> dict:
    return tomllib.loads((case / "expected.toml").read_text(encoding="utf-8"))


def test_the_corpus_is_large_mixed_and_consistent():
    from hw3 import assignment

    cases = sorted(p for p in CASES.iterdir() if p.is_dir())
    totals = [sum(expected(c)["marks"].values()) for c in cases]
    assert len(cases) >= 20 and totals.count(12) >= 3 and sum(t < 12 for t in totals) >= 15
    course = assignment.load("deployments").catalogue
    for case in cases:
        marks, lost = expected(case)["marks"], expected(case).get("lost", {})
        for question in course.questions:
            parts = sum(p.points for p in question.parts if f"{question.id}.{p.id}" not in lost)
            assert marks[question.id] == parts, f"{case.name}: {question.id} marks {marks[question.id]}, parts not lost {parts}"


@pytest.fixture(scope="module")
def graded(prefect_api_url, tmp_path_factory):
    from test_cohort import hw3_cohort

    folder = tmp_path_factory.mktemp("corpus-deployments")
    shutil.copytree(CASES, folder / "cohort", ignore=shutil.ignore_patterns("expected.toml", "__pycache__"))
    rows, output, seconds = hw3_cohort(folder / "cohort", folder / "grades.csv", "--workers", "2", "--assignment",
                                       "deployments", "--prefect-api-url", prefect_api_url, flows_key=False, timeout=3600)
    print(f"\n2023 real-shaped corpus: {len(rows)} submissions graded in {seconds:.0f} s (2 at a time)")
    return folder, rows, output


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_real_shaped_2023_submission_gets_its_expected_marks(graded, case):
    folder, rows, output = graded
    want = expected(CASES / case)
    row = rows[case]
    assert row["total"], f"{case} was not graded: {row['problem']}\n{output[-3000:]}"
    results = json.loads((folder / "results" / case / "results.json").read_text(encoding="utf-8"))
    lost_parts = {part for part, earned in results["extra_data"]["parts"].items() if earned == 0}
    marks = {q: int(row[q]) for q in want["marks"]}
    assert (marks, lost_parts) == (want["marks"], set(want.get("lost", {}))), json.dumps(results["extra_data"]["lost"], indent=1)
    for qid, points in want["marks"].items():
        if marks[qid] < 2:
            assert row[f"{qid} reason"], f"{case}: {qid} lost points without a reason"
    everything = json.dumps(results) + json.dumps(row)
    assert not [p for p in GRADER_PATHS if p in everything], everything
    for reason in (row[f"{q} reason"] for q in want["marks"]):
        if "ended Crashed" in reason or "ended Failed" in reason:
            assert ", line " in reason, f"{case}: a failed run without the student's file and line: {reason}"


@pytest.mark.slow
def test_the_same_files_get_the_same_marks_beside_a_cpu_burner(graded, prefect_api_url, tmp_path):
    folder, rows, _ = graded
    assert_regraded_alike(folder, rows, REPEATED, tmp_path, "--assignment", "deployments", "--prefect-api-url", prefect_api_url,
                          flows_key=False)
