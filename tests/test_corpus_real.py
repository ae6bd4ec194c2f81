"""The corpus of real-shaped submissions (tests/corpus_real/cases): whole homework files
written the way students wrote the 2022 homework (Prefect 2 idioms, other structures, old
APIs, relative paths, extra return values, prints, MLflow), each with the marks per
question and the lost parts written down by hand before it was graded (expected.toml).

Graded as an instructor grades a cohort (`hw3 grade --cohort`, with the reference's key), the
marks must equal the expectation question by question and part by part; every lost
question has a reason in the CSV; a reason names no grader file or absolute path; every
submission holding a Prefect 2 idiom is told so, with the Prefect 3 way. Two of the cases,
graded again beside a CPU burner, get the same marks and reasons (tests/repeat.py).

Where one mistake costs more than its own part, the case's expected.toml says why; in this
corpus that is never so: each lost part is a mistake of that part.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from repeat import assert_regraded_alike
from submissions import PROJECT_ROOT

CASES = Path(__file__).with_name("corpus_real") / "cases"
# Prefect 2 idioms, found here by their text (independently of the checks' reading of the code):
# its removed names, and `.result()` on a call of anything but `.submit(...)`.
REPEATED = ("12-ok-submit-everywhere", "25-wrong-mse-only-printed")  # one round of the two workers
PREFECT2 = re.compile(r"DeploymentSpec|prefect\.orion|flow_runners|SequentialTaskRunner|prefect\.engine import|build_from_flow"
                      r"|\b(?!submit\b)\w+\([^()]*\)\.result\(\)")


def expected(case: Path) -> dict:
    return tomllib.loads((case / "expected.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graded(prefect_api_url, tmp_path_factory):
    from test_corpus import grade_cohort_folder

    folder = tmp_path_factory.mktemp("corpus-real")
    shutil.copytree(CASES, folder / "cohort", ignore=shutil.ignore_patterns("expected.toml", "__pycache__"))
    rows, seconds, output = grade_cohort_folder(folder, prefect_api_url)
    print(f"\nreal-shaped corpus: {len(rows)} submissions graded in {seconds:.0f} s (2 at a time)")
    return folder, rows, output


def test_the_corpus_is_large_and_mixed():
    cases = sorted(p.name for p in CASES.iterdir() if p.is_dir())
    assert len(cases) >= 20
    totals = [sum(expected(CASES / c)["marks"].values()) for c in cases]
    assert totals.count(10) >= 5 and sum(t < 10 for t in totals) >= 15
    for case in cases:
        marks, lost = expected(CASES / case)["marks"], expected(CASES / case).get("lost", {})
        from hw3 import catalogue

        for question in catalogue.load().questions:
            parts = sum(p.points for p in question.parts if f"{question.id}.{p.id}" not in lost)
            assert marks[question.id] == parts, f"{case}: {question.id} marks {marks[question.id]}, parts not lost {parts}"


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_real_shaped_submission_gets_its_expected_marks(graded, case):
    folder, rows, output = graded
    want = expected(CASES / case)
    row = rows[case]
    assert row["total"], f"{case} was not graded: {row['problem']}\n{output[-3000:]}"
    results = json.loads((folder / "results" / case / "results.json").read_text(encoding="utf-8"))
    lost_parts = {part for part, earned in results["extra_data"]["parts"].items() if earned == 0}
    marks = {q: int(row[q]) for q in want["marks"]}
    assert (marks, lost_parts) == (want["marks"], set(want.get("lost", {}))), json.dumps(results["extra_data"]["lost"], indent=1)
    for qid, points in want["marks"].items():
        if marks[qid] < max(points, 1) or qid in results["extra_data"]["lost"]:
            assert row[f"{qid} reason"], f"{case}: {qid} lost points without a reason"
    everything = json.dumps(results)
    assert "probe.py" not in everything and str(PROJECT_ROOT) not in everything and "/tmp/" not in everything
    sources = [CASES / case / "homework.py", *(CASES / case).glob("deploy*.py")]
    homework = "\n".join(re.sub(r"#.*", "", line) for p in sources for line in p.read_text(encoding="utf-8").splitlines())
    if PREFECT2.search(homework) and "import" in homework:
        told = everything + (folder / "results" / case / "output.txt").read_text(encoding="utf-8", errors="replace")
        assert "Prefect 2" in told and ("Prefect 3" in told or "to_deployment" in told or "drop" in told), case


@pytest.mark.slow
def test_the_same_files_get_the_same_marks_beside_a_cpu_burner(graded, prefect_api_url, tmp_path):
    folder, rows, _ = graded
    assert_regraded_alike(folder, rows, REPEATED, tmp_path, "--prefect-api-url", prefect_api_url, flows_key=True)
