"""An isolated Prefect server for one grading session.

`prefect server start` in a process group of its own, with its own PREFECT_HOME (so its
own SQLite database and profile; never the user's), on a free port of 127.0.0.1. It is
started before anything freezes a clock and stopped when the session ends.

A new server's database starts as a copy of the database of the first server this machine
started with this Prefect (kept in the cache folder, as it was once that server answered):
its tables are made and migrated already, so the server starts without making or migrating
them.

With a `database_url` (e.g. PostgreSQL, for `hw3 server start`) the server uses that database
instead, migrating it on start, and binds the host and port asked for.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing, contextmanager
from importlib.metadata import version
from pathlib import Path

import httpx

from hw3 import settings
from hw3.errors import Hw3Error
from hw3.grading import tls

LOG_TAIL = 2000  # characters of the server's log quoted when it does not start
# The server services no check and no cohort reads: they run unless a server is told otherwise.
# Each writes to the database on a loop (a SQLite write lock waited for can last Prefect's
# 60 s busy timeout: the late-runs service, marking waiting runs Late while a worker took them,
# once stalled every worker) and costs CPU while the server waits: an idle server used 0.035
# of a core with them, 0.024 without (measured). The checks schedule a deployment's runs
# themselves (prefect_api.schedule_and_count); automations (the triggers) stay on.
UNUSED_SERVICES = ("late_runs", "scheduler", "foreman", "pause_expirations", "repossessor", "cancellation_cleanup", "db_vacuum")


def services_environment(services_off: tuple[str, ...]) -> dict[str, str]:
    """The environment that turns Prefect's server services `services_off` off."""
    return {f"PREFECT_SERVER_SERVICES_{name.upper()}_ENABLED": "false" for name in services_off}


class ServerError(Hw3Error):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_template() -> Path:
    return settings.current().cache_dir / "prefect-db" / f"prefect-{version('prefect')}.db"


def _migrated(database: Path) -> bool:
    """Whether `database` is an SQLite database that Prefect's migrations have run on."""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            return connection.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
    except sqlite3.Error:
        return False


def _keep_as_template(database: Path, template: Path) -> None:
    """Copy a server's database (consistent while it runs) to `template`, whole or not at all."""
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=template.parent, prefix=f".{template.name}.", suffix=".part")
        os.close(handle)
    except OSError:  # no cache folder to keep it in: each server makes its tables itself
        return
    try:
        with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(temporary)) as copy:
            source.backup(copy)
        os.replace(temporary, template)
    except (OSError, sqlite3.Error):  # the next server makes its tables itself
        Path(temporary).unlink(missing_ok=True)


def _local_host(host: str) -> str:
    """Where this machine reaches a server bound to `host` (all addresses: the loopback one)."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class PrefectServer:
    def __init__(self, home: Path, services_off: tuple[str, ...] = UNUSED_SERVICES, database_url: str | None = None,
                 host: str = "127.0.0.1", port: int | None = None):
        """A server in `home`, without the services named in `services_off` (by default those no
        check reads: UNUSED_SERVICES), on `database_url` (default: a fresh SQLite database in
        `home`), bound to `host` and `port` (default: a free port)."""
        self.home = Path(home)
        self.services_off = services_off
        self.database_url = database_url
        self.host = host
        self.port = port
        self.process: subprocess.Popen | None = None
        self.api_url: str | None = None
        self._migrates = True  # whether its database is made and migrated as it starts

    def start(self, timeout: float | None = None) -> str:
        """Start the server (unless `launch` did, and it was not stopped since) and wait until it
        is healthy; return its API URL."""
        if self.process is None or self.process.returncode is not None:
            self.launch()
        timeout = timeout or settings.current().check_server_timeout_s
        try:
            url = self._wait(timeout)
        except ServerError:
            if self.database_url or self._migrates:
                raise
            for path in (_database_template(), *self.home.glob("prefect.db*")):  # not a database this Prefect takes
                path.unlink(missing_ok=True)
            self._spawn(migrate=True)
            url = self._wait(timeout)
        if self._migrates and not self.database_url:  # made and migrated its tables: the next servers copy them
            _keep_as_template(self.home / "prefect.db", _database_template())
        return url

    def launch(self) -> PrefectServer:
        """Start the server's process on an empty database, without waiting for it to answer
        (`start` waits); `api_url` is where it will."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.database_url:  # the database's own: no SQLite template
            self._spawn(migrate=True)
            return self
        database, template = self.home / "prefect.db", _database_template()
        for path in self.home.glob("prefect.db*"):  # a server starts empty (a slot's did hold the last submission's)
            path.unlink()
        made = template.is_file() and _migrated(template)  # by this Prefect version: nothing to migrate
        if made:
            shutil.copyfile(template, database)
        self._spawn(migrate=not made)
        return self

    def _spawn(self, migrate: bool) -> None:
        self._migrates = migrate
        port = self.port or _free_port()
        env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_UI_ENABLED="false",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_API_DATABASE_MIGRATE_ON_START=str(migrate).lower(),
            **services_environment(self.services_off),
        )
        if self.database_url:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.database_url
        argv = [sys.executable, "-m", "prefect", "server", "start", "--host", self.host, "--port", str(port)]
        log = open(self.home / "server.log", "wb")
        self.process = subprocess.Popen(
            argv, env=env, cwd=self.home, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.api_url = f"http://{_local_host(self.host)}:{port}/api"

    def _wait(self, timeout: float) -> str:
        """Wait until the launched server is healthy; its API URL."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise ServerError(f"the Prefect server exited with code {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2, verify=tls.context()).status_code == 200:
                    return self.api_url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ServerError(f"the Prefect server did not answer within {timeout:g} s: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return (self.home / "server.log").read_text(errors="replace")[-LOG_TAIL:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


@contextmanager
def prefect_server(api_url: str | None, home: Path, *, what: str = "the checks", launched: PrefectServer | None = None):
    """Yield the API URL to use: `api_url` if given, else that of the server `launched`
    ahead, else of one started in `home`, for the time of the block (stopped after it). The
    one way the package gets a server."""
    if api_url:
        yield api_url.rstrip("/")
        return
    server = launched or PrefectServer(home)
    try:
        url = server.start()
    except ServerError as exc:
        raise Hw3Error(f"the Prefect server for {what} did not start: {exc}") from exc
    try:
        yield url
    finally:
        server.stop()
