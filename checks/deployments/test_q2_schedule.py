"""Q2: `prefect --no-prompt deploy --all`, run in a copy of the student's folder, registers a
deployment (any name, on any pool: the checks make the pools prefect.yaml names, of type
process) of a flow of the submission, with the monthly cron (compared by meaning: its fire
times) in UTC and a pull step to that folder (part `deploy`); q2 is right (part `answer`)."""

from checks.deployments.session import PREFECT_FILE
from hw3.grading import cron
from hw3.grading.gradebook import fail, not_attempted

UTC = {None, "UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z", "Universal", "Zulu"}


def student_deployment(grading):
    """The deployment prefect deploy registered; the check ends here if there is none."""
    deployed = grading.deployed()
    if deployed.yaml_problem:
        fail(deployed.yaml_problem)
    if not deployed.declared and deployed.old_format:
        fail(f"{PREFECT_FILE} has no `deployments:` section: your deployments are in {deployed.old_format}, the "
             f"format of Prefect 2 (2.10's `prefect project init` and `prefect deployment build`); Prefect 3's "
             f"`prefect deploy` reads them only from the `deployments:` section of {PREFECT_FILE}: move them there")
    if not deployed.declared:
        not_attempted(f"{PREFECT_FILE} declares no deployment yet")
    command = deployed.command
    if command.reason:
        fail(f"`prefect --no-prompt deploy --all` {command.reason}")
    if command.returncode != 0:
        said = last_paragraph(command.stdout + "\n" + command.stderr)
        pool = " (the checks make the work pools your prefect.yaml names, of type process, before they deploy)" if "pool" in said else ""
        fail(f"`prefect --no-prompt deploy --all` exited with code {command.returncode}"
             + (f": {said.rstrip('.')}" if said else "") + f"{pool}; run it in your folder to see why")
    if deployed.student is None:
        fail("`prefect --no-prompt deploy --all` registered no deployment")
    return deployed.student


def last_paragraph(output: str, limit: int = 400) -> str:
    """What a command said last: its last paragraph in one line (the last line of a long one,
    such as a traceback), without the frames of its panels."""
    paragraphs, current = [], []
    for line in output.splitlines():
        line = line.strip(" │╭╮╰╯─┃━┏┓┗┛")
        if line:
            current.append(line)
        elif current:
            paragraphs, current = [*paragraphs, current], []
    paragraphs += [current] if current else []
    if not paragraphs:
        return ""
    last = paragraphs[-1] if len(paragraphs[-1]) <= 4 else paragraphs[-1][-1:]
    text = " ".join(last)
    return text if len(text) <= limit else text[:limit] + "..."


def test_q2_deploy_runs_a_flow_of_the_submission(grading):
    grading.note(*grading.deployed().bridges)  # said by the check that deploys, so that a partial grade keeps it
    deployment = student_deployment(grading)
    if grading.code.flow_at(deployment.entrypoint) is None:
        flows = ", ".join(f.entrypoint for f in grading.code.flows) or "none"
        fail(f"the deployment's entrypoint {deployment.entrypoint!r} names no @flow of your files (they have: {flows})")


def test_q2_deploy_pull_step_to_the_folder(grading):
    problem = grading.pull_problem(student_deployment(grading))
    if problem:
        fail(f"the deployment: {problem}")


def test_q2_deploy_monthly_cron(grading, key, course):
    deployment = student_deployment(grading)
    crons = [s for s in deployment.schedules if s.active and s.cron]
    if not crons:
        fail("the deployment has no active cron schedule on the server")
    question = course["Q2"]
    options = {s.cron: cron_option(s.cron, question) for s in crons}
    if key.has_answers:
        right = [s for s in crons if key.answer_is(question.key, options[s.cron])]
        if not right:
            fail(f"the deployment is scheduled by cron {', '.join(options)}, which does not fire at the times asked for")
    else:  # a student release: the schedule's meaning is graded with the instructor's key
        right = [s for s in crons if options[s.cron] is not None]
        if not right:
            fail(f"the deployment's cron {', '.join(options)} fires like none of the options: {' | '.join(question.options)}")
    zones = sorted({str(s.timezone) for s in right if s.timezone not in UTC})
    if len(zones) == len(right):
        fail(f"the deployment's cron schedule is in time zone {', '.join(zones)}, not UTC: add timezone: UTC")


def cron_option(expression: str, question) -> str | None:
    """The option of `question` that fires at the times of the deployment's `expression`."""
    try:
        return same_times(expression, question.options)
    except cron.CronError as exc:
        fail(f"the deployment's schedule: {exc}")


def same_times(expression: str, options) -> str | None:
    """The option with the fire times of `expression` (options that are no valid cron
    expression, such as a month 0, fire never and match nothing). Raises CronError if
    `expression` is not a cron expression."""
    times = cron.fire_times(expression)
    for option in options:
        try:
            if cron.fire_times(option) == times:
                return option
        except cron.CronError:
            continue
    return None


def test_q2_answer(grading, key, course):
    question = course["Q2"]
    value = grading.answers.value(question)
    if not isinstance(value, str):
        fail(f"q2 = {value!r}: write the cron expression as a quoted string")
    option = question.normalise(value)  # an option as written, even one that is no valid cron expression
    if option is None:
        try:
            option = same_times(value, question.options)
        except cron.CronError as exc:
            fail(f"q2 in {grading.answers.path.name}: {exc}")
    if option is None:
        fail(f"q2 = {value!r} fires like none of the options: {' | '.join(question.options)}")
    grading.graded_by_the_instructor(question, value)
    if not key.answer_is(question.key, option):
        fail(f"q2 = {value!r} does not fire at the times the question asks for")
