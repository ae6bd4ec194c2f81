"""The Prefect servers a machine grades submissions on: one per slot, one submission at a time.

A worker's flow run takes the first free slot of the machine's slot folder (a lock file held
while it grades), and uses the slot's server: the one already running there, emptied of the
previous submission's flows, deployments, blocks, automations and pools, else one it starts.
A submission's code reaches only its slot's server, so it never sees another submission
graded at the same time, and each server is started once per machine, not once per
submission.

A slot's server runs under `python -m hw3.cohort.slots SLOT IDLE_S`, which stops it once the
slot has been free for IDLE_S seconds: a machine keeps its servers between cohorts for a
while, whether its workers were started by `prefect worker start` or by `hw3 grade --cohort
--workers N` (so a re-run soon after starts no grading server). That process is also the
slot's warm checker (checker.py): it runs the checks of each submission graded on the slot.

The machine's cohort server (folder `cohort`, beside the slots) is kept the same way, with no
checker: the cohort runs of the machine share it, each with a work pool of its own, and their
flow runs and table artifacts stay readable there until it has been unused for IDLE_S.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from hw3 import settings
from hw3.cohort.handoff import MAX_SLOTS, Slot, lock
from hw3.errors import Hw3Error
from hw3.fsutil import atomic_write
from hw3.grading import tls
from hw3.grading.server import UNUSED_SERVICES, PrefectServer, ServerError

WAIT_S = 1.0  # between two looks for a free slot
WATCH_S = 5.0  # between two looks of a slot's watcher at whether it is idle
COHORT = "cohort"  # the folder of the machine's cohort server, beside its slots
SERVER_ONLY = "--server-only"  # a watcher's argument: no checker (the cohort server's)
# The cohort server also does without the triggers: a cohort makes no automation.
COHORT_SERVICES_OFF = (*UNUSED_SERVICES, "triggers")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=5, verify=tls.context()).status_code == 200
    except httpx.HTTPError:
        return False


def running_url(slot: Path) -> str | None:
    """The API URL of the slot's server, if it runs and answers."""
    try:
        url = json.loads((slot / "server.json").read_text(encoding="utf-8"))["url"]
    except (OSError, ValueError, KeyError):
        return None
    return url if _healthy(url) else None


def start(slot: Path, idle_s: float, assignment: str | None = None, checks: bool = True) -> str:
    """Start the slot's server under its watcher (detached: it outlives the caller), whose
    checker (if `checks`) gets ready for `assignment`'s submissions; wait until the server
    answers; return its URL. The caller holds the slot's lock."""
    (slot / "server.json").unlink(missing_ok=True)
    log = open(slot / "watcher.log", "ab")
    what = [SERVER_ONLY] if not checks else [assignment] if assignment else []
    subprocess.Popen([sys.executable, "-m", "hw3.cohort.slots", str(slot), str(idle_s), *what],
                     stdin=subprocess.DEVNULL,
                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=slot)
    log.close()
    deadline = time.monotonic() + settings.current().check_server_timeout_s + 10
    while time.monotonic() < deadline:
        url = running_url(slot)
        if url:
            return url
        time.sleep(0.2)
    raise Hw3Error(f"the grading server of {slot} did not start; see {slot / 'watcher.log'} and {slot / 'home' / 'server.log'}")


@contextmanager
def grading_server(folder: Path | None = None, idle_s: float | None = None, assignment: str | None = None):
    """Yield a free slot of `folder` (default: the machine's, HW3_GRADING_SERVERS_DIR), its
    server emptied for the next submission (of `assignment`, if known); the slot is this
    caller's alone until the block ends."""
    folder = Path(folder or settings.current().grading_servers_dir)
    idle_s = settings.current().grading_server_idle_s if idle_s is None else idle_s
    handle, slot = None, None
    while handle is None:
        for number in range(MAX_SLOTS):
            slot = folder / f"slot-{number}"
            handle = lock(slot)
            if handle:
                break
        else:
            time.sleep(WAIT_S)
    try:
        url = running_url(slot)
        if url:
            from hw3.grading.prefect_api import empty_server

            empty_server(url)
        else:
            url = start(slot, idle_s, assignment)
        yield Slot(url, slot)
    finally:
        (slot / "last-used").touch()
        handle.close()


@contextmanager
def cohort_server(folder: Path | None = None, idle_s: float | None = None):
    """Yield the URL of the machine's cohort server (of `folder`, default the machine's),
    started if it does not run; it is shared by the cohort runs of the machine (each holds
    its lock shared), and stops once none has used it for idle_s seconds."""
    folder = Path(folder or settings.current().grading_servers_dir)
    idle_s = settings.current().grading_server_idle_s if idle_s is None else idle_s
    slot = folder / COHORT
    handle = lock(slot, blocking=True, shared=True)
    try:
        url = running_url(slot)
        if url is None:  # start it alone: the lock held exclusively, then shared again
            fcntl.flock(handle, fcntl.LOCK_EX)
            url = running_url(slot) or start(slot, idle_s, checks=False)
            fcntl.flock(handle, fcntl.LOCK_SH)
        yield url
    finally:
        (slot / "last-used").touch()
        handle.close()


def warm(slot: Path, idle_s: float | None = None, assignment: str | None = None) -> None:
    """Make sure the slot's server runs (its checker ready for `assignment`): started if not,
    unless the slot is in use (then it runs, or the one using it starts it)."""
    idle_s = settings.current().grading_server_idle_s if idle_s is None else idle_s
    handle = lock(slot)
    if handle is None:
        return
    try:
        running_url(slot) or start(slot, idle_s, assignment)
    finally:
        handle.close()


def stop_all(folder: Path) -> None:
    """Stop the servers of every slot in `folder`, and its cohort server (their watchers and
    what they started)."""
    for record in [*Path(folder).glob("slot-*/server.json"), *Path(folder).glob(f"{COHORT}/server.json")]:
        try:
            os.killpg(json.loads(record.read_text(encoding="utf-8"))["watcher"], signal.SIGTERM)
        except (OSError, ValueError, KeyError):
            pass


def watch(slot: Path, idle_s: float, assignment: str | None = None, checks: bool = True) -> int:
    """Run the slot's server, and (if `checks`) its checker, ready for `assignment`'s
    submissions, until the slot has been free for idle_s seconds (or SIGTERM)."""
    server, checker = PrefectServer(slot / "home", services_off=UNUSED_SERVICES if checks else COHORT_SERVICES_OFF), None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        url = server.start()
        if checks:
            from hw3.cohort.checker import Checker

            checker = Checker(slot, url)
        atomic_write(slot / "server.json", json.dumps({"url": url, "watcher": os.getpid()}))
        (slot / "last-used").touch()
        if checker is not None:
            checker.preload(assignment)
        while server.process.poll() is None:
            if checker is None:
                time.sleep(WATCH_S)
            elif checker.serve(WATCH_S):
                continue
            if time.time() - (slot / "last-used").stat().st_mtime < idle_s:
                continue
            handle = lock(slot)
            if handle:  # free, and idle for long enough: stop, holding the lock
                (slot / "server.json").unlink(missing_ok=True)
                handle.close()
                return 0
        return 1
    except ServerError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        if checker is not None:
            checker.close()
        server.stop()


if __name__ == "__main__":
    server_only = sys.argv[3:4] == [SERVER_ONLY]
    sys.exit(watch(Path(sys.argv[1]), float(sys.argv[2]), *([] if server_only else sys.argv[3:4]), checks=not server_only))
