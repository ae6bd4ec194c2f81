"""The command a cohort's local process workers run for a submission's flow run, in place of
`python -m prefect.engine`: it hands the flow run to a free grading slot of this machine,
whose warm checker runs Prefect's engine for it in a fork of itself (checker.py), with this
process's standard streams, environment and folder; its exit code is this process's.

Standard library only, so that it starts at once: Prefect's engine is imported already in
the checker. For that reason what every side uses of a slot lives here too: what a slot is
(`Slot`), its lock (slots.py) and the path to its checker's socket (checker.py). The slot (HW3_GRADING_SERVERS_DIR, which the local workers are given) stays
this process's until it ends. Without a free slot whose checker answers, it runs the engine
itself, as the worker would have.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import NamedTuple

MAX_SLOTS = 64  # slots tried on one machine
SOCKET = "checks.sock"  # the checker's, in the slot's folder


class Slot(NamedTuple):
    url: str  # its server's API
    folder: Path


def lock(slot: Path, blocking: bool = False, shared: bool = False):
    """The slot's lock file, locked (exclusively unless `shared`; None: another process
    holds it)."""
    slot.mkdir(parents=True, exist_ok=True)
    handle = open(slot / "lock", "a+")
    try:
        fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.close()
        return None
    return handle


def at_socket(slot: Path, use) -> None:
    """`use(path)` with a short path to the slot's socket (through a descriptor of the slot's
    folder): a Unix socket's path may not be longer than 107 bytes, and a slot's folder may be."""
    folder = os.open(slot, os.O_RDONLY | os.O_DIRECTORY)
    try:
        use(f"/proc/self/fd/{folder}/{SOCKET}")
    finally:
        os.close(folder)


def connected(slot: Path) -> socket.socket | None:
    """A connection to the slot's checker (None: none listens)."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        at_socket(slot, client.connect)
        return client
    except OSError:
        client.close()
        return None


def hand_off(folder: Path) -> int | None:
    """The flow run's exit code, run by a free slot of `folder`; None if no slot took it."""
    for number in range(MAX_SLOTS):
        slot = folder / f"slot-{number}"
        if not (slot / "server.json").is_file():
            continue
        held = lock(slot)
        if held is None:
            continue
        client = connected(slot)
        if client is None:
            held.close()
            continue
        with held, client:
            request = {"flow_run": True, "env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv[1:]}
            socket.send_fds(client, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
            reply = client.makefile("rb").readline()
            (slot / "last-used").touch()
        try:
            return int(json.loads(reply)["returncode"])
        except (ValueError, KeyError, TypeError):
            return 1
    return None


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the worker cancels: the checker stops the run
    folder = os.environ.get("HW3_GRADING_SERVERS_DIR")
    code = hand_off(Path(folder)) if folder else None
    if code is None:
        os.execv(sys.executable, [sys.executable, "-m", "prefect.engine", *sys.argv[1:]])
    return code


if __name__ == "__main__":
    sys.exit(main())
