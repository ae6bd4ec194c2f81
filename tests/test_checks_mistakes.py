"""Realistic mistakes cost their own question and no other; problems in answers.toml are
charged to the question of the line, with the line quoted."""

from __future__ import annotations

import pytest
from submissions import MISTAKES, grade, make_submission

from hw3 import catalogue

COURSE = catalogue.load()


# One mistake a question, graded here as a student grades (`pytest checks/` in a process of its
# own); every mistake of MISTAKES is also graded, with the same assertions, in the corpus
# (tests/test_corpus.py), as a cohort's slot grades it.
ONE_A_QUESTION = tuple(next(m for m in MISTAKES if m.question == q.id) for q in COURSE.questions)


@pytest.mark.parametrize("mistake", ONE_A_QUESTION, ids=lambda m: f"{m.question}: {m.name}")
def test_mistake_costs_its_question_only(prefect_api_url, tmp_path, mistake):
    submission = make_submission(tmp_path / "submission", mistake.edits)
    run = grade(submission, tmp_path / "work", prefect_api_url)
    scores = run.scores()
    assert scores[mistake.question] < COURSE[mistake.question].points, run.results  # the part of the mistake
    assert {q: s for q, s in scores.items() if q != mistake.question} == {q.id: q.points for q in COURSE.questions if q.id != mistake.question}
    lost = run.question(mistake.question)
    assert lost["status"] == "failed" and lost["output"].startswith("failed: "), lost["output"]
    assert run.returncode == 1
    assert "Traceback" not in run.output and "error in the checks" not in run.output


def test_answers_file_problems(prefect_api_url, tmp_path):
    submission = make_submission(
        tmp_path / "submission",
        {"answers.toml": [('q3 = "13,000 bytes"', "q3 = 13,000 bytes"), ("q5 = 3", 'q5 = "three"'), ("# student_id", "colour")]},
    )
    run = grade(submission, tmp_path / "work", prefect_api_url)
    # a bad answer line costs the answer part only: Q3 keeps its artifacts' point
    assert run.scores() == {q.id: {"Q3": 1, "Q5": 0}.get(q.id, q.points) for q in COURSE.questions}
    assert "answers.toml, line " in run.question("Q3")["output"] and "`q3 = 13,000 bytes` is not valid TOML" in run.question("Q3")["output"]
    assert '`q5 = "three"`: q5 must be a whole number, without quotes, e.g. q5 = 42' in run.question("Q5")["output"]
    assert "Note: answers.toml, line" in run.output and "colour" in run.results["output"]
