"""A grading slot's warm checker: the slot's watcher process (slots.py) runs `pytest checks/`
for each submission graded on the slot, in a fork of itself.

The watcher imports what the checks need once, and keeps the warm interpreter of the probes
(warm.Zygote, in the slot's own wall) from one submission to the next: a submission costs
the work of its checks and runs, not their imports. For that, a submission is graded from
the slot's fixed folders, `work/submission` (its files) and `work/session` (the session's,
the runs' folders inside), which the zygote's wall shows; between two submissions the
zygote ends every run and empties its wall's /tmp, /dev/shm and System V IPC, and the
watcher empties both folders. A session that reads what the wall does not show (e.g. a
notebook's staging copy) starts a zygote of its own, as any session does.

    client  {"argv": [pytest args], "output": FILE, "env": {...}, "cwd": DIR, "assignment": ID}
            {"flow_run": true, "argv": [...], "env": {...}, "cwd": DIR} with the client's
                stdin, stdout and stderr (handoff.py): run Prefect's engine for the flow run
                of env's PREFECT__FLOW_RUN_ID, whose checks then run in the same fork (`held`)
    checker {"returncode": N, "cpu_seconds": S}     (S: the fork, the runs and the relay)

A client that goes away stops its fork. Without a checker (none listens on the slot's
socket), `grade` returns None and the caller runs the checks itself.
"""

from __future__ import annotations

import json
import os
import resource
import runpy
import select
import signal
import socket
import sys
import traceback
from contextlib import suppress
from pathlib import Path

from hw3.assignment import session_class
from hw3.cohort import handoff
from hw3.cohort.handoff import Slot
from hw3.grading.invocation import WARM_ARGS, preload
from hw3.sandbox import warm, zygote as zygote_module

POLL_S = 0.5  # between two looks at a forked grader and at its client
MAX_REQUEST = 1 << 20  # bytes of one request

_held: Slot | None = None  # in a fork that runs a flow run: the slot it grades on (its client holds it)


def held() -> Slot | None:
    """The slot whose checker runs this process's flow run (its checks run here), if so."""
    return _held


def submission_folder(slot: Path) -> Path:
    """The slot's folder of the submission being graded (its zygote's wall shows it)."""
    return slot / "work" / "submission"


def session_folder(slot: Path) -> Path:
    return slot / "work" / "session"


def empty(folder: Path, keep: tuple[str, ...] = ()) -> None:
    """Remove what `folder` holds (the folder itself stays: a wall shows it), but `keep`."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in folder.iterdir():
        if entry.name not in keep:
            zygote_module.remove(entry)


def grade(slot: Path, argv: list[str], output: Path, env: dict[str, str], assignment: str, cwd: Path | None = None) -> dict | None:
    """`pytest argv` on the slot's checker, from `cwd` (default: the current folder), its
    output going to `output`: {"returncode", "cpu_seconds"}; None when the slot has no
    checker. The caller holds the slot."""
    client = handoff.connected(slot)
    if client is None:
        return None
    with client:
        request = {"argv": argv, "output": str(output), "env": env, "cwd": str(cwd or os.getcwd()), "assignment": assignment}
        client.sendall(json.dumps(request).encode() + b"\n")
        reply = client.makefile("rb").readline()
    try:
        return dict(json.loads(reply))
    except ValueError:
        return {"returncode": None, "cpu_seconds": 0.0}


def _cpu() -> float:
    """This process's CPU time and its waited-for children's."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _receive(connection: socket.socket) -> tuple[dict | None, list[int]]:
    """A request (None: not one) and the descriptors that came with it."""
    data, streams, _, _ = socket.recv_fds(connection, MAX_REQUEST, 3)
    while data and not data.endswith(b"\n") and len(data) < MAX_REQUEST:
        more = connection.recv(MAX_REQUEST)
        if not more:
            break
        data += more
    try:
        return dict(json.loads(data)), streams
    except (ValueError, TypeError):
        for fd in streams:
            os.close(fd)
        return None, []


def _refresh_prefect_settings() -> None:
    """Prefect keeps the settings it read at import: read them again, from this environment."""
    if "prefect.context" in sys.modules:
        sys.modules["prefect.context"].refresh_global_settings_context()


def _leave(code: int) -> None:
    """End the fork once Prefect's log and event workers have sent what they hold."""
    zygote_module.drain()
    with suppress(Exception):
        sys.stdout.flush(), sys.stderr.flush()
    os._exit(int(code))


class Checker:
    """The slot watcher's side: answer the requests on the slot's socket, one at a time."""

    def __init__(self, slot: Path, api_url: str):
        self.slot, self.api_url = Path(slot).resolve(), api_url
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        (self.slot / handoff.SOCKET).unlink(missing_ok=True)
        handoff.at_socket(self.slot, self.listener.bind)
        self.listener.listen(8)
        self.assignment: str | None = None  # whose sessions the kept zygote serves
        self.zygote: warm.Zygote | None = None
        self.zygote_cpu = 0.0  # what it had spent when the last submission ended

    def preload(self, assignment: str | None = None) -> None:
        """Import what every grade needs (before any fork: the imports start no thread), and
        start the zygote of `assignment`'s sessions: what the slot does once, not per submission."""
        preload()
        if assignment:
            self._zygote_for(assignment)
            self.zygote_cpu = self.zygote.cpu_seconds() if self.zygote else 0.0

    def serve(self, timeout: float) -> bool:
        """Answer one request if one comes within `timeout`; whether one came."""
        if not select.select([self.listener], [], [], timeout)[0]:
            return False
        connection, _ = self.listener.accept()
        with connection:
            request, streams = _receive(connection)
            if request is None:
                return True
            before = _cpu()
            zygote = self._zygote_for(request["assignment"]) if "assignment" in request else self.zygote
            pid = os.fork()
            if pid == 0:
                self._become(request, connection)
                self._run_flow(request, streams) if request.get("flow_run") else self._grade(request)
            for fd in streams:
                os.close(fd)
            returncode = self._wait(pid, connection)
            cpu = _cpu() - before + (max(zygote.cpu_seconds() - self.zygote_cpu, 0.0) if zygote else 0.0)
            self._clean()  # before the answer: the slot is ready for the next submission when its client lets it go
            with suppress(OSError):
                connection.sendall(json.dumps({"returncode": returncode, "cpu_seconds": round(cpu, 3)}).encode() + b"\n")
        return True

    def _zygote_for(self, assignment: str):
        """The kept zygote of `assignment`'s sessions (started if need be); None if its
        sessions have none."""
        if self.zygote is not None and (self.assignment != assignment or self.zygote.process.poll() is not None):
            self._drop_zygote()
        if self.zygote is None:
            self.assignment = assignment
            submission_folder(self.slot).mkdir(parents=True, exist_ok=True)  # its client fills it
            empty(session_folder(self.slot))
            try:
                self.zygote = session_class(assignment).start_ahead(submission_folder(self.slot), self.api_url, session_folder(self.slot), kept=True)
            except Exception:  # the grade starts its session's own, and says why if that fails too
                traceback.print_exc()
            self.zygote_cpu = 0.0  # its start is the cost of the submission it starts for
        return self.zygote

    def _drop_zygote(self) -> None:
        warm.stop_ahead()
        self.zygote, self.assignment = None, None

    def _become(self, request: dict, connection: socket.socket) -> None:
        """In the fork: the client's folder and environment, none of the checker's sockets."""
        connection.close()
        self.listener.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])

    def _grade(self, request: dict) -> None:
        """In the fork: become the client's `pytest` (its output file), with the kept zygote
        started ahead for its session; never returns."""
        code = 70
        try:
            output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            for fd in (1, 2):
                os.dup2(output, fd)
            os.close(output)
            from hw3.grading import plugin

            plugin.own_prefect_home()
            _refresh_prefect_settings()
            import pytest

            code = pytest.main([*WARM_ARGS, *request["argv"]])
        except BaseException:
            traceback.print_exc()
        finally:
            _leave(code)

    def _run_flow(self, request: dict, streams: list[int]) -> None:
        """In the fork: become the client's `python -m prefect.engine` (its streams), the
        flow's checks running here on this slot (`held`); never returns."""
        global _held
        code = 1
        try:
            for fd, target in zip(streams, (0, 1, 2)):
                os.dup2(fd, target)
                os.close(fd)
            _refresh_prefect_settings()
            _held = Slot(self.api_url, self.slot)
            sys.argv = ["prefect.engine", *request.get("argv", [])]
            runpy.run_module("prefect.engine", run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = zygote_module.exit_code(exc)
        except BaseException:
            traceback.print_exc()
        finally:
            _leave(code)

    @staticmethod
    def _wait(pid: int, connection: socket.socket) -> int | None:
        """Wait for the forked grader; stop it if its client goes away."""
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if select.select([connection], [], [], POLL_S)[0] and not connection.recv(1):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _clean(self) -> None:
        """Nothing of this submission is left for the next: its runs, files and session."""
        if self.zygote is not None and not self.zygote.clean():
            self._drop_zygote()
        if self.zygote is not None:
            self.zygote_cpu = self.zygote.cpu_seconds()
        empty(submission_folder(self.slot))
        empty(session_folder(self.slot), keep=("runs",))
        empty(session_folder(self.slot) / "runs", keep=("zygote",))

    def close(self) -> None:
        self._drop_zygote()
        self.listener.close()
        (self.slot / handoff.SOCKET).unlink(missing_ok=True)
