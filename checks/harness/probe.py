"""Run one job on a submission's code, in a process of its own, for the checks.

    python -I -B probe.py REQUEST.json RESULT.json

REQUEST names the job and the submission's folder (`target`); RESULT receives a JSON
report: `phase` (what the probe was doing, kept up to date so that a crash still tells),
`outcome` ("ok", "failed" or "not attempted"), `reason` (one line), `stdout` (what the
submission printed) and the job's own fields. Jobs:

    get_paths   get_paths(date) for every date in `dates`, and get_paths(None) with the
                clock set to each day in `frozen_days`
    flow        main(date=`date`), or main() with the clock set to `frozen_day`
    deployment  read CRON and TIMEZONE from deployment.py and call register() (the
                deployment's name gets a suffix of this run: `separate_deployments`)

The probe is a standalone script: it imports the submission, Prefect and the standard
library only, never the checks, so nothing of the grading is within the submission's reach.
Before it imports the submission it installs an audit hook (which nothing can remove, see
`Guard`): no network but loopback, no reading the checks, the reference or the key, no
writing the submission's files or the data, no new processes, no signals to other processes.
What the submission prints is kept up to STDOUT_LIMIT characters.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import importlib.util
import io
import ipaddress
import json
import os
import shutil
import sys
import threading
import traceback
import uuid
from pathlib import Path

NOT_ATTEMPTED = "not attempted"
REASON_LIMIT = 400  # characters of an exception message kept in a reason
STDOUT_LIMIT = 20_000  # characters of what the submission prints kept in the report
REFUSALS_KEPT = 5  # refused operations listed in the report

# Audit events (https://docs.python.org/3/library/audit_events.html) the guard looks at.
READ_EVENTS = {"open", "os.listdir", "os.scandir"}
WRITE_EVENTS = {"os.remove", "os.rmdir", "os.rename", "shutil.rmtree", "os.truncate", "os.chmod", "os.mkdir",
                "os.link", "os.symlink", "os.utime", "os.chown"}
PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                  "os.forkpty", "pty.spawn"}
NETWORK_EVENTS = {"socket.connect", "socket.sendto", "socket.getaddrinfo", "socket.gethostbyname",
                  "socket.gethostbyaddr"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
RELAY_THREAD = "hw3-relay"


class JobFailed(Exception):
    """The job cannot go on; the message is the reason reported."""

    def __init__(self, reason: str, outcome: str = "failed"):
        super().__init__(reason)
        self.outcome = outcome


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Guard:
    """The audit hook of this process (sys.addaudithook: it cannot be removed).

    Refused, with a PermissionError that says so: reading under a `no_read` root (the
    project with the checks and the reference, a cohort's other submissions) unless under
    an `allowed` folder inside that root (the submission, the data, this process's sys.path),
    or reading a `secret` file (the answer key, the request); writing, removing or renaming
    under a `no_write` root (the project, the submission, the data) unless under a
    `writable` folder inside it (the sandbox), or a `protected` file (the key, the report);
    a connection or name lookup other than loopback; starting a process; a signal to a
    process outside this process group.
    """

    def __init__(self, spec: dict):
        real = lambda key: [os.path.realpath(p) for p in spec.get(key, [])]  # noqa: E731
        self.no_read, self.allowed, self.secret = real("no_read"), real("allowed"), set(real("secret"))
        self.allowed += [os.path.realpath(p) for p in sys.path if p] + [os.path.realpath(__file__)]  # no secret
        self.no_write, self.writable_roots, self.protected = real("no_write"), real("writable"), set(real("protected"))
        self.refused: list[str] = []
        self.on_refusal = lambda: None  # the report is rewritten, so a crash later still names it
        self._local = threading.local()  # per thread: inside the hook, or the probe writing its report

    @staticmethod
    def _outside(path: str, roots: list[str], exceptions: list[str]) -> bool:
        """Whether `path` is under none of `roots`, or under an exception deeper than its root."""
        for root in roots:
            if _under(path, root) and not any(e != root and _under(e, root) and _under(path, e) for e in exceptions):
                return False
        return True

    def readable(self, path: str) -> bool:
        return path not in self.secret and self._outside(path, self.no_read, self.allowed)

    def writable(self, path: str) -> bool:
        return path not in self.protected and self._outside(path, self.no_write, self.writable_roots)

    @contextlib.contextmanager
    def trusted(self):
        """The probe's own operations (writing its report) in this thread go through."""
        self._local.trusted = True
        try:
            yield
        finally:
            self._local.trusted = False

    def __call__(self, event: str, args: tuple) -> None:
        if getattr(self._local, "busy", False) or getattr(self._local, "trusted", False):
            return
        if threading.current_thread().name.startswith(RELAY_THREAD):  # relay.py: the road to the API
            return
        self._local.busy = True
        try:
            refusal = self.check(event, args)
        finally:
            self._local.busy = False
        if refusal:
            if len(self.refused) < REFUSALS_KEPT and refusal not in self.refused:
                self.refused.append(refusal)
                with self.trusted():
                    self.on_refusal()
            raise PermissionError(f"the checks do not allow {refusal}")

    def check(self, event: str, args: tuple) -> str | None:
        """What the event would do that is refused (None: it may go on)."""
        if event in READ_EVENTS:
            path = self._path(args[0])
            if path is None:
                return None
            if not self.readable(path):
                return f"reading {path}"
            if event == "open" and self._writes(args) and not self.writable(path):
                return f"writing {path}"
        elif event in WRITE_EVENTS:
            changed = {"os.rename": args[:2], "os.link": args[1:2], "os.symlink": args[1:2]}.get(event, args[:1])
            for arg in changed:
                path = self._path(arg)
                if path is not None and not self.writable(path):
                    return f"changing {path}"
        elif event in NETWORK_EVENTS:
            return self._network(event, args)
        elif event in PROCESS_EVENTS:
            return f"starting a process ({event}: {' '.join(map(str, args[:2]))[:80]})"
        elif event in ("os.kill", "os.killpg"):
            return self._signal(event, *args[:2])
        return None

    @staticmethod
    def _path(arg) -> str | None:
        if isinstance(arg, int) or arg is None:
            return None
        try:
            return os.path.realpath(os.fsdecode(os.fspath(arg)))
        except (TypeError, ValueError):
            return None

    @staticmethod
    def _writes(args: tuple) -> bool:
        mode, flags = (args + (None, None))[1:3]
        if isinstance(mode, str):
            return any(c in mode for c in "wax+")
        return isinstance(flags, int) and bool(flags & WRITE_FLAGS)

    @staticmethod
    def _loopback(host) -> bool:
        if host is None:
            return True
        host = os.fsdecode(host) if isinstance(host, bytes) else str(host)
        if host.lower() in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False

    def _network(self, event: str, args: tuple) -> str | None:
        if event in ("socket.connect", "socket.sendto"):
            address = args[1]
            if isinstance(address, (str, bytes)):  # a Unix socket
                return f"connecting to {os.fsdecode(address)}"
            host, port = address[0], address[1]
        elif event == "socket.getaddrinfo":
            host, port = args[0], args[1]
        else:
            host, port = args[0], None
        if self._loopback(host):
            return None
        return f"network access ({host}" + (f":{port}" if port is not None else "") + "); only the checks' Prefect server on 127.0.0.1 is reachable"

    @staticmethod
    def _signal(event: str, pid: int, sig) -> str | None:
        own = os.getpgrp()
        if event == "os.killpg":
            group = pid or own
        elif pid == 0:
            group = own
        elif pid == -1:
            group = None
        elif pid < 0:
            group = -pid
        else:
            try:
                group = os.getpgid(pid)
            except OSError:  # no such process: let os.kill say so
                return None
        return None if group == own else f"signalling process {pid} (only this submission's own processes)"


class BoundedText(io.StringIO):
    """A text stream that keeps the first `limit` characters and counts the rest."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.dropped = 0

    def write(self, text: str) -> int:
        room = self.limit - self.tell()
        if len(text) > room:
            self.dropped += len(text) - max(room, 0)
            text = text[: max(room, 0)]
        super().write(text)
        return len(text)

    def text(self) -> str:
        more = f"\n[... {self.dropped:,} more characters printed, not kept]\n" if self.dropped else ""
        return self.getvalue() + more


class Report:
    """The result file, rewritten at every phase so that it survives a crash."""

    def __init__(self, path: Path, target: Path, guard: Guard | None = None):
        self.path = path
        self.target = target
        self.guard = guard
        self.fields: dict = {"phase": "starting", "outcome": None, "reason": None, "stdout": "", "refused": []}
        self.captured = BoundedText(STDOUT_LIMIT)
        if guard:
            guard.on_refusal = self.write
        self.write()

    def phase(self, text: str) -> None:
        self.fields["phase"] = text
        self.write()

    def write(self) -> None:
        self.fields["stdout"] = self.captured.text()
        if self.guard:
            self.fields["refused"] = list(self.guard.refused)
        part = self.path.with_name(self.path.name + ".part")
        with self.guard.trusted() if self.guard else contextlib.nullcontext():
            part.write_text(json.dumps(self.fields, default=str), encoding="utf-8")
            os.replace(part, self.path)

    @contextlib.contextmanager
    def student_code(self):
        """Capture what the submission prints (Prefect's own console log goes to stderr)."""
        with contextlib.redirect_stdout(self.captured):
            yield

    def describe(self, exc: BaseException) -> str:
        """'raised ValueError: message (homework.py, line 12, in get_paths)'."""
        with self.guard.trusted() if self.guard else contextlib.nullcontext():
            return self._describe(exc)

    def _describe(self, exc: BaseException) -> str:
        message = " ".join(str(exc).split())
        if len(message) > REASON_LIMIT:
            message = message[:REASON_LIMIT] + "..."
        text = f"raised {type(exc).__name__}" + (f": {message}" if message else "")
        frame = self.own_frame(exc)
        if frame:
            text += f" ({Path(frame.filename).name}, line {frame.lineno}, in {frame.name})"
        return text

    def failed_in(self, exc: BaseException) -> None:
        """Record where in the submission's code `exc` was raised (`failure`: file, line,
        function and the line's code), so the checks can charge the part it belongs to."""
        with self.guard.trusted() if self.guard else contextlib.nullcontext():
            frame = self.own_frame(exc)
        if frame:
            self.fields["failure"] = {"file": Path(frame.filename).name, "line": frame.lineno, "function": frame.name,
                                      "code": (frame.line or "").strip(), "error": type(exc).__name__}

    def own_frame(self, exc: BaseException):
        """The innermost frame of the submission's own code in the exception's traceback."""
        own = [f for f in traceback.extract_tb(exc.__traceback__) if _inside(f.filename, self.target)]
        return own[-1] if own else None


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
        code = _without_calls_at_import(path)
        with report.student_code():
            exec(code, module.__dict__)
    except Exception as exc:
        raise JobFailed(f"importing {path.name} {report.describe(exc)}") from exc
    return module


def _without_calls_at_import(path: Path):
    """The module's code without its top-level calls of its own functions (`main(...)`
    without a `__main__` guard would train, or serve forever, at every import)."""
    import ast

    source = path.read_bytes()
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError):
        return compile(source, str(path), "exec")  # raises the SyntaxError with its line
    skipped = set(map(id, COMPAT.top_level_calls(tree, set())))
    tree.body = [node for node in tree.body if id(node) not in skipped]
    return compile(tree, str(path), "exec")


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
    """The (train, val) paths of what get_paths returned; more values may follow them."""
    if not isinstance(value, (tuple, list)) or len(value) < 2:
        raise TypeError(f"returned {str(value)[:120]!r}, not a pair (train_path, val_path)")
    try:
        return [os.fspath(p) for p in value[:2]]
    except TypeError:
        raise TypeError(f"returned {str(value)[:120]!r}: its first two values must be the paths (train_path, val_path)") from None


def call_get_paths(get_paths, argument: str | None, report: Report) -> list[str]:
    """get_paths(argument); when a date string fails, whether a datetime would have worked
    is told in the reason (the checks pass 'YYYY-MM-DD' or None, as the homework says)."""
    try:
        with report.student_code(), silent_run_logger():
            return _paths(get_paths(argument))
    except NotImplementedError:
        raise
    except Exception as exc:
        if argument is None:
            raise
        failure = exc
    try:
        with report.student_code(), silent_run_logger():
            _paths(get_paths(datetime.datetime.fromisoformat(argument)))
    except Exception:
        raise failure from None
    raise DatetimeOnly(f"{report.describe(failure)}: the checks pass a date string 'YYYY-MM-DD', or None; yours works "
                       "when given a datetime instead, so check how it reads the string (datetime.date.fromisoformat(date))")


class DatetimeOnly(Exception):
    """get_paths works with a datetime only; the message is the whole reason."""


def job_get_paths(request: dict, report: Report) -> None:
    get_paths = function(load_module("homework", report.target, report), "get_paths")
    calls = [("dates", date, date, None) for date in request.get("dates", [])]
    calls += [("today", day, None, day) for day in request.get("frozen_days", [])]
    results: dict[str, dict] = {"dates": {}, "today": {}}
    for group, label, argument, frozen in calls:
        report.phase(f"calling get_paths({argument!r})" + (f" on {frozen}" if frozen else ""))
        try:
            with clock_at(frozen, tick=False) if frozen else contextlib.nullcontext():
                results[group][label] = {"paths": call_get_paths(get_paths, argument, report)}
        except NotImplementedError as exc:
            raise JobFailed("get_paths still raises NotImplementedError", NOT_ATTEMPTED) from exc
        except DatetimeOnly as exc:
            results[group][label] = {"error": str(exc)}
        except Exception as exc:
            results[group][label] = {"error": report.describe(exc)}
    report.fields.update(results)


def place_months(get_paths, request: dict, report: Report) -> None:
    """Copy the run's training and validation months under the names the submission's own
    get_paths gives (train first, validation second), wherever they point inside this run's
    folder: a get_paths that names other months then costs only its own part (Q2), not the
    flow's. The months under their right names are in data/ already."""
    months, day = request.get("months") or {}, request.get("date")
    if not months or get_paths is None:
        return
    report.phase(f"calling get_paths({day!r})" + (f" on {request['frozen_day']}" if request.get("frozen_day") else ""))
    try:
        with clock_at(request["frozen_day"], tick=False) if request.get("frozen_day") else contextlib.nullcontext():
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


def record_returns(module, name: str, report: Report) -> None:
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
        with report.student_code(), (clock_at(frozen, tick=True) if frozen else contextlib.nullcontext()):
            outcome = main(**kwargs)
    except NotImplementedError as exc:
        raise JobFailed("main still raises NotImplementedError", NOT_ATTEMPTED) from exc
    except Exception as exc:
        report.failed_in(exc)
        raise JobFailed(f"{call} {report.describe(exc)}") from exc
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
            raise JobFailed(f"the flow run of {call} ended {state.name}: {detail}")


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


def job_deployment(request: dict, report: Report) -> None:
    load_module("homework", report.target, report)  # what `from homework import main` finds
    module = load_module("deployment", report.target, report)
    if not hasattr(module, "CRON"):
        raise JobFailed("deployment.py has no CRON")
    report.fields.update(cron=module.CRON, timezone=getattr(module, "TIMEZONE", None))
    register = getattr(module, "register", None)
    if register is None:
        raise JobFailed("deployment.py has no register()")
    separate_deployments(uuid.uuid4().hex[:8])
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


def _load_sibling(name: str):
    """A file beside this one (compat.py, relay.py), loaded by its path: the probe runs isolated."""
    spec = importlib.util.spec_from_file_location(f"hw3_probe_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COMPAT = _load_sibling("compat")
RELAY_ENV = "HW3_API_RELAY"  # inside the wall: "<socket>:<port>" of the grader's API (relay.py)


def start_relay() -> None:
    """Inside the wall, listen on 127.0.0.1:<port> for the grader's API (relay.py)."""
    if os.environ.get(RELAY_ENV):
        socket_path, port = os.environ[RELAY_ENV].rsplit(":", 1)
        _load_sibling("relay").serve_tcp(socket_path, int(port))


def set_limits(limits: dict) -> None:
    """Cap this process's memory and file size where no prlimit did (macOS)."""
    import resource

    for which, megabytes in ((resource.RLIMIT_AS, limits.get("memory_mb")), (resource.RLIMIT_FSIZE, limits.get("file_mb"))):
        if megabytes:
            soft, hard = resource.getrlimit(which)
            wanted = megabytes * 1024 * 1024
            if soft == resource.RLIM_INFINITY or soft > wanted:
                try:
                    resource.setrlimit(which, (wanted, wanted if hard == resource.RLIM_INFINITY or hard > wanted else hard))
                except (ValueError, OSError):
                    pass


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    target = Path(request["target"]).resolve()
    sys.path.insert(0, str(target))
    set_limits(request.get("limits", {}))
    start_relay()
    COMPAT.install(request.get("compat", []))
    guard = Guard(request.get("guard", {}))
    sys.addaudithook(guard)
    report = Report(Path(argv[2]), target, guard)
    try:
        JOBS[request["job"]](request, report)
        report.fields.update(outcome="ok")
    except JobFailed as exc:
        report.fields.update(outcome=exc.outcome, reason=str(exc))
    report.fields["result_calls"] = [{**call, "file": Path(call["file"]).name} for call in COMPAT.RESULT_CALLS
                                     if _inside(call["file"], target)]
    report.phase("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
