"""Run one job on a submission's code, in a process of its own, for the checks.

    python -I -B probe.py REQUEST.json RESULT.json

REQUEST names the job and the submission's folder (`target`); RESULT receives a JSON
report: `phase` (what the probe was doing, kept up to date so that a crash still tells),
`outcome` ("ok", "failed" or "not attempted"), `reason` (one line), `stdout` (what the
submission printed) and the job's own fields. Jobs:

    get_paths   get_paths(date) for every date in `dates`, and get_paths(None) with the
                clock set to each day in `frozen_days`
    flow        main(date=`date`), or main() with the clock set to `frozen_day`
    deployment  read CRON and TIMEZONE from deployment.py and call register()

The probe is a standalone script: it imports the submission, Prefect and the standard
library only, never the checks, so nothing of the grading is within the submission's reach.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import io
import json
import os
import sys
import traceback
import uuid
from pathlib import Path

NOT_ATTEMPTED = "not attempted"
REASON_LIMIT = 400  # characters of an exception message kept in a reason


class JobFailed(Exception):
    """The job cannot go on; the message is the reason reported."""

    def __init__(self, reason: str, outcome: str = "failed"):
        super().__init__(reason)
        self.outcome = outcome


class Report:
    """The result file, rewritten at every phase so that it survives a crash."""

    def __init__(self, path: Path, target: Path):
        self.path = path
        self.target = target
        self.fields: dict = {"phase": "starting", "outcome": None, "reason": None, "stdout": ""}
        self.captured = io.StringIO()
        self.write()

    def phase(self, text: str) -> None:
        self.fields["phase"] = text
        self.write()

    def write(self) -> None:
        self.fields["stdout"] = self.captured.getvalue()
        part = self.path.with_name(self.path.name + ".part")
        part.write_text(json.dumps(self.fields, default=str), encoding="utf-8")
        os.replace(part, self.path)

    @contextlib.contextmanager
    def student_code(self):
        """Capture what the submission prints (Prefect's own console log goes to stderr)."""
        with contextlib.redirect_stdout(self.captured):
            yield

    def describe(self, exc: BaseException) -> str:
        """'raised ValueError: message (homework.py, line 12, in get_paths)'."""
        message = " ".join(str(exc).split())
        if len(message) > REASON_LIMIT:
            message = message[:REASON_LIMIT] + "..."
        text = f"raised {type(exc).__name__}" + (f": {message}" if message else "")
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if _inside(f.filename, self.target)] or frames
        if own:
            frame = own[-1]
            text += f" ({Path(frame.filename).name}, line {frame.lineno}, in {frame.name})"
        return text


def _inside(filename: str, folder: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def load_module(name: str, target: Path, report: Report):
    """Import `<target>/<name>.py` as module `name`."""
    path = target / f"{name}.py"
    if not path.is_file():
        raise JobFailed(f"{path.name} is missing from {target}")
    report.phase(f"importing {path.name}")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with report.student_code():
            spec.loader.exec_module(module)
    except Exception as exc:
        raise JobFailed(f"importing {path.name} {report.describe(exc)}") from exc
    return module


def function(module, name: str):
    """A function of the submission; a Prefect task is unwrapped to its function."""
    obj = getattr(module, name, None)
    if obj is None:
        raise JobFailed(f"{Path(module.__file__).name} has no {name}()")
    return getattr(obj, "fn", obj)


def at_noon(day: str) -> datetime.datetime:
    """Noon UTC of a YYYY-MM-DD day: the same calendar day in every time zone from -11 to +11."""
    return datetime.datetime.fromisoformat(day).replace(hour=12, tzinfo=datetime.timezone.utc)


def clock_at(day: str, tick: bool):
    """Set the clock of this process to noon of `day` (time_machine also moves pandas' clock)."""
    import time_machine

    return time_machine.travel(at_noon(day), tick=tick)


def silent_run_logger():
    """Make get_run_logger() work outside a run (it gives a silent logger), since the checks
    call get_paths' function directly, not as a task of a flow."""
    if "prefect" not in sys.modules:
        return contextlib.nullcontext()
    from prefect.logging import disable_run_logger

    return disable_run_logger()


def _paths(value) -> list[str]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"returned {value!r}, not a pair (train_path, val_path)")
    return [os.fspath(p) for p in value]


def job_get_paths(request: dict, report: Report) -> None:
    get_paths = function(load_module("homework", report.target, report), "get_paths")
    calls = [("dates", date, date, None) for date in request.get("dates", [])]
    calls += [("today", day, None, day) for day in request.get("frozen_days", [])]
    results: dict[str, dict] = {"dates": {}, "today": {}}
    for group, label, argument, frozen in calls:
        report.phase(f"calling get_paths({argument!r})" + (f" on {frozen}" if frozen else ""))
        try:
            clock = clock_at(frozen, tick=False) if frozen else contextlib.nullcontext()
            with report.student_code(), silent_run_logger(), clock:
                results[group][label] = {"paths": _paths(get_paths(argument))}
        except NotImplementedError as exc:
            raise JobFailed("get_paths still raises NotImplementedError", NOT_ATTEMPTED) from exc
        except Exception as exc:
            results[group][label] = {"error": report.describe(exc)}
    report.fields.update(results)


def job_flow(request: dict, report: Report) -> None:
    module = load_module("homework", report.target, report)
    main = getattr(module, "main", None)
    if main is None:
        raise JobFailed("homework.py has no main()")
    import prefect

    is_flow = isinstance(main, prefect.Flow)
    report.fields.update(is_flow=is_flow, flow_run_id=None, state=None)
    date, frozen = request.get("date"), request.get("frozen_day")
    kwargs = {"date": date} if date is not None else {}
    call = f"main({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})" + (f" on {frozen}" if frozen else "")
    if is_flow:
        kwargs["return_state"] = True
        if frozen:  # connect before the clock moves: Prefect's client must start on the real clock
            with prefect.get_client(sync_client=True) as client:
                client.api_healthcheck()
    report.phase(f"running {call}")
    try:
        with report.student_code(), (clock_at(frozen, tick=True) if frozen else contextlib.nullcontext()):
            outcome = main(**kwargs)
    except NotImplementedError as exc:
        raise JobFailed("main still raises NotImplementedError", NOT_ATTEMPTED) from exc
    except Exception as exc:
        raise JobFailed(f"{call} {report.describe(exc)}") from exc
    finally:
        if is_flow:
            from prefect.logging.handlers import APILogHandler

            APILogHandler().flush()
    if is_flow:
        state = outcome
        report.fields["flow_run_id"] = str(state.state_details.flow_run_id)
        report.fields["state"] = {"type": state.type.value, "name": state.name, "message": state.message}
        if not state.is_completed():
            error = state.result(raise_on_failure=False)
            detail = report.describe(error) if isinstance(error, BaseException) else state.message
            raise JobFailed(f"the flow run of {call} ended {state.name}: {detail}")


def job_deployment(request: dict, report: Report) -> None:
    load_module("homework", report.target, report)  # what `from homework import main` finds
    module = load_module("deployment", report.target, report)
    if not hasattr(module, "CRON"):
        raise JobFailed("deployment.py has no CRON")
    report.fields.update(cron=module.CRON, timezone=getattr(module, "TIMEZONE", None))
    register = getattr(module, "register", None)
    if register is None:
        raise JobFailed("deployment.py has no register()")
    report.phase("calling register()")
    try:
        with report.student_code():
            deployment_id = register()
    except NotImplementedError as exc:
        raise JobFailed("register() still raises NotImplementedError", NOT_ATTEMPTED) from exc
    except Exception as exc:
        raise JobFailed(f"register() {report.describe(exc)}") from exc
    try:
        report.fields["deployment_id"] = str(uuid.UUID(str(deployment_id)))
    except ValueError:
        raise JobFailed(f"register() returned {deployment_id!r}, not the id of the deployment") from None


JOBS = {"get_paths": job_get_paths, "flow": job_flow, "deployment": job_deployment}


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    target = Path(request["target"]).resolve()
    sys.path.insert(0, str(target))
    report = Report(Path(argv[2]), target)
    try:
        JOBS[request["job"]](request, report)
        report.fields.update(outcome="ok")
    except JobFailed as exc:
        report.fields.update(outcome=exc.outcome, reason=str(exc))
    report.phase("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
