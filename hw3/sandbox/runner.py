"""The one place where the checks start processes that run a submission's code.

Every child runs in a sandbox folder of its own (its working directory, PREFECT_HOME,
temporary and models folders), sees only the test server's API, the data folder the checks
prepared and a clean environment, and is bounded in time, memory and file size; its output
goes to files of which only the end is read. A probe also runs under the guard of probe.py
(`guard_spec`: no network but loopback, nothing of the project, the key or other
submissions to read, nothing of the submission or the data to change, no processes, no
signals to others). Whatever goes wrong comes back as a one-line reason: "timed out after 300 s while running main(date='2021-08-15')", "exited
with code 3 while importing homework.py", "raised ValueError: ... (homework.py, line 12, in
get_paths)", "not attempted: get_paths still raises NotImplementedError".

The probes of a session may instead be forks of one warm interpreter (warm.py, zygote.py)
that imported Prefect, pandas and scikit-learn once: the same files, limits and reasons.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from hw3 import layout, settings
from hw3.sandbox import confine, relay


class Forker(Protocol):
    """What run_probe needs of a warm interpreter (warm.Zygote, which imports this module)."""

    folder: Path

    def run(self, argv: list[str], sandbox: Sandbox, timeout: float, readable=()) -> tuple[int | None, str] | None: ...


RELAY_ENV = "HW3_API_RELAY"  # "<socket>:<port>[;<socket>:<port>...]": the child's ends of relay.py, inside the wall
RELAY_SEPARATOR = ";"  # between the pairs of RELAY_ENV

# Limits of one child process; the environment variables override them.
TIMEOUT_S = settings.current().check_timeout_s
MEMORY_MB = settings.current().check_memory_mb
FILE_MB = settings.current().check_file_mb  # the largest file a child may write
PROCESS_LIMIT = 128  # processes (and threads) of one child and all it starts
OUTPUT_TAIL = 20_000  # characters of a child's stdout and stderr read back (its end)

# Paths (os.pathsep-separated) no probe may read or change besides the project: the answer
# key, a cohort's folder. `protect()` adds to them in this process.
PROTECT_ENV = "HW3_CHECK_PROTECT"
_protected: set[Path] = set()

# Variables a child inherits from the checks' own environment; everything else is dropped.
KEPT_VARIABLES = ("PATH", "LANG", "LC_ALL")
TERMINAL_COLUMNS = "250"  # wide enough that `prefect ... ls` tables don't cut names


@dataclass(frozen=True)
class Sandbox:
    """Where a child runs, laid out like the course repository: its working directory `work/`
    holds `data/` (a private copy of `data_files`) and an empty `models/`, and `data` beside
    `work/` is the same folder, so `./data/...`, `../data/...` and `./models/` all work."""

    folder: Path
    api_url: str
    data_files: tuple[Path, ...] = ()  # trip files copied into data/ under their own names
    taxi: str = "fhv"  # the trip type of the variant graded (HW3_TAXI of the child)
    relayed_ports: tuple[int, ...] = ()  # more ports of the grader's 127.0.0.1 the child reaches (an SMTP server)

    @property
    def work(self) -> Path:
        return self.folder / "work"

    @property
    def data_dir(self) -> Path:
        return self.work / "data"

    @property
    def models_dir(self) -> Path:
        return self.work / "models"

    def prepare(self) -> None:
        for sub in (self.data_dir, self.models_dir, self.folder / "prefect-home", self.folder / "tmp"):
            sub.mkdir(parents=True, exist_ok=True)
        for file in self.data_files:
            if not (self.data_dir / file.name).exists():
                shutil.copyfile(file, self.data_dir / file.name)
        if not (self.folder / "data").exists():
            (self.folder / "data").symlink_to("work/data", target_is_directory=True)

    def environ(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
        env.update(
            PREFECT_API_URL=self.api_url,
            PREFECT_HOME=str(self.folder / "prefect-home"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            HW3_DATA_DIR=str(self.data_dir),
            HW3_TAXI=self.taxi,
            HW3_MODELS_DIR=str(self.models_dir),
            TMPDIR=str(self.folder / "tmp"),
            HOME=str(self.folder / "tmp"),
            TZ="UTC",
            COLUMNS=TERMINAL_COLUMNS,
            PYTHONIOENCODING="utf-8",
        )
        return env


@dataclass
class ProbeResult:
    """What a probe job reported: outcome "ok", "failed" or "not attempted"."""

    job: str
    outcome: str
    reason: str | None
    data: dict = field(default_factory=dict)
    stderr: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def stdout(self) -> str:
        """What the submission's code printed."""
        return self.data.get("stdout", "")


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    returncode: int | None  # None: it did not finish in time
    stdout: str
    stderr: str
    reason: str | None  # why it did not run to the end, if it did not


def protect(path: str | os.PathLike) -> None:
    """Keep `path` (a file or a folder) out of every probe's reach from now on."""
    _protected.add(Path(path).resolve())


def protected_paths() -> list[Path]:
    """What `protect()` and HW3_CHECK_PROTECT name."""
    given = [Path(p).resolve() for p in settings.current().check_protect.split(os.pathsep) if p]
    return sorted({*given, *_protected})


def guard_spec(target: Path, sandbox: Sandbox, request_file: Path, result_file: Path, months_read=(),
               shared: Path | None = None) -> dict:
    """What the probe's guard refuses (see probe.Guard). `shared`: a folder the probe's wall
    shows writable besides its own (a zygote's: the other runs of the session), kept out too."""
    extra = protected_paths()
    folders, files = [p for p in extra if not p.is_file()], [p for p in extra if p.is_file()]
    keep_out = [*layout.private_folders(), settings.kept_key_paths_dir(), *folders, *([shared] if shared else [])]
    own = [Path(target).resolve()]
    months = [Path(p).resolve() for p in months_read]
    return {
        "no_read": keep_out,
        "allowed": [*own, *months, sandbox.folder.resolve()],
        "secret": [*files, request_file],
        "no_write": [*keep_out, *own, *months],
        "writable": [sandbox.folder.resolve()],
        "protected": [*files, request_file, result_file],
    }


def _tail(path: Path) -> str:
    """The last OUTPUT_TAIL characters (about) of a child's output file."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(size - OUTPUT_TAIL, 0))
        text = handle.read().decode("utf-8", errors="replace")
    return (f"[... the first {size - OUTPUT_TAIL:,} bytes not kept]\n" if size > OUTPUT_TAIL else "") + text


@contextmanager
def _api_relay(sandbox: Sandbox):
    """Inside the wall, the child reaches the grader's API (and each of the sandbox's
    `relayed_ports`) through a Unix socket of its own (relay.py), one per port, in a short
    folder of the grader's that the wall shows at confine.RELAY_INSIDE; yields the variables
    that tell the child so, and that folder (None: no relay)."""
    api_port = urlsplit(sandbox.api_url).port if sandbox.api_url else None
    ports = list(dict.fromkeys([*([api_port] if api_port is not None else []), *sandbox.relayed_ports]))
    if not confine.bwrap() or not ports:
        yield {}, None
        return
    folder = Path(tempfile.mkdtemp(prefix="hw3-relay-"))
    pairs, listeners = [], []
    try:
        for port in ports:
            name = "api.sock" if port == api_port else f"port{port}.sock"
            listeners.append(relay.serve_unix(str(folder / name), port))
            pairs.append(f"{confine.RELAY_INSIDE / name}:{port}")
        yield {RELAY_ENV: RELAY_SEPARATOR.join(pairs)}, folder
    finally:
        for listener in listeners:
            listener.close()
        shutil.rmtree(folder, ignore_errors=True)


def _relay_argv(relay_env: dict) -> list[str]:
    """The child's side of the relay (relay.py's command mode), to run a command behind."""
    pairs = [pair.rsplit(":", 1) for pair in relay_env[RELAY_ENV].split(RELAY_SEPARATOR)]
    return [sys.executable, "-I", str(confine.inside("relay.py")), *(part for pair in pairs for part in pair), "--"]


@contextmanager
def _started(argv: list[str], sandbox: Sandbox, memory_mb: int, readable=(), *, outputs: list[Path],
             env: dict | None = None, processes: int = PROCESS_LIMIT, writable: Path | None = None, served: bool = False):
    """Start argv inside the wall (confine.py), under its limits, its stdout and stderr going
    to `outputs`; yields (the child, whether it is walled). On the way out its whole process
    group is killed (what it left behind goes too) and waited for. `writable`: the folder it
    may change (default: the sandbox's). `served`: the zygote (zygote.py), whose stdin and
    stdout are pipes of the grader and which is the wall's PID 1."""
    sandbox.prepare()
    with _api_relay(sandbox) as (relay_env, relay_folder), confine.process_cap(processes) as cap, \
            open(outputs[0], "wb") as stdout, open(outputs[1], "wb") as stderr:
        if relay_env and argv[:2] != [sys.executable, "-I"]:  # a command: the child's side of the relay first
            argv = [*_relay_argv(relay_env), *argv]
        walled = confine.wall(argv, writable=writable or sandbox.folder, readable=[Path(p).resolve() for p in readable],
                              cwd=sandbox.work, relay=relay_folder)
        if served and walled is not argv:
            walled = [walled[0], "--as-pid-1", *walled[1:]]
        child = subprocess.Popen(
            [*cap, *confine.limits(memory_mb, FILE_MB, processes), *walled],
            cwd=sandbox.work,
            env={**sandbox.environ(), **(env or {}), **relay_env},
            stdin=subprocess.PIPE if served else subprocess.DEVNULL,
            stdout=subprocess.PIPE if served else stdout,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            yield child, walled is not argv
        finally:
            try:
                os.killpg(child.pid, signal.SIGKILL)  # what it left behind goes too
            except ProcessLookupError:
                pass
            child.wait()


def _spawn(argv: list[str], sandbox: Sandbox, timeout: float, memory_mb: int, readable=()) -> tuple[int | None, str, str]:
    """Run argv inside the wall (confine.py), under its limits, to the end or until `timeout`;
    the whole process group goes on a timeout. Its stdout and stderr go to files in the
    sandbox; (returncode, their ends) come back. `readable`: what it may read besides its
    folder and the Python environment (the submission, trip files)."""
    sandbox.prepare()
    outputs = [sandbox.folder / f"{Path(argv[0]).name}.{stream}.txt" for stream in ("stdout", "stderr")]
    with _started(argv, sandbox, memory_mb, readable, outputs=outputs) as (child, walled):
        try:
            returncode = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            returncode = None
    if walled and returncode is not None and 128 < returncode <= 128 + 64:
        returncode = 128 - returncode  # bwrap, the child's init, exits 128+N for a child killed by signal N
    return returncode, _tail(outputs[0]), _tail(outputs[1])


@dataclass
class Background:
    """A command that runs beside the checks (see `background`)."""

    argv: list[str]
    process: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> tuple[str, str]:
        """The ends of what it wrote so far to stdout and stderr."""
        return _tail(self.stdout_path), _tail(self.stderr_path)


@contextmanager
def background(argv: list[str], sandbox: Sandbox, *, name: str | None = None, env: dict[str, str] | None = None,
               memory_mb: int = MEMORY_MB, processes: int = PROCESS_LIMIT, readable=()):
    """Run a command line (e.g. `prefect worker start ...`) inside the wall of `sandbox`, in
    the background, for as long as the `with` block lasts; yields a `Background`. `env` is
    added to the sandbox's environment; its output goes to `<name>.stdout.txt` and
    `<name>.stderr.txt` in the sandbox (default name: the program's, with "-background").
    On the way out its whole process group is killed. `processes` caps its processes and
    threads together (a worker starts a process per flow run, each with threads of its own)."""
    name = name or f"{Path(argv[0]).name}-background"
    outputs = [sandbox.folder / f"{name}.{stream}.txt" for stream in ("stdout", "stderr")]
    sandbox.prepare()
    with _started(argv, sandbox, memory_mb, readable, outputs=outputs, env=env, processes=processes) as (child, _):
        yield Background(argv, child, *outputs)


def _ended(returncode: int, memory_mb: int) -> str:
    if returncode >= 0:
        return f"exited with code {returncode}"
    return f"was killed by {signal.Signals(-returncode).name} ({_memory_hint(memory_mb)})"


def _memory_hint(memory_mb: int) -> str:
    return f"a child may use at most {memory_mb} MB of memory; HW3_CHECK_MEMORY_MB changes that"


def probe_readable(target: Path, jobs: Path, request: dict) -> list[Path]:
    """What a probe may read besides its folder and the Python environment: the submission,
    the jobs file and the trip files of its request."""
    return [Path(p).resolve() for p in (target, jobs, *request.get("months", {}).values())]


def run_probe(
    job: str,
    target: Path,
    sandbox: Sandbox,
    *,
    jobs: Path,
    timeout: float = TIMEOUT_S,
    memory_mb: int = MEMORY_MB,
    zygote: Forker | None = None,
    **request,
) -> ProbeResult:
    """Run the probe job `job` of the assignment's `jobs` file (see probe.py) on the
    submission in `target`: by a fork of `zygote` when it can serve it, else in a fresh
    interpreter (the same files, limits and reasons)."""
    sandbox.prepare()
    request_file = sandbox.folder / f"{job}.request.json"
    result_file = sandbox.folder / f"{job}.result.json"
    guard = guard_spec(target, sandbox, request_file, result_file, request.get("months", {}).values(), zygote and zygote.folder)
    guard["init_protected"] = confine.bwrap() is not None  # the wall's PID 1: bwrap's init, or the zygote
    request = {"job": job, "jobs": str(Path(jobs).resolve()), "target": str(Path(target).resolve()), "guard": json.loads(json.dumps(guard, default=str)),
               "limits": {"memory_mb": memory_mb, "file_mb": FILE_MB}, **request}
    request_file.write_text(json.dumps(request), encoding="utf-8")
    result_file.unlink(missing_ok=True)
    started = time.monotonic()
    argv = [sys.executable, "-I", "-B", str(confine.inside("probe.py")), str(request_file), str(result_file)]
    readable = probe_readable(target, jobs, request)
    forked = zygote.run(argv[3:], sandbox, timeout, readable) if zygote else None
    if forked is None:
        result_file.unlink(missing_ok=True)  # what a zygote that went away may have left
        returncode, _, stderr = _spawn(argv, sandbox, timeout, memory_mb, readable)
    else:
        returncode, stderr = forked
    seconds = time.monotonic() - started
    try:
        data = json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {"phase": "starting"}
    where = f"while {data.get('phase')}"
    refused = f" (the checks refused {'; '.join(data['refused'])})" if data.get("refused") else ""
    if returncode is None:
        return ProbeResult(job, "failed", f"timed out after {timeout:g} s {where}{refused}", data, stderr, seconds)
    if data.get("outcome") is None:
        last = [line for line in stderr.splitlines() if line.strip()][-1:]
        detail = f": {_shorten(last[0].strip())}" if last else ""
        return ProbeResult(job, "failed", f"{_ended(returncode, memory_mb)} {where}{detail}{refused}", data, stderr, seconds)
    reason = data.get("reason")
    if reason and "MemoryError" in reason:
        reason += f" ({_memory_hint(memory_mb)})"
    if reason and "File too large" in reason:
        reason += f" (a child may write files of at most {FILE_MB} MB; HW3_CHECK_FILE_MB changes that)"
    if reason and refused and "the checks do not allow" not in reason:
        reason += refused
    return ProbeResult(job, data["outcome"], reason, data, stderr, seconds)


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def prefect_command(argv: list[str]) -> list[str]:
    """argv of a `prefect ...` command, run with the Prefect of this Python."""
    script = Path(sys.executable).with_name("prefect")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "prefect"]
    return head + argv[1:]


def run_command(argv: list[str], sandbox: Sandbox, *, timeout: float = 120, memory_mb: int = MEMORY_MB) -> CommandResult:
    """Run a command line of the submission (e.g. its `prefect work-queue ...`)."""
    if not argv or shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        return CommandResult(argv, None, "", "", f"{argv[:1]} is not a program")
    returncode, stdout, stderr = _spawn(argv, sandbox, timeout, memory_mb)
    reason = f"timed out after {timeout:g} s" if returncode is None else None
    return CommandResult(argv, returncode, stdout, stderr, reason)
