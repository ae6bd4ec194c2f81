"""The jobs the probe runs for the 2022 homework (`flows`), inside the wall (see
hw3/sandbox/probe.py):

    get_paths   get_paths(date) for every date in `dates`, and get_paths(None) with the
                clock set to each day in `frozen_days`
    flow        main(date=`date`), or main() with the clock set to `frozen_day`
    deployment  read CRON and TIMEZONE from deployment.py and call register() (the
                deployment's name gets a suffix of this run: `separate_deployments`)
    command     the student's `prefect ...` command line (`argv`), run by this Prefect's CLI
                in this process, as the `prefect` program runs it: its exit code and output

Standard library, Prefect and the probe's kit only.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import os
import shutil
import uuid
from pathlib import Path

import hw3_kit as kit


def _paths(value) -> list[str]:
    """The (train, val) paths of what get_paths returned; more values may follow them."""
    if not isinstance(value, (tuple, list)) or len(value) < 2:
        raise TypeError(f"returned {str(value)[:120]!r}, not a pair (train_path, val_path)")
    try:
        return [os.fspath(p) for p in value[:2]]
    except TypeError:
        raise TypeError(f"returned {str(value)[:120]!r}: its first two values must be the paths (train_path, val_path)") from None


def call_get_paths(get_paths, argument: str | None, report) -> list[str]:
    """get_paths(argument); when a date string fails, whether a datetime would have worked
    is told in the reason (the checks pass 'YYYY-MM-DD' or None, as the homework says)."""
    try:
        with report.student_code(), kit.silent_run_logger():
            return _paths(get_paths(argument))
    except NotImplementedError:
        raise
    except Exception as exc:
        if argument is None:
            raise
        failure = exc
    try:
        with report.student_code(), kit.silent_run_logger():
            _paths(get_paths(datetime.datetime.fromisoformat(argument)))
    except Exception:
        raise failure from None
    raise DatetimeOnly(f"{report.describe(failure)}: the checks pass a date string 'YYYY-MM-DD', or None; yours works "
                       "when given a datetime instead, so check how it reads the string (datetime.date.fromisoformat(date))")


class DatetimeOnly(Exception):
    """get_paths works with a datetime only; the message is the whole reason."""


def job_get_paths(request: dict, report) -> None:
    get_paths = kit.function(kit.load_module("homework", report.target, report), "get_paths")
    calls = [("dates", date, date, None) for date in request.get("dates", [])]
    calls += [("today", day, None, day) for day in request.get("frozen_days", [])]
    results: dict[str, dict] = {"dates": {}, "today": {}}
    for group, label, argument, frozen in calls:
        report.phase(f"calling get_paths({argument!r})" + (f" on {frozen}" if frozen else ""))
        try:
            with kit.clock_at(frozen, tick=False) if frozen else contextlib.nullcontext():
                results[group][label] = {"paths": call_get_paths(get_paths, argument, report)}
        except NotImplementedError as exc:
            raise kit.JobFailed("get_paths still raises NotImplementedError", kit.NOT_ATTEMPTED) from exc
        except DatetimeOnly as exc:
            results[group][label] = {"error": str(exc)}
        except Exception as exc:
            results[group][label] = {"error": report.describe(exc)}
    report.fields.update(results)


def place_months(get_paths, request: dict, report) -> None:
    """Copy the run's training and validation months under the names the submission's own
    get_paths gives (train first, validation second), wherever they point inside this run's
    folder: a get_paths that names other months then costs only its own part (Q2), not the
    flow's. The months under their right names are in data/ already."""
    months, day = request.get("months") or {}, request.get("date")
    if not months or get_paths is None:
        return
    report.phase(f"calling get_paths({day!r})" + (f" on {request['frozen_day']}" if request.get("frozen_day") else ""))
    try:
        with kit.clock_at(request["frozen_day"], tick=False) if request.get("frozen_day") else contextlib.nullcontext():
            names = call_get_paths(get_paths, day, report)
    except Exception:  # its own check says why
        return
    room = Path.cwd().parent.resolve()
    for role, name in zip(("train", "val"), names):
        path = Path(name) if Path(name).is_absolute() else Path.cwd() / name
        try:
            path = path.resolve()
        except (OSError, RuntimeError):
            continue
        if path.is_relative_to(room) and not path.is_dir():
            with report.guard.trusted() if report.guard else contextlib.nullcontext():
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(months[role], path)


def record_returns(module, name: str, report) -> None:
    """Keep the figure `name` (run_model) returns, evidence of the validation MSE besides the
    logs (so that not logging it costs only Q1)."""
    obj = getattr(module, name, None)
    target = obj if hasattr(obj, "fn") else None
    plain = getattr(obj, "fn", obj)
    if not callable(plain):
        return

    @functools.wraps(plain)
    def recorded(*args, **kwargs):
        value = plain(*args, **kwargs)
        try:
            report.fields.setdefault("returned", {})[name] = float(value)
        except (TypeError, ValueError):
            pass
        return value

    if target is not None:
        target.fn = recorded
    else:
        setattr(module, name, recorded)


def job_flow(request: dict, report) -> None:
    module = kit.load_module("homework", report.target, report)
    main = getattr(module, "main", None)
    if main is None:
        raise kit.JobFailed("homework.py has no main()")
    import prefect

    is_flow = isinstance(main, prefect.Flow)
    report.fields.update(is_flow=is_flow, flow_run_id=None, state=None)
    date, frozen = request.get("date"), request.get("frozen_day")
    kwargs = {"date": date} if date is not None else {}
    call = f"main({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})" + (f" on {frozen}" if frozen else "")
    get_paths = getattr(module, "get_paths", None)
    place_months(getattr(get_paths, "fn", get_paths), request, report)
    record_returns(module, "run_model", report)
    if is_flow:
        kwargs["return_state"] = True
        if frozen:  # connect before the clock moves: Prefect's client must start on the real clock
            with prefect.get_client(sync_client=True) as client:
                client.api_healthcheck()
    report.phase(f"running {call}")
    printed_before = len(report.captured.getvalue())
    try:
        with report.student_code(), (kit.clock_at(frozen, tick=True) if frozen else contextlib.nullcontext()):
            outcome = main(**kwargs)
    except NotImplementedError as exc:
        raise kit.JobFailed("main still raises NotImplementedError", kit.NOT_ATTEMPTED) from exc
    except Exception as exc:
        report.failed_in(exc)
        raise kit.JobFailed(f"{call} {report.describe(exc)}") from exc
    finally:
        report.fields["run_stdout"] = report.captured.getvalue()[printed_before:]
        if is_flow:
            from prefect.logging.handlers import APILogHandler

            APILogHandler().flush()
    if is_flow:
        state = outcome
        report.fields["flow_run_id"] = str(state.state_details.flow_run_id)
        report.fields["state"] = {"type": state.type.value, "name": state.name, "message": state.message}
        if not state.is_completed():
            error = state.result(raise_on_failure=False)
            if isinstance(error, BaseException):
                report.failed_in(error)
            detail = report.describe(error) if isinstance(error, BaseException) else state.message
            raise kit.JobFailed(f"the flow run of {call} ended {state.name}: {detail}")


def separate_deployments(token: str) -> None:
    """Name the deployments this process creates `<name>-<token>`: a deployment is known by
    its flow's name and its own, the same (main/...) in every submission, so submissions
    graded at the same time on one server would otherwise update each other's schedule."""
    from prefect.client.orchestration._deployments.client import DeploymentAsyncClient, DeploymentClient

    def renamed(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        if "name" in kwargs:
            return args, {**kwargs, "name": f"{kwargs['name']}-{token}"}
        return (args[0], f"{args[1]}-{token}", *args[2:]), kwargs

    sync_create, async_create = DeploymentClient.create_deployment, DeploymentAsyncClient.create_deployment

    def create(self, *args, **kwargs):
        args, kwargs = renamed(args, kwargs)
        return sync_create(self, *args, **kwargs)

    async def create_async(self, *args, **kwargs):
        args, kwargs = renamed(args, kwargs)
        return await async_create(self, *args, **kwargs)

    DeploymentClient.create_deployment, DeploymentAsyncClient.create_deployment = create, create_async


def job_deployment(request: dict, report) -> None:
    kit.load_module("homework", report.target, report)  # what `from homework import main` finds
    module = kit.load_module("deployment", report.target, report)
    if not hasattr(module, "CRON"):
        raise kit.JobFailed("deployment.py has no CRON")
    report.fields.update(cron=module.CRON, timezone=getattr(module, "TIMEZONE", None))
    register = getattr(module, "register", None)
    if register is None:
        raise kit.JobFailed("deployment.py has no register()")
    separate_deployments(uuid.uuid4().hex[:8])
    report.phase("calling register()")
    try:
        with report.student_code():
            deployment_id = register()
    except NotImplementedError as exc:
        raise kit.JobFailed("register() still raises NotImplementedError", kit.NOT_ATTEMPTED) from exc
    except Exception as exc:
        raise kit.JobFailed(f"register() {report.describe(exc)}") from exc
    try:
        report.fields["deployment_id"] = str(uuid.UUID(str(deployment_id)))
    except ValueError:
        raise kit.JobFailed(f"register() returned {deployment_id!r}, not the id of the deployment") from None


def job_command(request: dict, report) -> None:
    import io
    import sys

    from prefect.cli import app

    report.phase(f"running `{' '.join(request['argv'])}`")
    out = io.StringIO()
    sys.argv = ["prefect", *request["argv"][1:]]
    with contextlib.redirect_stdout(out):  # its errors go to the run's stderr, as any probe's do
        try:
            app()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    report.fields.update(returncode=code, output=out.getvalue())


JOBS = {"get_paths": job_get_paths, "flow": job_flow, "deployment": job_deployment, "command": job_command}
