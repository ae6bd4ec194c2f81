"""`hw3 server start` (hw3/cohort/serve.py): the instructor's Prefect server on PostgreSQL, with the
work pool the grading machines' workers take runs from, stopped by SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from postgres import postgres_database, query

START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30


def _env() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _hw3(*args: str) -> list[str]:
    return [sys.executable, "-m", "hw3.cli", *args]


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _kill_servers_on(port: int) -> None:
    """A `prefect server start` left on `port` by a failed test (its own process group)."""
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"prefect" in argv and b"server" in argv and b"start" in argv and str(port).encode() in argv:
            try:
                os.killpg(int(entry.name), signal.SIGKILL)
            except OSError:
                pass


@pytest.mark.slow
def test_server_start_on_postgresql_makes_the_pool_and_stops_on_sigterm(tmp_path):
    with postgres_database() as database:
        port = _free_port()
        argv = _hw3("server", "start", "--database", database, "--port", str(port), "--pool", "graders",
                    "--home", str(tmp_path / "home"))
        started = time.monotonic()
        with open(tmp_path / "stderr.txt", "w+") as stderr:
            process = subprocess.Popen(argv, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=stderr, text=True)
            try:
                lines: queue.Queue = queue.Queue()
                threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
                url, output = None, []
                while url is None:
                    line = lines.get(timeout=max(0.1, START_TIMEOUT_S - (time.monotonic() - started)))
                    if line is None:
                        stderr.seek(0)
                        pytest.fail(f"hw3 server start exited with {process.wait()}: {''.join(output)}{stderr.read()}")
                    output.append(line)
                    if line.startswith("server: "):
                        url = line.split()[1]
                print(f"server answered after {time.monotonic() - started:.1f} s")
                assert url == f"http://127.0.0.1:{port}/api"
                pools = httpx.post(f"{url}/work_pools/filter", json={"work_pools": {"name": {"any_": ["graders"]}}},
                                   timeout=30).json()
                assert [(pool["name"], pool["type"]) for pool in pools] == [("graders", "process")]
                assert query(database, "SELECT to_regclass('public.flow_run')") == "flow_run"  # the server's tables
                assert query(database, "SELECT count(*) FROM work_pool WHERE name = 'graders'") == "1"
                process.send_signal(signal.SIGTERM)
                stopping = time.monotonic()
                assert process.wait(timeout=STOP_TIMEOUT_S) == 0
                print(f"stopped after {time.monotonic() - stopping:.1f} s; {time.monotonic() - started:.1f} s in all")
                text = "".join(output) + "".join(line or "" for line in list(lines.queue))  # all it printed
                assert f"PREFECT_API_URL={url} prefect worker start --pool graders --type process --limit 1" in text
                assert f"hw3 grade --cohort DIR --work-pool graders --prefect-api-url {url}" in text
                with pytest.raises(httpx.HTTPError):  # the server stopped with it
                    httpx.get(f"{url}/health", timeout=5)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                _kill_servers_on(port)


def test_a_database_url_of_another_kind_is_refused_before_anything_starts(tmp_path):
    home = tmp_path / "home"
    done = subprocess.run(_hw3("server", "start", "--database", "mysql://x", "--port", str(_free_port()), "--home", str(home)),
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    message = done.stderr.strip()
    assert "\n" not in message and "--database" in message and "postgresql+asyncpg://" in message, message
    assert not home.exists()
