"""A throwaway PostgreSQL 15 server for the tests: `postgres_database()` yields the URL
(postgresql+asyncpg://hw3@127.0.0.1:PORT/prefect) of an empty database `prefect` on a new
cluster in a temporary folder, listening on 127.0.0.1 only (trust authentication), and ends
the server and removes the folder afterwards. `query(url, sql)` runs SQL there with psql.

initdb refuses to run as root: as root, the cluster's folder belongs to `nobody` and the
server runs as that user (runuser, setpriv or su). Skips the test when PostgreSQL is not
installed.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "hw3"
DATABASE = "prefect"
UNPRIVILEGED = ("nobody", "daemon")  # who runs the server when we are root
TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_user(user: str | None) -> list[str] | None:
    """The argv prefix that runs a command as `user` (None: as we are); None if there is none."""
    if user is None:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--"]
    if shutil.which("setpriv"):
        entry = pwd.getpwnam(user)
        return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]
    return None  # su needs one shell string: handled in _run


def _run(prefix: list[str] | None, user: str | None, argv: list[str], cwd: Path, timeout: float = TIMEOUT_S) -> None:
    command = [*prefix, *argv] if prefix is not None else ["su", "-s", "/bin/sh", user, "-c", shlex.join(argv)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv[:2])} failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")


def _postgres_pids(data: Path, postmaster: int | None) -> list[int]:
    """The processes of the server of `data`: its postmaster and that one's children."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        pid = int(entry.name)
        if "postgres" in cmdline and (str(data) in cmdline or (postmaster and pid == postmaster) or (postmaster and ppid == postmaster)):
            pids.append(pid)
    return pids


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


@contextmanager
def postgres_database() -> Iterator[str]:
    bin_dir = PG_BIN
    if not all((bin_dir / name).is_file() for name in ("initdb", "pg_ctl", "postgres", "createdb", "psql")):
        pytest.skip(f"PostgreSQL 15 is not installed (no initdb, pg_ctl, createdb, psql in {bin_dir})")
    user = None
    if os.geteuid() == 0:
        user = next((name for name in UNPRIVILEGED if _has_user(name)), None)
        if user is None:
            pytest.skip(f"running as root and none of the users {UNPRIVILEGED} to run PostgreSQL as")
        if _as_user(user) is None and not shutil.which("su"):
            pytest.skip("running as root with no runuser, setpriv or su to run PostgreSQL as another user")
    prefix = _as_user(user)
    folder = Path(tempfile.mkdtemp(prefix="hw3-postgres-"))
    data, port, postmaster = folder / "data", _free_port(), None
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        _run(prefix, user, [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                            "--no-locale", "--no-sync"], folder)
        with open(data / "postgresql.conf", "a") as conf:  # the file is the server user's; we may write it
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{folder}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        _run(prefix, user, [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "postgres.log"), "-w",
                            "-t", str(TIMEOUT_S), "start"], folder, timeout=TIMEOUT_S + 10)
        postmaster = _postmaster_pid(data)
        _run([], None, [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, DATABASE], folder)
        yield f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        postmaster = postmaster or _postmaster_pid(data)
        try:
            _run(prefix, user, [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "10", "stop"],
                 folder, timeout=20)
        except (RuntimeError, subprocess.TimeoutExpired, OSError):
            pass  # not started, or stuck: killed below
        for _ in range(2):  # the stragglers, then any a dying postmaster forked meanwhile
            for pid in _postgres_pids(data, postmaster):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.2)
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def query(url: str, sql: str) -> str:
    """`sql`'s result as psql prints it unaligned, tuples only (e.g. "flow_run")."""
    parts = urlsplit(url)
    argv = [str(PG_BIN / "psql"), "-h", parts.hostname, "-p", str(parts.port), "-U", parts.username,
            "-d", parts.path.lstrip("/"), "-tAc", sql]
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout.strip()
