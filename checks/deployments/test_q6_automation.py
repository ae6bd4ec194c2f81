"""Q6: the student's create_automation makes an automation on the server whose trigger
expects the deployment's flow runs to complete, and that calls the checks' URL after a run
of the deployment completes (part `automation`); q6 is right (part `answer`)."""

import time

from checks.deployments.session import AUTOMATION_WAIT_S
from hw3.grading import prefect_api as api
from hw3.grading.gradebook import fail

COMPLETED = "prefect.flow-run.Completed"
TRIGGERED, EXECUTED, FAILED = ("prefect.automation.triggered", "prefect.automation.action.executed",
                               "prefect.automation.action.failed")


def created(grading) -> dict:
    """The automation the student's create_automation made, as the server has it."""
    if grading.deployed().used is None:
        grading.flow_run("worker", own_part=False)  # why the flow could not be deployed
        fail("not seen: the checks could not deploy your flow")
    result = grading.finished("automation", "Q6.automation")
    found = api.automation(grading.api_url, result.data["automation_id"])
    if found is None:
        fail(f"create_automation returned {result.data['automation_id']}, but the server has no automation with that id")
    return found


def test_q6_automation_exists(grading):
    found = created(grading)
    if not found.get("enabled", True):
        fail(f"the automation {found.get('name')!r} is disabled")


def trigger_problem(grading, found: dict) -> str | None:
    """Why the automation's trigger does not expect the deployment's runs to complete."""
    trigger = found.get("trigger") or {}
    if "expect" not in trigger:
        return None  # a compound trigger: what it does is judged by whether it fires
    expected = set(trigger.get("expect") or [])
    if COMPLETED not in expected or trigger.get("posture", "Reactive") != "Reactive":
        return (f"the automation's trigger expects {', '.join(sorted(expected)) or 'no event'} "
                f"({trigger.get('posture')}), not {COMPLETED} (Reactive): it must act when a run ends well")
    deployment = grading.deployed().used
    related = str(trigger.get("match_related"))
    if deployment.id not in related and deployment.name not in related:
        return ("the automation's trigger is not related to the deployment (match_related with "
                "prefect.resource.id prefect.deployment.<its id>): it would act on runs of any flow")
    return None


def test_q6_automation_expects_completed_runs(grading):
    problem = trigger_problem(grading, created(grading))
    if problem:
        fail(problem)


def test_q6_automation_calls_the_url_when_a_run_completes(grading):
    found = created(grading)
    if trigger_problem(grading, found):
        return  # test_q6_automation_expects_completed_runs says what is wrong with it
    runs = {r.record.id: r.record for r in grading.ran().runs.values() if r.record}
    ended = [r for r in runs.values() if r.state_type == "COMPLETED" and r.end_time]
    if not ended:
        grading.flow_run("worker", own_part=False)
        fail("not seen: no run of the deployment completed")
    first = min(r.end_time for r in ended)
    resource = f"prefect.automation.{found['id']}"
    deadline = first + AUTOMATION_WAIT_S
    while True:  # the automation's own events say what it acted on, and whether its action went through
        seen = api.events(grading.api_url, [TRIGGERED, EXECUTED, FAILED], resource, first - 120)
        acted_on = [triggering(event) for event in seen if event["event"] == TRIGGERED]
        ours = [(name, run_id) for name, run_id in acted_on if run_id in runs]
        executed = [event for event in seen if event["event"] == EXECUTED]
        acted = executed + [event for event in seen if event["event"] == FAILED]
        calls = grading.webhook.calls_after(first - 120)
        if any(name == COMPLETED for name, _ in ours) and acted or time.time() > deadline:
            break  # a call comes before the action's event: nothing more to wait for
        time.sleep(1)
    if not ours:
        fail(f"a run of the deployment completed, but the automation did not act within {AUTOMATION_WAIT_S:g} s")
    if not any(name == COMPLETED for name, _ in ours):
        fail(f"the automation acted on {', '.join(sorted({name for name, _ in ours}))} of the deployment's runs, "
             f"not on {COMPLETED}")
    if not executed or not calls:
        failures = [event for event in seen if event["event"] == FAILED]
        why = ""
        if failures:
            payload = failures[-1].get("payload") or {}
            why = f": the server says its action failed ({' '.join(str(payload.get('reason') or payload).split())[:300]})"
        fail(f"the automation acted when a run completed, but did not call the URL it was given{why}")


def triggering(event: dict) -> tuple[str | None, str | None]:
    """(event name, flow run id) of what triggered an automation (its `triggered` event)."""
    cause = (event.get("payload") or {}).get("triggering_event") or {}
    resource = str((cause.get("resource") or {}).get("prefect.resource.id", ""))
    return cause.get("event"), resource.removeprefix("prefect.flow-run.") if resource.startswith("prefect.flow-run.") else None


def test_q6_answer(grading, course):
    grading.check_choice(course["Q6"], "is not the event of a flow run that ends well")
