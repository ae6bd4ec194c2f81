"""Bad answers.toml files: each problem gets a message that quotes the line (or names the
file) and describes the expected form without giving an answer away, and is charged to the
question of that line only."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw3.grading import answers
from hw3 import catalogue

COURSE = catalogue.load()
GOOD = {"q1": '"read_data"', "q2": '"11.837"', "q3": '"23,000 bytes"', "q4": '"9 15 * * *"', "q5": "10", "q6": '"prefect work-queue ls"'}


def answers_file(tmp_path: Path, **lines: str) -> answers.Answers:
    """An answers.toml with a (well-formed) line per question, some replaced by `lines`."""
    text = "\n".join(lines.get(key, f"{key} = {value}") for key, value in GOOD.items()) + "\n"
    (tmp_path / "answers.toml").write_text(text, encoding="utf-8")
    return answers.read(tmp_path, COURSE)


def problem(parsed: answers.Answers, qid: str) -> str:
    question = COURSE[qid]
    with pytest.raises(pytest.fail.Exception) as failure:
        parsed.option(question) if question.kind == "choice" else parsed.value(question)
    return failure.value.msg


def graded_fine(parsed: answers.Answers, but: set[str]) -> None:
    """Every question not in `but` reads its answer without a problem."""
    for question in COURSE.questions:
        if question.id not in but:
            parsed.option(question) if question.kind == "choice" else parsed.value(question)


@pytest.mark.parametrize("question", COURSE.questions, ids=lambda q: q.id)
def test_the_expected_form_gives_no_answer_away(question):
    form = answers.expected_form(question)
    assert form.startswith(f"{question.key} must be ")
    assert not any(option in form for option in question.options), form


@pytest.mark.parametrize(
    ("line", "qid", "message"),
    [
        ("q5 = 3.0", "Q5", "answers.toml, line 5: `q5 = 3.0`: q5 must be a whole number, without quotes, e.g. q5 = 42"),
        ("q5 = three", "Q5", "answers.toml, line 5: `q5 = three` is not valid TOML (Invalid value (at line 1, column 6)); q5 must be a whole number"),
        ('q4 = ["0", "9"]', "Q4", 'answers.toml, line 4: `q4 = ["0", "9"]`: q4 must be a cron expression (five fields), as a quoted string, e.g. q4 = "..."'),
        ("q4 = 0 9 15 * *", "Q4", "answers.toml, line 4: `q4 = 0 9 15 * *` is not valid TOML"),
        ("q1: train_model", "Q1", "answers.toml, line 1: `q1: train_model` is not valid TOML"),
        ("q1 = false", "Q1", "answers.toml, line 1: `q1 = false`: q1 must be one of the options, as a quoted string"),
        ('q2 = {value = "11.837"}', "Q2", 'answers.toml, line 2: `q2 = {value = "11.837"}`: q2 must be one of the options'),
        ('Q3 = "23,000 bytes"', "Q3", "answers.toml, line 3: `Q3 = \"23,000 bytes\"`: there is no key 'Q3' (the keys are student_id, q1, q2, q3"),
        ('q6 = "prefect work-queue ls', "Q6", "is not valid TOML"),
    ],
)
def test_a_bad_line_costs_its_question_only(tmp_path, line, qid, message):
    parsed = answers_file(tmp_path, **{COURSE[qid].key: line})
    text = problem(parsed, qid)
    assert message in text
    assert not any(option in text.replace(line, "") for option in COURSE[qid].options), text  # only theirs is quoted
    graded_fine(parsed, {qid})


def test_lines_that_answer_nothing_are_notes(tmp_path):
    parsed = answers_file(tmp_path, q6='q6 = "prefect work-queue ls"\n[answers]\nq7 = 1\nanswers.q1 = "x"')
    assert not parsed.problems
    assert parsed.notes == [
        "answers.toml, line 7: `[answers]` is not an answer line; remove it",
        "answers.toml, line 8: `q7 = 1`: there is no key 'q7' (the keys are student_id, q1, q2, q3, q4, q5, q6)",
        "answers.toml, line 9: `answers.q1 = \"x\"`: there is no key 'answers' (the keys are student_id, q1, q2, q3, q4, q5, q6)",
    ]
    graded_fine(parsed, set())


def test_a_multi_line_value_is_charged_to_its_question(tmp_path):
    parsed = answers_file(tmp_path, q4='q4 = """\n0 9 15 * *\n"""')
    assert "line 4: `q4 = \"\"\"` is not valid TOML" in problem(parsed, "Q4")
    graded_fine(parsed, {"Q4"})


def test_a_byte_order_mark_is_fine(tmp_path):
    (tmp_path / "answers.toml").write_text("\ufeff" + "".join(f"{k} = {v}\n" for k, v in GOOD.items()), encoding="utf-8")
    parsed = answers.read(tmp_path, COURSE)
    assert not parsed.problems and not parsed.notes
    graded_fine(parsed, set())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: None, "answers.toml is missing from your submission: copy the homework's answers.toml there and fill it in"),
        (lambda path: path.write_bytes('q1 = "caf\xe9"\n'.encode("latin-1")), "answers.toml is not UTF-8 text: save it as UTF-8 (plain text) and grade again"),
        (lambda path: path.mkdir(), "answers.toml cannot be read (IsADirectoryError: Is a directory); it must be a text file like homework/answers.toml"),
    ],
    ids=["missing", "latin-1", "a folder"],
)
def test_an_unreadable_file_is_named_on_every_answer(tmp_path, make, message):
    path = tmp_path / "answers.toml"
    make(path)
    parsed = answers.read(tmp_path, COURSE)
    for question in COURSE.questions:
        assert problem(parsed, question.id) == message.format(path=path)
