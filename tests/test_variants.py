"""Per-student variants: dates from the roster, options spaced like 2022's, the student key's
rows, the handout, and the checks grading a submission against its student's row."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from submissions import PROJECT_ROOT, SOLUTIONS, make_submission, run_checks

from checks.flows import variants
from hw3 import catalogue
from hw3.grading import answer_key
from hw3.errors import Hw3Error

COURSE = catalogue.load()
ROSTER = ("ada", "grace", "alan", "edsger", "barbara")
MONTHS = "2021-03..2021-06"


def test_a_range_of_months_includes_both_ends_and_wraps_years():
    assert variants.parse_months("2021-11..2022-02") == [(2021, 11), (2021, 12), (2022, 1), (2022, 2)]
    assert variants.parse_months("2021-03..2021-03") == [(2021, 3)]
    for bad in ("2021-03-2021-12", "2021-13..2022-01", "2022-01..2021-12"):
        with pytest.raises(Hw3Error, match="--months"):
            variants.parse_months(bad)


def test_student_dates_are_deterministic_15ths_within_the_range():
    months = variants.parse_months("2021-03..2021-12")
    dates = {sid: variants.student_date(sid, months) for sid in ROSTER}
    assert dates == {sid: variants.student_date(sid, list(months)) for sid in ROSTER}
    assert all(d.endswith("-15") and "2021-03" <= d[:7] <= "2021-12" for d in dates.values())
    many = {variants.student_date(f"student-{n}", months) for n in range(200)}
    assert len(many) == len(months)  # every month is used


@pytest.mark.parametrize(("key", "figure"), [("q2", 11.6504), ("q2", 0.31), ("q3", 13_191), ("q3", 24_802), ("q3", 5_400)])
def test_generated_options_are_spaced_like_2022s_and_positive(key, figure):
    options, answer = variants.generated_options(key, figure, "fhv", "2021-05-15", "s3cret")
    assert (options, answer) == variants.generated_options(key, figure, "fhv", "2021-05-15", "s3cret")
    question = dataclasses.replace(COURSE[key], options=tuple(options))
    assert [question.normalise(o) for o in options] == options  # students can write any of them
    values = [float(o.split()[0].replace(",", "")) for o in options]
    step = variants.SPACINGS[key].step
    assert all(abs(b - a - step) < 1e-9 for a, b in zip(values, values[1:])) and min(values) > 0
    assert answer in options and question.closest_option(figure) == answer


def test_the_course_variant_keeps_the_published_options():
    chosen = variants.measured_options(COURSE, COURSE.taxi, COURSE.date, {"q2": 11.64, "q3": 13_191}, "s3cret")
    assert chosen == {"q2": (list(COURSE["Q2"].options), "11.637"), "q3": (list(COURSE["Q3"].options), "13,000 bytes")}


def test_the_place_of_the_correct_option_depends_on_the_instructors_secret():
    places = {variants.generated_options("q2", 11.6504, "fhv", "2021-05-15", f"secret-{n}")[0].index("11.650")
              for n in range(40)}
    assert places == {0, 1, 2, 3}


def write_roster(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_roster_problems_are_clear(tmp_path):
    assert variants.read_roster(write_roster(tmp_path / "r.csv", [["name", "student_id"], ["A", "a1"], ["B", "b2"]])) == ["a1", "b2"]
    with pytest.raises(Hw3Error, match=r"rows 2 and 3: student id 'a1' twice"):
        variants.read_roster(write_roster(tmp_path / "d.csv", [["student_id"], ["a1"], ["a1"]]))
    with pytest.raises(Hw3Error, match="row 3: no student_id"):
        variants.read_roster(write_roster(tmp_path / "e.csv", [["student_id", "name"], ["a1", "A"], ["", "B"]]))
    with pytest.raises(Hw3Error, match="no students"):
        variants.read_roster(write_roster(tmp_path / "h.csv", [["student_id"]]))
    with pytest.raises(Hw3Error, match="cannot read the roster"):
        variants.read_roster(tmp_path / "missing.csv")


def test_a_student_row_of_the_key():
    key = answer_key.make({"q2": "11.637"}, {}, taxi="fhv", date="2021-08-15", salt="s", options={"q2": list(COURSE["Q2"].options)})
    key = key.with_student("ada", "2021-05-15", {"q2": "9.100"}, {"q2": ["8.900", "9.100", "9.300", "9.500"]})
    ada = key.for_student("ada")
    assert (ada.date, ada.answer_is("q2", "9.100"), ada.answer_is("q2", "11.637")) == ("2021-05-15", True, False)
    assert ada.catalogue(COURSE)["Q2"].options == ("8.900", "9.100", "9.300", "9.500")
    assert key.for_student("bob") is key and key.for_student(None) is key
    assert key.student_problem("ada") is None
    assert "'bob'" in key.student_problem("bob") and "default variant (date 2021-08-15)" in key.student_problem("bob")
    assert "no student_id" in key.student_problem(None)
    assert answer_key.make({}, {}, taxi="fhv", date="2021-08-15").student_problem("bob") is None  # no variants


@pytest.fixture(scope="module")
def roster_key(prefect_api_url, tmp_path_factory):
    """`hw3 key --variants` for ROSTER on small synthetic months: (instructor key, key file, handout)."""
    folder = tmp_path_factory.mktemp("variants")
    roster = write_roster(folder / "roster.csv", [["student_id"], *[[s] for s in ROSTER]])
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HW3_CACHE_DIR": str(folder / "cache")}
    argv = [sys.executable, "-m", "hw3.cli", "key", "--variants", str(roster), "--months", MONTHS, "--sample",
            "--sample-rows", "4000", "--out", "instructor.json", "--prefect-api-url", prefect_api_url]
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return json.loads((folder / "instructor.json").read_text()), folder / "key.json", folder / "handout.csv"


def test_the_roster_key_has_one_row_per_student(roster_key):
    instructor, key_file, handout = roster_key
    months = variants.parse_months(MONTHS)
    rows = instructor["students"]
    assert list(rows) == list(ROSTER)
    for sid, row in rows.items():
        assert row["date"] == variants.student_date(sid, months)
        assert row["figures"]["train_rows"] > 0 and row["figures"]["val_mse"] > 0
        assert row["questions"]["q2"]["answer"] in row["questions"]["q2"]["options"]
    key = answer_key.load(key_file)
    assert set(key.students) == set(ROSTER)
    digests = [*key.answers.values(), *(d for row in key.students.values() for d in row["answers"].values())]
    assert len(digests) == 6 * (1 + len(ROSTER)) and all(re.fullmatch("[0-9a-f]{64}", d) for d in digests)  # no answer in clear
    for sid, row in rows.items():
        own = key.for_student(sid)
        assert own.date == row["date"]
        assert all(own.answer_is(q, entry["answer"]) for q, entry in row["questions"].items())
    with open(handout, newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert [line["student_id"] for line in lines] == list(ROSTER)
    assert all(line["q2_options"] == " | ".join(rows[line["student_id"]]["questions"]["q2"]["options"]) for line in lines)


def submission_of(folder: Path, student: str, row: dict | None = None) -> Path:
    """The reference with `student_id = student`, answering Q2/Q3 from `row` (else as the reference)."""
    edits = [("# student_id = \"\"", f'student_id = "{student}"')]
    if row:
        edits += [('q2 = "11.637"', f'q2 = "{row["questions"]["q2"]["answer"]}"'),
                  ('q3 = "13,000 bytes"', f'q3 = "{row["questions"]["q3"]["answer"]}"')]
    return make_submission(folder, {"answers.toml": edits})


def test_the_checks_grade_a_student_against_their_row(roster_key, prefect_api_url, tmp_path):
    instructor, key_file, _ = roster_key
    student, row = next((s, r) for s, r in instructor["students"].items() if r["date"] != COURSE.date)
    run = run_checks(submission_of(tmp_path / "sub", student, row), tmp_path / "work",
                     "--prefect-api-url", prefect_api_url, "--answer-key", str(key_file))
    assert run.returncode == 0, run.output[-4000:]
    assert run.results["score"] == COURSE.max_score, run.output[-4000:]


def test_default_answers_lose_q2_for_a_student_with_other_options(roster_key, prefect_api_url, tmp_path):
    instructor, key_file, _ = roster_key
    student = next(s for s, r in instructor["students"].items() if "11.637" not in r["questions"]["q2"]["options"])
    run = run_checks(submission_of(tmp_path / "sub", student), tmp_path / "work",
                     "--prefect-api-url", prefect_api_url, "--answer-key", str(key_file))
    scores = run.scores()
    # the answer (in Q2's mse part) is lost; get_paths still earns its part
    assert scores["Q2"] == COURSE["Q2"].part("get_paths").points and "is not one of the options" in run.question("Q2")["output"]
    assert all(scores[q.id] == q.points for q in COURSE.questions if q.id not in ("Q2", "Q3")), scores
