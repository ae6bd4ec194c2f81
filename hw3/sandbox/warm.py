"""The warm interpreter of a grading session's probes, on the grader's side: `Zygote` starts
zygote.py once in one wall and runs each probe as a fork of it (runner.run_probe, `zygote=`)."""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from hw3.sandbox import confine
from hw3.sandbox.runner import MEMORY_MB, PROCESS_LIMIT, Sandbox, _started, _tail


CLEAN = "clean"  # the box of the zygote's answer to a clean


class Zygote:
    """A warm interpreter for the probes of one session (zygote.py): started once in one wall,
    whose writable folder is `folder` (every run's sandbox lies under it) and which shows
    `readable` (the submission, the jobs file, every run's trip files), it imports `preload`
    once, and each probe is then a fork of it, under the same limits as a fresh one: memory
    and file size per process, and a pids cgroup of PROCESS_LIMIT of its own (where the
    grader may make one). `runs`: how many probes may run at once (the wall's process cap).

    `run` gives None when the zygote cannot serve a probe (it did not start, went away, or
    the probe reads what its wall does not show): the probe then runs cold. Use it as a
    context manager, or `start()` and `close()`.

    A zygote kept between submissions (a grading slot's, hw3/cohort/checker.py) is started
    and waited for by a process that forks a grader for each submission: that process owns
    it (`clean()` between two submissions), and a forked grader only uses it (`listen()`;
    its `close()` leaves it running)."""

    STARTUP_S = 120.0  # at most, for the zygote to import its modules
    GRACE_S = 30.0  # after a child's timeout, for the zygote to report it

    def __init__(self, folder: Path, api_url: str, readable=(), *, preload=(), runs: int = 1, relayed_ports=(),
                 memory_mb: int = MEMORY_MB):
        self.folder = Path(folder).resolve()
        self.sandbox = Sandbox(self.folder / "zygote", api_url, relayed_ports=tuple(relayed_ports))
        self.readable = {Path(p).resolve() for p in readable}
        self.preload, self.runs, self.memory_mb = tuple(preload), runs, memory_mb
        self.process: subprocess.Popen | None = None
        self._stack = ExitStack()
        self._settled = threading.Event()  # it is ready, or gone
        self._gone = threading.Event()
        self._boxes: dict[str, queue.Queue] = {}  # run id -> what the zygote said of it
        self._lock = threading.Lock()
        self._cgroup: Path | None = None  # the wall's pids cgroup
        self._listening = False
        self.kept = False  # owned by the process that forks the graders: close() leaves it running

    def __enter__(self) -> Zygote:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, listen: bool = True) -> Zygote:
        """Start the zygote, without waiting for its imports (the first run waits); without
        `listen`, nothing reads its answers until `listen()` or `wait_ready()`."""
        argv = [sys.executable, "-I", "-B", str(confine.inside("zygote.py")), *self.preload]
        outputs = [self.sandbox.folder / f"zygote.{stream}.txt" for stream in ("stdout", "stderr")]
        try:
            self.process, _ = self._stack.enter_context(_started(
                argv, self.sandbox, self.memory_mb, sorted(self.readable), outputs=outputs,
                processes=PROCESS_LIMIT * (self.runs + 1), writable=self.folder, served=True))
        except Exception:  # the probes run cold
            self._stack.close()
            self._gone.set()
            self._settled.set()
            return self
        if listen:
            self.listen()
        return self

    def listen(self) -> None:
        """Read the zygote's answers from now on, in a thread of this process."""
        if not self._listening and self.process is not None:
            self._listening = True
            threading.Thread(target=self._listen, daemon=True, name="hw3-zygote").start()

    def _read(self, wanted: str, timeout: float) -> bool:
        """Without a thread (the process that owns a kept zygote forks): read the zygote's
        answers until one says `wanted`; False if it did not within `timeout`, or went away."""
        deadline, pending, fd = time.monotonic() + timeout, b"", self.process.stdout.fileno() if self.process else -1
        while fd >= 0 and self.process.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return False
            data = os.read(fd, 65536)
            if not data:
                return False
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                with suppress(ValueError, TypeError):
                    if dict(json.loads(line)).get(wanted):
                        return True
        return False

    def wait_ready(self) -> bool:
        """Wait (without a thread) until its imports are done; False if it went away."""
        if self._read("ready", self.STARTUP_S):
            self._settled.set()
            return True
        return False

    def clean(self) -> bool:
        """Between two submissions: end every run still going and empty the wall's /tmp,
        /dev/shm and System V IPC (zygote.py), and remove the pids cgroups of the runs
        (what a grader that went away left there); False if the zygote did not answer."""
        if self._listening:
            box = self._boxes[CLEAN] = queue.Queue()
            self._send({"clean": True})
            cleaned = bool(self._answer(box, self.GRACE_S))
            del self._boxes[CLEAN]
        else:
            self._send({"clean": True})
            cleaned = self._read("cleaned", self.GRACE_S)
        cgroup = self._cgroup or _pids_cgroup(self.process.pid)
        for folder in cgroup.parent.glob(f"{cgroup.name}-*") if cgroup else ():
            confine._empty(folder)
        return cleaned

    def cpu_seconds(self) -> float:
        """The CPU time of the wall's processes so far, with that of the runs they waited for."""
        pending, total = [self.process.pid] if self.process else [], 0.0
        while pending:
            pid = pending.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                pending += [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
        return total

    def _listen(self) -> None:
        """Hand each line of the zygote to the run it is about, until it ends."""
        try:
            for line in self.process.stdout:
                try:
                    message = dict(json.loads(line))
                except (ValueError, TypeError):  # not the zygote's word: something it imported printed it
                    continue
                if message.get("ready"):
                    self._settled.set()
                elif message.get("id") in self._boxes:
                    self._boxes[message["id"]].put(message)
                elif message.get("cleaned") and CLEAN in self._boxes:
                    self._boxes[CLEAN].put(message)
        finally:
            self._gone.set()
            self._settled.set()
            for box in list(self._boxes.values()):
                box.put({})

    def serves_all(self, folder: Path, api_url: str, readable, relayed_ports=()) -> bool:
        """Whether this zygote, still there, can serve every probe of a session whose runs lie
        in `folder` and read `readable`."""
        return not self._gone.is_set() and Path(folder).resolve() == self.folder and self._shows(api_url, relayed_ports, readable)

    def serves(self, sandbox: Sandbox, readable) -> bool:
        """Whether a probe in `sandbox` that reads `readable` can run in this zygote's wall."""
        return sandbox.folder.resolve().is_relative_to(self.folder) and self._shows(sandbox.api_url, sandbox.relayed_ports, readable)

    def _shows(self, api_url: str, relayed_ports, readable) -> bool:
        return (api_url == self.sandbox.api_url and set(relayed_ports) <= set(self.sandbox.relayed_ports)
                and all(any(Path(p).resolve().is_relative_to(r) for r in self.readable) for p in readable))

    def run(self, argv: list[str], sandbox: Sandbox, timeout: float, readable=()) -> tuple[int | None, str] | None:
        """Run probe.py's `argv` (probe.py REQUEST RESULT) by a fork, in `sandbox` (its working
        directory, environment and output files, as `_spawn` gives a fresh probe) for at
        most `timeout` seconds: (its return code, None when it timed out; the end of its
        stderr), or None when the zygote cannot serve it."""
        if not self.serves(sandbox, readable) or not self._settled.wait(self.STARTUP_S):
            return None
        run_id = uuid.uuid4().hex
        outputs = [sandbox.folder / f"{Path(sys.executable).name}.{stream}.txt" for stream in ("stdout", "stderr")]
        box = self._boxes[run_id] = queue.Queue()
        try:
            if self._gone.is_set():
                return None
            env = {**sandbox.environ(), **({"PWD": str(sandbox.work)} if confine.bwrap() else {})}  # as bwrap's --chdir sets it
            self._send({"id": run_id, "argv": argv, "cwd": str(sandbox.work), "env": env, "timeout": timeout,
                        "stdout": str(outputs[0]), "stderr": str(outputs[1])})
            forked = self._answer(box, self.GRACE_S)
            if "pid" not in forked:
                return None
            with self._own_cap(forked["pid"]):
                self._send({"go": run_id})
                ended = self._answer(box, timeout + self.GRACE_S)
        finally:
            del self._boxes[run_id]
        if not ended:
            return None
        return (None if ended.get("timeout") else ended["returncode"]), _tail(outputs[1])

    def _send(self, message: dict) -> None:
        with self._lock:
            try:
                self.process.stdin.write(json.dumps(message).encode() + b"\n")
                self.process.stdin.flush()
            except (OSError, ValueError):  # it went away: its runs hear so from _listen
                pass

    def _answer(self, box: queue.Queue, timeout: float) -> dict:
        """The zygote's next word on a run ({}: it went away, or hangs and is stopped)."""
        try:
            return box.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            return {}

    @contextmanager
    def _own_cap(self, pid: int):
        """Put the forked child (`pid` inside the wall) into a pids cgroup of PROCESS_LIMIT of
        its own, as a fresh probe has, for as long as it runs; what it leaves there is killed."""
        self._cgroup = self._cgroup or _pids_cgroup(self.process.pid)
        host = _host_pid(self._cgroup, pid) if self._cgroup else None
        folder = self._cgroup.with_name(f"{self._cgroup.name}-{uuid.uuid4().hex[:8]}") if host else None
        try:
            if folder:
                folder.mkdir()
                (folder / "pids.max").write_text(str(PROCESS_LIMIT))
                (folder / "cgroup.procs").write_text(str(host))
        except OSError:  # it stays under the wall's cap
            pass
        try:
            yield
        finally:
            if folder and folder.exists():
                confine._empty(folder)

    def close(self) -> None:
        """Stop the zygote (its children with it) and its wall; a kept zygote goes on."""
        if self.kept:
            return
        if self.process is not None and not self._gone.is_set():
            with self._lock, suppress(OSError):
                self.process.stdin.close()  # the zygote ends at the end of its input
            self._gone.wait(10)
        self._stack.close()


_ahead: Zygote | None = None  # started ahead of its session (`start_ahead`)


def start_ahead(folder: Path, api_url: str, readable, *, preload, runs: int, kept: bool = False) -> Zygote:
    """Start, before its session exists, the zygote of a session whose runs will lie in
    `folder` (`hw3 grade --watch`: its imports happen while the student edits); the session
    takes it (`take_ahead`) if it serves all its runs. `kept`: it serves the sessions of
    forked graders (see `Zygote`): ready when this returns (None: it did not start)."""
    global _ahead
    _ahead = Zygote(folder, api_url, readable, preload=preload, runs=runs).start(listen=not kept)
    _ahead.kept = kept
    if kept and not _ahead.wait_ready():
        stop_ahead()
    return _ahead


def stop_ahead() -> None:
    """Stop the zygote started ahead (kept or not), if there is one."""
    global _ahead
    if _ahead is not None:
        _ahead.kept = False
        _ahead.close()
        _ahead = None


def ahead() -> Zygote | None:
    """The zygote started ahead, not yet taken (None: none)."""
    return _ahead


def ahead_folder() -> Path | None:
    """The runs folder of the zygote started ahead (None: none was)."""
    return _ahead.folder if _ahead else None


def take_ahead(folder: Path, api_url: str, readable, relayed_ports=()) -> Zygote | None:
    """The zygote started ahead, if it serves every run of the session (else it is closed)."""
    global _ahead
    zygote, _ahead = _ahead, None
    if zygote is not None and zygote.serves_all(folder, api_url, readable, relayed_ports):
        zygote.listen()
        return zygote
    if zygote is not None:
        zygote.close()
    return None


def _pids_cgroup(pid: int) -> Path | None:
    """The pids cgroup of confine.process_cap that process `pid` is in (None: none)."""
    try:
        paths = [line.split(":", 2)[2] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()]
    except OSError:
        return None
    for root in confine.PIDS_ROOTS:
        for path in paths:
            folder = root / path.lstrip("/")
            if folder.name.startswith("hw3-") and (folder / "pids.max").is_file():
                return folder
    return None


def _host_pid(cgroup: Path, pid: int) -> int | None:
    """The PID, for the grader, of the process of `cgroup` whose PID in its own namespace is `pid`."""
    try:
        hosts = (cgroup / "cgroup.procs").read_text().split()
    except OSError:
        return None
    for host in hosts:
        try:
            status = Path(f"/proc/{host}/status").read_text()
        except OSError:
            continue
        ids = next((line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")), [])
        if ids and ids[-1] == str(pid):
            return int(host)
    return None
