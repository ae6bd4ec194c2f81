"""Q4: deployment.CRON fires at the times asked for (compared by fire times, so "00 6 1 * *"
is as good as an option "0 6 1 * *"), and register() puts a deployment on that schedule on the
server (part `deployment`); q4 is right (part `answer`)."""


from hw3.grading import cron
from hw3.grading.gradebook import fail, not_attempted


def cron_option(expression, what: str, course) -> str | None:
    """The Q4 option with the same fire times as `expression`."""
    try:
        return cron.as_option(expression, course["Q4"].options)
    except cron.CronError as exc:
        fail(f"{what}: {exc}")


def test_q4_deployment_cron(grading, key, course):
    run = grading.run("deployment")
    if "cron" not in run.data:
        fail(run.reason)
    expression = run.data["cron"]
    if expression == "":
        not_attempted("CRON in deployment.py is still empty")
    if not isinstance(expression, str):
        fail(f"CRON in deployment.py is {expression!r}; it must be a string such as '* * * * *'")
    option = cron_option(expression, "CRON in deployment.py", course)
    if not key.has_answers:  # a student release: the schedule's meaning is graded with the key
        if option is None:
            fail(f"CRON = {expression!r} fires like none of the options: {' | '.join(course['Q4'].options)}")
        return
    if not key.answer_is("q4", option):
        fail(f"CRON = {expression!r} does not fire at the times the question asks for")


def test_q4_deployment_registered_on_the_schedule(grading):
    problem = grading.schedule_problem()
    if problem:
        fail(problem)


def test_q4_deployment_written_for_prefect_3(grading):
    grading.check_written_for_today("Q4.deployment")


def test_q4_answer(grading, key, course):
    question = course["Q4"]
    value = grading.answers.value(question)
    if not isinstance(value, str):
        fail(f"q4 = {value!r}: write the cron expression as a quoted string")
    option = cron_option(value, f"q4 in {grading.answers.path.name}", course)
    if option is None:
        fail(f"q4 = {value!r} fires like none of the options: {' | '.join(question.options)}")
    grading.graded_by_the_instructor(question, value)
    if not key.answer_is(question.key, option):
        fail(f"q4 = {value!r} does not fire at the times the question asks for")
