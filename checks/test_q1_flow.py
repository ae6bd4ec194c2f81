"""Q1: main is a Prefect flow, the four helpers are its tasks, and it logs instead of printing.

Judged from the server: the flow run of main(date=<course date>) and its task runs and logs.
"""

from checks.harness.grading import fail
from checks.harness.measure import validation_mse


def completed_record(grading):
    """The server's record of the course-date flow run."""
    run = grading.finished("course")
    if not run.data["is_flow"]:
        fail("main is not a Prefect flow: decorate it with @flow")
    record = grading.record("course")
    if record.state_type != "COMPLETED":
        fail(f"the server has the flow run in state {record.state_name}, not Completed")
    return record


def test_q1_main_runs_as_a_flow(grading):
    completed_record(grading)


def test_q1_helpers_run_as_tasks(grading, course):
    record = completed_record(grading)
    missing = [name for name in course["Q1"].options if name not in record.task_names]
    if missing:
        fail(f"the flow run has no task run of {', '.join(missing)}: decorate it with @task and call it from main")


def test_q1_validation_mse_is_logged(grading):
    record = completed_record(grading)
    if validation_mse(record.log_messages) is None:
        fail("no validation MSE message in the flow run's logs on the server: log it with get_run_logger()")


def test_q1_nothing_printed(grading):
    printed = grading.finished("course").stdout.splitlines()
    if printed:
        fail(f"your code printed {len(printed)} line(s), e.g. {printed[0]!r}: log with get_run_logger() instead")


def test_q1_answer(grading, course):
    grading.check_choice(course["Q1"], "is not the task whose result the flow has to unpack")
