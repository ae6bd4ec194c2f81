"""Q2: get_paths(date) names the right two months (compared with the key's digests by their
file names; any folder), also for date=None with the clock set to several days (part
`get_paths`); the flow's validation MSE is right, and so is q2 (part `mse`)."""

from pathlib import Path

import pytest

from hw3.grading.gradebook import fail

SHOWN = 3  # wrong cases quoted in a failure


def wrong_calls(grading, key, group: str) -> list[str]:
    """What is wrong with the get_paths calls of a group ("dates" or "today")."""
    run = grading.finished("paths", "Q2.get_paths")
    days = sorted(key.paths) if group == "dates" else key.frozen_days
    wrong = []
    for day in days:
        call = f"get_paths({day!r})" if group == "dates" else f"get_paths(None) on {day}"
        outcome = run.data[group][day]
        if "error" in outcome:
            wrong.append(f"{call} {outcome['error']}")
            continue
        paths = outcome["paths"]
        shown = ", ".join(Path(p).name for p in paths)
        if not key.paths_are(day, *paths):
            wrong.append(f"{call} returned ({shown}), not the right months")
    return wrong


def fail_on(wrong: list[str]) -> None:
    if wrong:
        more = f" (and {len(wrong) - SHOWN} more)" if len(wrong) > SHOWN else ""
        fail("; ".join(wrong[:SHOWN]) + more)


def test_q2_get_paths_of_dates(grading, key):
    fail_on(wrong_calls(grading, key, "dates"))


def test_q2_get_paths_of_today(grading, key):
    fail_on(wrong_calls(grading, key, "today"))


def test_q2_mse_of_the_flow(grading):
    grading.finished("course", "Q2.mse")
    reading = grading.reported_mse("course")
    if reading is None:
        fail("the flow reported no validation MSE (a message with 'validation' and 'MSE' and the number)")
    if not reading.matches(grading.expected.val_mse):
        fail(f"your flow's validation MSE is {reading.value} ({reading.message!r}), not what the course's pipeline gives "
             "on the same data: keep its filter (1 to 60 minutes) and features, and only transform the validation month")


def test_q2_mse_on_real_data(grading, key, course):
    if not grading.real_files:
        pytest.skip("the real trip files of the course date are not in your data folder")
    grading.finished("real", "Q2.mse")
    reading = grading.reported_mse("real")
    if reading is None:
        fail("the flow reported no validation MSE on your real trip files")
    question = course["Q2"]
    grading.graded_by_the_instructor(question, f"the option closest to {reading.value:.5f}")
    if not key.answer_is(question.key, question.closest_option(reading.value)):
        fail(f"on your real trip files the validation MSE is {reading.value}, which is not near the expected answer")


def test_q2_mse_written_for_today(grading):
    grading.check_written_for_today("Q2.mse")


def test_q2_mse_answer(grading, course):
    grading.check_choice(course["Q2"], "is not the validation MSE of the course date")
