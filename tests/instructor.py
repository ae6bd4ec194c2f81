"""The instructor's server of `hw3 server start`, for tests and benchmarks."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def instructor_server(home: Path, database: str | None = None) -> Iterator[str]:
    """`hw3 server start [--database URL] --pool graders --home HOME` on a free port: its API URL,
    for the block's time (stopped after it)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    argv = [sys.executable, "-m", "hw3.cli", "server", "start", "--port", str(free_port()), "--pool", "graders",
            "--home", str(home), *(["--database", database] if database else [])]
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / "server.out", "wb") as out:
        server = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, said, found = time.monotonic() + 180, "", None
        while time.monotonic() < deadline and server.poll() is None:
            said = (home.parent / "server.out").read_text(errors="replace")
            found = re.search(r"^server: (\S+)", said, re.MULTILINE)
            if found:
                break
            time.sleep(0.5)
        assert found, f"hw3 server start did not say its URL: {said[-3000:]}"
        yield found.group(1)
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
