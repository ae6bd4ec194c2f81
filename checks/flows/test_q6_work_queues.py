"""Q6: the student's command, run for real against the test server, lists the work queues."""

from hw3.grading.gradebook import fail


def test_q6_command_lists_work_queues(grading, course):
    answer = grading.answers.value(course["Q6"])
    problem = grading.q6_problem()
    if problem:
        fail(problem)
    result = grading.finished("q6", "Q6.command")
    if result.data["returncode"] != 0:
        fail(f"`{answer}` exited with code {result.data['returncode']}; run it yourself to see why")
    if grading.q6_queue not in result.data["output"]:
        fail(f"`{answer}` exited with 0 but did not list the work queues (run it after creating one)")
