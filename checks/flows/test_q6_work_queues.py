"""Q6: the student's command, run for real against the test server, lists the work queues."""

import secrets
import shlex

from hw3.grading import prefect_api as api
from hw3.grading.gradebook import fail
from hw3.sandbox.runner import prefect_command, run_command


def test_q6_command_lists_work_queues(grading, course):
    answer = grading.answers.value(course["Q6"])
    try:
        argv = shlex.split(str(answer))
    except ValueError as exc:
        fail(f"q6 = {answer!r} is not a command line ({exc})")
    if argv[:2] != ["prefect", "work-queue"]:
        fail(f"q6 = {answer!r}: the checks run `prefect work-queue ...` commands only")
    queue = f"hw3-checks-{secrets.token_hex(4)}"
    api.create_work_queue(grading.api_url, queue)
    result = run_command(prefect_command(argv), grading.sandbox("q6"))
    if result.reason:
        fail(f"`{answer}` {result.reason}")
    if result.returncode != 0:
        fail(f"`{answer}` exited with code {result.returncode}; run it yourself to see why")
    if queue not in result.stdout:
        fail(f"`{answer}` exited with 0 but did not list the work queues (run it after creating one)")
