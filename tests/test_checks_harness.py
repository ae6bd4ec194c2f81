"""The parts the checks are built on, one by one: the child runner and its reasons, the
answers file, cron by meaning, the guarded unpickler, the MSE reading and the grade model."""

from __future__ import annotations

import ast
import os
import pickle
import textwrap
from pathlib import Path

import pytest
from sklearn.feature_extraction import DictVectorizer

from hw3.grading import answers, artifacts, cron, measure
from hw3.grading.gradebook import FAILED, NOT_ATTEMPTED, NOT_RUN, PASSED, SKIPPED, Gradebook, NotAttempted
from submissions import FLOWS_JOBS
from hw3.sandbox.runner import Sandbox, run_probe
from hw3 import catalogue
from hw3.layout import PROJECT_ROOT

COURSE = catalogue.load()


def target_with(folder: Path, homework: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "homework.py").write_text(textwrap.dedent(homework))
    return folder


def get_paths_probe(tmp_path: Path, homework: str, **limits):
    target = target_with(tmp_path / "target", homework)
    sandbox = Sandbox(tmp_path / "sandbox", api_url="")
    return run_probe("get_paths", target, sandbox, jobs=FLOWS_JOBS, dates=["2021-08-15"], frozen_days=["2022-01-10"], **limits)


# -- runner ---------------------------------------------------------------------------------


def test_probe_reports_paths_prints_and_the_frozen_day(tmp_path):
    result = get_paths_probe(
        tmp_path,
        """
        import datetime, os
        print("loading")
        def get_paths(date):
            print("called", date)
            day = date or datetime.date.today().isoformat()
            return (os.path.join(os.environ["HW3_DATA_DIR"], day), os.getcwd())
        """,
    )
    assert result.ok, result.reason
    assert result.data["dates"]["2021-08-15"]["paths"] == [str(tmp_path / "sandbox" / "work" / "data" / "2021-08-15"), str(tmp_path / "sandbox" / "work")]
    assert result.data["today"]["2022-01-10"]["paths"][0].endswith("2022-01-10")
    assert result.stdout == "loading\ncalled 2021-08-15\ncalled None\n"


def test_get_paths_task_may_log(tmp_path):
    result = get_paths_probe(
        tmp_path,
        """
        from prefect import get_run_logger, task
        @task
        def get_paths(date):
            get_run_logger().info("paths for %s", date)
            return ("a", "b")
        """,
    )
    assert result.data["dates"]["2021-08-15"] == {"paths": ["a", "b"]}
    assert result.data["today"]["2022-01-10"] == {"paths": ["a", "b"]}


def test_probe_sees_the_target_and_site_packages_only(tmp_path):
    result = get_paths_probe(
        tmp_path,
        """
        import importlib.util, sys
        def get_paths(date):
            return (str(importlib.util.find_spec("checks")), repr(sys.path))
        """,
    )
    checks_spec, path = result.data["dates"]["2021-08-15"]["paths"]
    assert checks_spec == "None"
    path = ast.literal_eval(path)
    assert path[0] == str(tmp_path / "target")
    assert str(PROJECT_ROOT) not in path and "" not in path and str(tmp_path / "sandbox" / "work") not in path


def test_exception_reason_names_the_line(tmp_path):
    result = get_paths_probe(tmp_path, "def get_paths(date):\n    raise ValueError(f'no month for {date}')\n")
    assert result.ok
    assert result.data["dates"]["2021-08-15"] == {"error": "raised ValueError: no month for 2021-08-15 (homework.py, line 2, in get_paths)"}


def test_stub_is_not_attempted(tmp_path):
    result = get_paths_probe(tmp_path, "def get_paths(date):\n    raise NotImplementedError('Q2')\n")
    assert (result.outcome, result.reason) == (NOT_ATTEMPTED, "get_paths still raises NotImplementedError")


@pytest.mark.parametrize(
    ("homework", "reason"),
    [
        ("import sys\nsys.exit(3)\n", "exited with code 3 while importing homework.py"),
        ("import os\nos.abort()\n", "was killed by SIGABRT"),
        ("def get_paths(date:\n", "importing homework.py raised SyntaxError"),
        ("import no_such_module\n", "importing homework.py raised ModuleNotFoundError: No module named 'no_such_module' (homework.py, line 1"),
        ("x = 1\n", "homework.py has no get_paths()"),
    ],
)
def test_failures_become_one_line_reasons(tmp_path, homework, reason):
    result = get_paths_probe(tmp_path, homework)
    assert result.outcome == FAILED
    assert reason in result.reason and "\n" not in result.reason


def test_time_limit(tmp_path):
    result = get_paths_probe(tmp_path, "import time\ndef get_paths(date):\n    time.sleep(60)\n", timeout=3)
    assert result.reason == "timed out after 3 s while calling get_paths('2021-08-15')"
    assert result.seconds < 30


def test_memory_limit(tmp_path):
    result = get_paths_probe(tmp_path, "hog = bytearray(4 * 1024**3)\n", memory_mb=1024)
    assert result.outcome == FAILED
    assert result.reason.startswith("importing homework.py raised MemoryError")
    assert "at most 1024 MB" in result.reason


def test_missing_homework_file(tmp_path):
    (tmp_path / "target").mkdir()
    result = run_probe("flow", tmp_path / "target", Sandbox(tmp_path / "sandbox", ""), jobs=FLOWS_JOBS, date="2021-08-15")
    assert (result.outcome, result.reason) == (FAILED, "homework.py is missing from your submission")


# -- answers.toml -------------------------------------------------------------------------


def read_answers(tmp_path: Path, text: str) -> answers.Answers:
    (tmp_path / "answers.toml").write_text(textwrap.dedent(text))
    return answers.read(tmp_path, COURSE)


def test_reference_answers_are_options():
    parsed = answers.read(PROJECT_ROOT / "solutions", COURSE)
    assert not parsed.problems and not parsed.notes
    assert [parsed.option(COURSE[q]) for q in ("Q1", "Q2", "Q3", "Q6")] == [COURSE[q].answer for q in ("Q1", "Q2", "Q3", "Q6")]
    assert parsed.value(COURSE["Q5"]) == 3


def test_a_broken_line_costs_its_question_only(tmp_path):
    parsed = read_answers(tmp_path, 'q1 = "train_model"\nq3 = 13,000 bytes\nq5 = 3\n')
    assert set(parsed.problems) == {"q3"}
    assert "line 2: `q3 = 13,000 bytes` is not valid TOML" in parsed.problems["q3"]
    assert 'q3 must be one of the options, as a quoted string, e.g. q3 = "..."' in parsed.problems["q3"]
    assert parsed.option(COURSE["Q1"]) == "train_model" and parsed.value(COURSE["Q5"]) == 3
    with pytest.raises(pytest.fail.Exception, match="line 2"):
        parsed.value(COURSE["Q3"])


@pytest.mark.parametrize(
    ("text", "question", "message"),
    [
        ('q5 = "three"\n', "Q5", 'line 1: `q5 = "three"`: q5 must be a whole number, without quotes, e.g. q5 = 42'),
        ("q1 = true\n", "Q1", "line 1: `q1 = true`: q1 must be one of the options"),
        ('Q2 = "11.637"\n', "Q2", "line 1: `Q2 = \"11.637\"`: there is no key 'Q2' (the keys are student_id, q1, q2"),
        ('q6 = "a"\nq6 = "b"\n', "Q6", "lines 1 and 2: q6 is answered twice"),
        ('q2 = "11.74"\n', "Q2", 'line 1: `q2 = "11.74"` is not one of the options: 11.637 | 11.837'),
        ("q1 = 1\n", "Q1", "is not one of the options"),
        ("", "Q4", "has no answer to Q4: add a line for it (q4 must be a cron expression"),
    ],
)
def test_answer_problems_quote_the_line(tmp_path, text, question, message):
    parsed = read_answers(tmp_path, text)
    with pytest.raises(pytest.fail.Exception) as failure:
        parsed.option(COURSE[question]) if COURSE[question].kind == "choice" else parsed.value(COURSE[question])
    assert message in failure.value.msg


def test_numbers_may_stand_for_options(tmp_path):
    parsed = read_answers(tmp_path, "q2 = 11.637\nq3 = 13000\n")
    assert (parsed.option(COURSE["Q2"]), parsed.option(COURSE["Q3"])) == ("11.637", "13,000 bytes")


def test_placeholder_is_not_attempted(tmp_path):
    parsed = read_answers(tmp_path, 'q5 = ""\n')
    with pytest.raises(NotAttempted, match="q5 in answers.toml is still empty"):
        parsed.value(COURSE["Q5"])


def test_stray_lines_are_notes_that_cost_nothing(tmp_path):
    parsed = read_answers(tmp_path, 'foo = 1\nstudent_id = 5\n[extra]\nq1 = "train_model"\n')
    assert not parsed.problems
    assert len(parsed.notes) == 3
    assert parsed.option(COURSE["Q1"]) == "train_model"


def test_missing_answers_file_costs_every_answer(tmp_path):
    parsed = answers.read(tmp_path, COURSE)
    assert set(parsed.problems) == {q.key for q in COURSE.questions}
    assert parsed.problems["q1"] == "answers.toml is missing from your submission: copy the homework's answers.toml there and fill it in"


# -- cron by meaning ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "option"),
    [("0 9 15 * *", "0 9 15 * *"), ("00 9 15 * *", "0 9 15 * *"), ("0  09 15 1-12 *", "0 9 15 * *"),
     ("9 15 * * *", "9 15 * * *"), ("9 0 15 * *", None), ("0 9 15 * 1", None), ("0 21 15 * *", None)],
)  # fmt: skip
def test_cron_is_compared_by_fire_times(expression, option):
    assert cron.as_option(expression, COURSE["Q4"].options) == option


@pytest.mark.parametrize("expression", ["", "every month", "61 9 15 * *"])
def test_invalid_cron_is_an_error(expression):
    with pytest.raises(cron.CronError, match="is not a valid cron expression"):
        cron.fire_times(expression)


# -- artifacts ----------------------------------------------------------------------------


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_unpickler_refuses_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.bin").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(artifacts.ArtifactError, match="model.bin is not a readable pickle: it refers to posix.system"):
        artifacts.load(tmp_path / "model.bin")
    assert not (tmp_path / "pwned").exists()


def test_unpickler_loads_a_fitted_vectorizer(tmp_path):
    dv = DictVectorizer().fit([{"PU": "1", "DO": "2"}])
    (tmp_path / "dv.b").write_bytes(pickle.dumps(dv))
    assert artifacts.load(tmp_path / "dv.b").feature_names_ == dv.feature_names_
    with pytest.raises(artifacts.ArtifactError, match="nothing.b was not saved"):
        artifacts.load(tmp_path / "nothing.b")


# -- the validation MSE in messages ------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "value", "matches"),
    [
        (["training MSE: 10.9", "validation MSE: 11.502348747608606"], 11.502348747608606, True),
        (["Validation MSE: 11.50"], 11.5, True),  # rounded: +- 0.005
        (["Validation MSE: 11.49"], 11.49, False),
        (["MSE on 2021-07 validation: 11.5023"], 11.5023, True),
        (["val MSE = np.float64(11.50234874)"], 11.50234874, True),
    ],
)
def test_validation_mse_reading(messages, value, matches):
    reading = measure.validation_mse(messages)
    assert reading.value == value
    assert reading.matches(11.502348747608606) is matches


def test_no_validation_mse():
    assert measure.validation_mse(["training MSE: 10.9", "validation done"]) is None


# -- grade model -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "status", "earned"),
    [
        ([PASSED, PASSED, SKIPPED], PASSED, 2),
        ([PASSED, FAILED], FAILED, 1),  # the flow part is lost, the answer part is not
        ([NOT_ATTEMPTED, NOT_ATTEMPTED, SKIPPED], FAILED, 1),
        ([PASSED, NOT_ATTEMPTED], FAILED, 1),
        ([SKIPPED], FAILED, 1),
    ],
)
def test_question_grade_by_parts(statuses, status, earned):
    book = Gradebook(COURSE)
    for number, check_status in enumerate(statuses):
        book.record("Q1", f"test_q1_flow_{number}", check_status, None if check_status == PASSED else "why")
    book.record("Q1", "test_q1_answer", PASSED, None)
    grade = book.grade(COURSE["Q1"])
    assert (grade.status, grade.earned) == (status, earned)
    results = book.results_json()
    assert results["max_score"] == COURSE.max_score and results["tests"][0]["score"] == earned
    assert (results["extra_data"]["lost"].get("Q1") is None) == (earned == 2)


@pytest.mark.parametrize(("statuses", "status"), [([], NOT_RUN), ([NOT_ATTEMPTED], NOT_ATTEMPTED), ([SKIPPED], SKIPPED)])
def test_a_question_whose_parts_agree_takes_their_status(statuses, status):
    book = Gradebook(COURSE)
    for check_status in statuses:
        book.record("Q1", "test_q1_flow_runs", check_status, "why")
        book.record("Q1", "test_q1_answer", check_status, "why")
    grade = book.grade(COURSE["Q1"])
    assert (grade.status, grade.earned) == (status, 0)


def test_a_check_of_no_part_is_refused():
    with pytest.raises(Exception, match="belongs to no part of Q1"):
        Gradebook(COURSE).record("Q1", "test_q1_nothing", PASSED, None)


@pytest.mark.parametrize(("written", "option"), [('"11.63703425376567"', "11.637"), ("11.637", "11.637"), ("11.64", "11.637"),
                                                  ('"12.2"', "12.237")])
def test_a_number_written_in_full_counts_as_its_clearly_closest_option(tmp_path, written, option):
    parsed = read_answers(tmp_path, f"q2 = {written}\n")
    assert parsed.option(COURSE["Q2"]) == option
    assert parsed.notes == ([] if written.strip('"') == option else [f"answers.toml, line 1: `q2 = {written}` counts as the option '{option}', the closest one"])


def test_a_cause_in_short_keeps_names_and_drops_figures():
    from hw3.grading.gradebook import gist

    assert gist("q3 in answers.toml is still empty") == "q3 in answers.toml is still empty"
    assert gist("your MSE 11.575 is not 12,000 (the option)") == "your MSE N is not N (...)"
