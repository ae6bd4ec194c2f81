"""Run one job on a submission's code, in a process of its own, for the checks.

    python -I -B probe.py REQUEST.json RESULT.json

REQUEST names the job, the assignment's jobs file (`jobs`: a checks/<ID>/jobs.py, whose
JOBS maps a job's name to a function of (request, report)) and the submission's folder
(`target`); RESULT receives a JSON report: `phase` (what the probe was doing, kept up to
date so that a crash still tells), `outcome` ("ok", "failed" or "not attempted"), `reason`
(one line), `stdout` (what the submission printed) and the job's own fields. A job fails
with kit.JobFailed (kit.py: what jobs share).

The probe is a standalone script: it imports the submission, Prefect and the standard
library only, never the checks, so nothing of the grading is within the submission's reach.
Before it imports the submission it installs an audit hook (which nothing can remove, see
`Guard`): no network but loopback, no reading the checks, the reference or the key, no
writing the submission's files or the data, no new processes, no signals to other processes.
What the submission prints is kept up to STDOUT_LIMIT characters.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import ipaddress
import json
import os
import sys
import threading
import traceback
from pathlib import Path

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
    process outside this process group, but to PID 1 when `init_protected` says that it is
    the wall's PID 1 (the kernel lets no signal of this process reach it: bwrap's init, or
    zygote.py, this process's parent).
    """

    def __init__(self, spec: dict):
        real = lambda key: [os.path.realpath(p) for p in spec.get(key, [])]  # noqa: E731
        self.no_read, self.allowed, self.secret = real("no_read"), real("allowed"), set(real("secret"))
        self.allowed += [os.path.realpath(p) for p in sys.path if p] + [os.path.realpath(__file__)]  # no secret
        self.no_write, self.writable_roots, self.protected = real("no_write"), real("writable"), set(real("protected"))
        self.init_protected = bool(spec.get("init_protected"))
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
        elif event == "os.kill" and args[0] == 1 and self.init_protected:
            return None
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


def _load(name: str, path: Path):
    """A file loaded by its path as module `name`: the probe runs isolated, with no package."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_sibling(name: str):
    """A file beside this one (compat.py, kit.py, relay.py), as module `hw3_<name>`."""
    return _load(f"hw3_{name}", Path(__file__).with_name(f"{name}.py"))


COMPAT = _load_sibling("compat")
KIT = _load_sibling("kit")
RELAY_ENV = "HW3_API_RELAY"  # inside the wall: "<socket>:<port>[;<socket>:<port>...]" of the grader's API and other ports (relay.py)


def start_relay() -> None:
    """Inside the wall, listen on 127.0.0.1:<port> for the grader's API, and for each other
    port of the grader relayed to this child (relay.py)."""
    if os.environ.get(RELAY_ENV):
        relay = _load_sibling("relay")
        for pair in os.environ[RELAY_ENV].split(";"):
            socket_path, port = pair.rsplit(":", 1)
            relay.serve_tcp(socket_path, int(port))


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
    jobs = _load("hw3_jobs", Path(request["jobs"]))  # the assignment's own code, before the guard
    guard = Guard(request.get("guard", {}))
    sys.addaudithook(guard)
    report = Report(Path(argv[2]), target, guard)
    try:
        jobs.JOBS[request["job"]](request, report)
        report.fields.update(outcome="ok")
    except KIT.JobFailed as exc:
        report.fields.update(outcome=exc.outcome, reason=str(exc))
    report.fields["result_calls"] = [{**call, "file": Path(call["file"]).name} for call in COMPAT.RESULT_CALLS
                                     if _inside(call["file"], target)]
    report.phase("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
