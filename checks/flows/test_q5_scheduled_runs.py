"""Q5: the number of runs the server schedules in advance, counted on the test server."""

from hw3.grading.gradebook import fail


def test_q5_answer_scheduled_runs(grading, course):
    answer = grading.answers.value(course["Q5"])
    grading.graded_by_the_instructor(course["Q5"], answer)
    if answer != grading.scheduled_runs:
        fail(f"q5 = {answer} is not the number of runs the server scheduled for a deployment on that cron")
