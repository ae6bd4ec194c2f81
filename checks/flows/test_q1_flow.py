"""Q1: main is a Prefect 3 flow, the four helpers are its tasks, and it logs instead of printing.

Part `flow`: judged from the server (the flow run of main(date=<course date>), its task runs
and logs) and from the code (what was written for Prefect 2). Part `answer`: answers.toml.
"""

from hw3.grading.gradebook import fail
from hw3.grading.measure import validation_mse

PART = "Q1.flow"


def completed_record(grading):
    """The server's record of the course-date flow run."""
    run = grading.finished("course", PART)
    if not run.data["is_flow"]:
        fail("main is not a Prefect flow: decorate it with @flow")
    record = grading.record("course")
    if record.state_type != "COMPLETED":
        fail(f"the server has the flow run in state {record.state_name}, not Completed")
    return record


def test_q1_flow_runs(grading):
    completed_record(grading)


def test_q1_flow_helpers_run_as_tasks(grading, course):
    record = completed_record(grading)
    missing = [name for name in course["Q1"].options if name not in record.task_names]
    if missing:
        fail(f"the flow run has no task run of {', '.join(missing)}: decorate it with @task and call it from main")


def test_q1_flow_logs_the_validation_mse(grading):
    record = completed_record(grading)
    if validation_mse(record.log_messages) is None:
        fail("no validation MSE message in the flow run's logs on the server: log it with get_run_logger()")


def test_q1_flow_prints_nothing(grading):
    # sorted: tasks in threads print in any order, and the reason must not change between runs
    printed = sorted(grading.finished("course", PART).data.get("run_stdout", "").splitlines())
    if printed:
        fail(f"your flow printed {len(printed)} line(s), e.g. {printed[0][:120]!r}: log with get_run_logger() instead")


def test_q1_flow_written_for_prefect_3(grading):
    grading.run("course")
    grading.check_written_for_today(PART)


def test_q1_answer(grading, course):
    grading.check_choice(course["Q1"], "is not the task whose result the flow has to unpack")
