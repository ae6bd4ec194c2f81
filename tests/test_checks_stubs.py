"""The untouched stubs: every question "not attempted", 0 points, and no traceback."""

from __future__ import annotations

from submissions import PROJECT_ROOT, grade

from hw3 import catalogue

COURSE = catalogue.load()


def test_stubs_are_not_attempted(prefect_api_url, tmp_path):
    run = grade(PROJECT_ROOT / "homework", tmp_path, prefect_api_url)
    assert run.returncode == 0, run.output[-4000:]
    assert run.results["score"] == 0 and run.results["max_score"] == COURSE.max_score
    for question, test in zip(COURSE.questions, run.results["tests"], strict=True):
        assert (test["score"], test["status"]) == (0, "failed")
        assert test["output"].startswith("not attempted: "), test["output"]
        assert f"hint: {question.hint}" in test["output"]
        row = next(line for line in run.output.splitlines() if line.startswith(f"{question.id} "))
        assert f"0/{question.points}  not attempted: " in row
    for word in ("Traceback", "error in the checks", "FAILED", "ERROR"):
        assert word not in run.output, f"{word!r} in the output of the checks:\n{run.output}"
    assert "validation MSE (synthetic sample): not produced" in run.output
