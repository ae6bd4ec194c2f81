"""`hw3 grade --watch`: grade the submission again each time one of its files is saved.

A save re-checks only the checks that read what changed (hw3/grading/incremental.py: an
answer alone in about a second); the table shows every row each time, the re-checked ones
marked. `r` and Enter grades everything again; `--full` does so on every save.

One Prefect server serves the whole session (started once, or `--prefect-api-url`), and the
next run of the checks is started ahead, while the student edits: a process that has already
imported pytest, Prefect, pandas, scikit-learn and the checks, and started the warm
interpreter of its probes (hw3/sandbox/warm.py), and waits for the next save. Ctrl-C stops
watching.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hw3 import assignment as assignment_module
from hw3.errors import Hw3Error
from hw3.grading import answer_key, incremental
from hw3.grading.invocation import WARM_ARGS, preload, pytest_argv, submission_target
from hw3.grading.server import prefect_server

WATCHED = ("*.py", "*.toml", "*.ipynb", "*.yaml")  # the submission's files whose change starts a grade
POLL_S = 0.3  # between two looks at the files
QUIET_S = 0.3  # a change counts once the files have not changed for this long (an editor's save in steps)
GO = "go"
FULL = "r"  # typed (and Enter) while watching: grade everything again


def watched_files(folder: Path) -> list[Path]:
    return sorted(path for pattern in WATCHED for path in folder.glob(pattern) if path.is_file())


def snapshot(folder: Path) -> dict[Path, tuple[int, int]]:
    """(modification time, size) of each watched file of `folder`."""
    found = {}
    for path in watched_files(folder):
        try:
            status = path.stat()
        except OSError:
            continue
        found[path] = (status.st_mtime_ns, status.st_size)
    return found


def asked_for_full() -> bool:
    """Whether `r` and Enter was typed (waits POLL_S for it; sleeps that long without a terminal)."""
    if not sys.stdin.isatty():
        time.sleep(POLL_S)
        return False
    ready, _, _ = select.select([sys.stdin], [], [], POLL_S)
    return bool(ready) and sys.stdin.readline().strip().lower() == FULL


def wait_for_change(folder: Path, seen: dict) -> bool:
    """Return once the watched files differ from `seen` and have settled (False), or `r`
    was typed (True)."""
    while snapshot(folder) == seen:
        if asked_for_full():
            return True
    while True:
        before = snapshot(folder)
        time.sleep(QUIET_S)
        if snapshot(folder) == before:
            return False


def session_key(assignment: assignment_module.Assignment, extra: list[str], scratch: Path) -> list[str]:
    """`--answer-key` of a key built once for the watch session (in `scratch`), when the checks
    would otherwise build one from the reference at every grade; else nothing to add."""
    given = any(arg == "--answer-key" or arg.startswith("--answer-key=") for arg in extra)
    if given or (assignment.folder / "key.json").exists() or answer_key.reference_problem(assignment):
        return []
    try:
        built = answer_key.build_from_reference(assignment.root, str(assignment.folder))
    except Hw3Error:
        return []  # the checks say what is wrong, at each grade
    return ["--answer-key", str(built.save(scratch / "key.json"))]


class WarmChecks:
    """A `pytest checks/` process started ahead, its imports done and its probes' zygote
    started (its session's folder: a new folder of `scratch`), that runs on `go()`."""

    def __init__(self, pytest_argv: list[str], assignment_id: str, target: Path, api_url: str, scratch: Path):
        self.folder = Path(tempfile.mkdtemp(prefix="session-", dir=scratch))
        ahead = {"assignment": assignment_id, "target": str(target), "api_url": api_url, "folder": str(self.folder)}
        self.process = subprocess.Popen([sys.executable, "-m", "hw3.grading.watch", json.dumps(ahead), *pytest_argv], stdin=subprocess.PIPE,
                                        text=True)

    def go(self, args: list[str]) -> int:
        """Run the checks with `args` added to pytest's; their exit status."""
        self.process.stdin.write(f"{GO} {json.dumps(args)}\n")
        self.process.stdin.close()
        try:
            return self.process.wait()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def watch(assignment: assignment_module.Assignment, target: str | None, api_url: str | None, extra: list[str],
          full: bool = False) -> int:
    """Grade `target` (default: the assignment's homework folder) now and after every save,
    re-checking what the save touched (`full`: everything); `extra`: the arguments for pytest."""

    path = submission_target(target) if target else assignment.homework()
    folder = path if path.is_dir() else path.parent
    if (folder / assignment.id).is_dir():
        folder = folder / assignment.id
    for stop in (signal.SIGTERM, signal.SIGHUP):  # a closed terminal stops the server too, as Ctrl-C does
        signal.signal(stop, _interrupt)
    with tempfile.TemporaryDirectory(prefix="hw3-watch-") as scratch, \
            prefect_server(api_url, Path(scratch) / "prefect-server", what="--watch") as url:
        extra = [*extra, *session_key(assignment, extra, Path(scratch))]
        argv = pytest_argv(path if target else None, None, url, extra)[3:]  # after `python -m pytest`

        def warm_checks() -> WarmChecks:
            return WarmChecks(argv, assignment.id, folder, url, Path(scratch))

        kept = str(Path(scratch) / "kept.json")  # the last grade, whose unchanged rows the next one keeps
        grader = incremental.grader_digest(assignment.folder, extra)
        warm, before, everything = warm_checks(), None, True
        try:
            while True:
                seen = snapshot(folder)
                after = incremental.snapshot(watched_files(folder), folder, assignment.catalogue, grader)
                patterns = None if everything or full else incremental.recheck(assignment.catalogue, before, after)
                started = time.monotonic()
                status = warm.go(["--kept", kept, *([] if patterns is None else ["--recheck", ",".join(patterns)])])
                before = after if status in (0, 1, 5) else None  # a grade that broke off keeps nothing
                print(f"\n[hw3] re-checked {incremental.described(patterns)} in {time.monotonic() - started:.1f} s; "
                      f"watching {folder} for changes (r and Enter: grade everything; Ctrl-C stops)", flush=True)
                warm = warm_checks()
                everything = wait_for_change(folder, seen)
                grader = incremental.grader_digest(assignment.folder, extra)
        except KeyboardInterrupt:
            warm.stop()
            return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run_warm(ahead: dict, pytest_args: list[str]) -> int:
    """The warm process: import what the checks need, start the session's zygote (`ahead`:
    its assignment, target, API URL and folder), wait for GO, run the checks."""
    import pytest

    preload()
    assignment_module.session_class(ahead["assignment"]).start_ahead(Path(ahead["target"]), ahead["api_url"], Path(ahead["folder"]))
    word, _, args = sys.stdin.readline().partition(" ")
    if word != GO:
        return 0
    return pytest.main([*WARM_ARGS, *pytest_args, *json.loads(args)])


def _exit_at_once(code: int) -> None:
    """Exit as `sys.exit` would, less the interpreter's teardown of pandas, scikit-learn and
    Prefect (0.7 s the student would wait for)."""
    sys.stdout.flush(), sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    _exit_at_once(_run_warm(json.loads(sys.argv[1]), sys.argv[2:]))
