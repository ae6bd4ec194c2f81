"""The one place where the checks start processes that run a submission's code.

Every child runs in a sandbox folder of its own (its working directory, PREFECT_HOME and
models folder), sees only the test server's API, the data folder the checks prepared and a
clean environment, and is bounded in time and memory. Whatever goes wrong comes back as a
one-line reason: "timed out after 300 s while running main(date='2021-08-15')", "exited
with code 3 while importing homework.py", "raised ValueError: ... (homework.py, line 12, in
get_paths)", "not attempted: get_paths still raises NotImplementedError".
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROBE = Path(__file__).with_name("probe.py")

# Limits of one child process; the environment variables override them.
TIMEOUT_S = float(os.environ.get("HW3_CHECK_TIMEOUT_S") or 300)
MEMORY_MB = int(os.environ.get("HW3_CHECK_MEMORY_MB") or 6144)

# Variables a child inherits from the checks' own environment; everything else is dropped.
KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
TERMINAL_COLUMNS = "250"  # wide enough that `prefect ... ls` tables don't cut names


@dataclass(frozen=True)
class Sandbox:
    """Where a child runs: its own folder, the test server, the data to read."""

    folder: Path
    api_url: str
    data_dir: Path
    taxi: str = "fhv"  # the trip type of the variant graded (HW3_TAXI of the child)

    @property
    def models_dir(self) -> Path:
        return self.folder / "models"

    def prepare(self) -> None:
        for sub in ("work", "prefect-home", "models"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def environ(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
        env.update(
            PREFECT_API_URL=self.api_url,
            PREFECT_HOME=str(self.folder / "prefect-home"),
            HW3_DATA_DIR=str(self.data_dir),
            HW3_TAXI=self.taxi,
            HW3_MODELS_DIR=str(self.models_dir),
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


def _limits(memory_mb: int):
    """preexec_fn of a child: cap its address space."""

    def apply() -> None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def _spawn(argv: list[str], sandbox: Sandbox, timeout: float, memory_mb: int) -> tuple[int | None, str, str]:
    """Run argv to the end or until `timeout`; the whole process group goes on a timeout."""
    sandbox.prepare()
    with subprocess.Popen(
        argv,
        cwd=sandbox.folder / "work",
        env=sandbox.environ(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
        preexec_fn=_limits(memory_mb),
    ) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
            return child.returncode, stdout, stderr
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            stdout, stderr = child.communicate()
            return None, stdout, stderr


def _ended(returncode: int, memory_mb: int) -> str:
    if returncode >= 0:
        return f"exited with code {returncode}"
    return f"was killed by {signal.Signals(-returncode).name} ({_memory_hint(memory_mb)})"


def _memory_hint(memory_mb: int) -> str:
    return f"a child may use at most {memory_mb} MB of memory; HW3_CHECK_MEMORY_MB changes that"


def run_probe(
    job: str,
    target: Path,
    sandbox: Sandbox,
    *,
    timeout: float = TIMEOUT_S,
    memory_mb: int = MEMORY_MB,
    **request,
) -> ProbeResult:
    """Run one probe job (see probe.py) on the submission in `target`."""
    sandbox.prepare()
    request_file = sandbox.folder / f"{job}.request.json"
    result_file = sandbox.folder / f"{job}.result.json"
    request_file.write_text(json.dumps({"job": job, "target": str(Path(target).resolve()), **request}), encoding="utf-8")
    result_file.unlink(missing_ok=True)
    started = time.monotonic()
    argv = [sys.executable, "-I", "-B", str(PROBE), str(request_file), str(result_file)]
    returncode, _, stderr = _spawn(argv, sandbox, timeout, memory_mb)
    seconds = time.monotonic() - started
    try:
        data = json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {"phase": "starting"}
    where = f"while {data['phase']}"
    if returncode is None:
        return ProbeResult(job, "failed", f"timed out after {timeout:g} s {where}", data, stderr, seconds)
    if data.get("outcome") is None:
        last = [line for line in stderr.splitlines() if line.strip()][-1:]
        detail = f": {last[0].strip()}" if last else ""
        return ProbeResult(job, "failed", f"{_ended(returncode, memory_mb)} {where}{detail}", data, stderr, seconds)
    reason = data.get("reason")
    if reason and "MemoryError" in reason:
        reason += f" ({_memory_hint(memory_mb)})"
    return ProbeResult(job, data["outcome"], reason, data, stderr, seconds)


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
