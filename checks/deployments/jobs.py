"""The jobs the probe runs for the 2023 homework (`deployments`), inside the wall (see
hw3/sandbox/probe.py):

    email_block  import email_block.py and call save_email_block(`smtp_server`, `smtp_port`),
                 or run the student's own script `script` that saves the
                 EmailServerCredentials block the flow sends its message with
    automation   import automation.py and call create_automation(`deployment`, `url`): the
                 automation that calls `url` when a run of the deployment completes

Each reports the id the student's function returned (`block_id`, `automation_id`). The flow
itself (orchestrate.py) and `prefect deploy` run as commands, not here: see session.py.

Standard library, Prefect and the probe's kit only.
"""

from __future__ import annotations

import sys
import uuid

import hw3_kit as kit


def _call(report, module_name: str, function_name: str, *args):
    """function_name(*args) of the submission's module_name.py, as the student wrote it."""
    module = kit.load_module(module_name, report.target, report)
    function = getattr(module, function_name, None)
    if function is None:
        raise kit.JobFailed(f"{module_name}.py has no {function_name}()")
    call = f"{function_name}({', '.join(map(repr, args))})"
    report.phase(f"calling {call}")
    try:
        with report.student_code():
            return call, getattr(function, "fn", function)(*args)
    except NotImplementedError as exc:
        raise kit.JobFailed(f"{function_name} still raises NotImplementedError", kit.NOT_ATTEMPTED) from exc
    except Exception as exc:
        report.failed_in(exc)
        raise kit.JobFailed(f"{call} {report.describe(exc)}") from exc


def _an_id(call: str, value, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise kit.JobFailed(f"{call} returned {str(value)[:120]!r}, not the id of the {what}") from None


def job_email_block(request: dict, report) -> None:
    """The stub's way (`save_email_block(host, port)` of email_block.py), else the student's
    own script that saves the block when it runs (`script`: its name, without .py)."""
    script = request.get("script", "email_block")
    if request.get("function"):
        call, value = _call(report, script, "save_email_block", request["smtp_server"], request["smtp_port"])
        report.fields["block_id"] = _an_id(call, value, "block it saved")
        return
    sys.argv = [f"{script}.py"]
    try:
        kit.load_module(script, report.target, report, as_script=True)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise kit.JobFailed(f"running {script}.py exited with {exc.code!r}") from None


def job_automation(request: dict, report) -> None:
    call, value = _call(report, "automation", "create_automation", request["deployment"], request["url"])
    report.fields["automation_id"] = _an_id(call, value, "automation it created")


JOBS = {"email_block": job_email_block, "automation": job_automation}
