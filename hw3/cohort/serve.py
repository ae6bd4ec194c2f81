"""`hw3 server start`: the instructor's Prefect server, for grading a cohort on many machines.

It runs in the foreground until SIGTERM or Ctrl-C, on PostgreSQL (--database
postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE, which many workers can share) or on a
fresh SQLite database in --home. It makes the process work pool --pool and prints the server's
URL, the command that starts a worker on each grading machine and the `hw3 grade` command
that hands the cohort to them. The server has no login: bind it (--host) only where the
grading machines alone can reach it.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
from pathlib import Path

from hw3 import settings
from hw3.errors import Hw3Error

DATABASE_SCHEMES = ("postgresql+asyncpg://", "sqlite+aiosqlite://")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class _Stop(BaseException):
    """SIGTERM or SIGINT arrived (not an Exception: no handler of one takes it for an error)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    server = subparsers.add_parser("server", help="the instructor's Prefect server, for grading on many machines",
                                   description=__doc__.split("\n\n")[0])
    commands = server.add_subparsers(dest="server_command", required=True, metavar="COMMAND")
    parser = commands.add_parser("start", help="start the server and wait (until SIGTERM or Ctrl-C)",
                                 description=__doc__.split("\n\n")[1])
    parser.add_argument("--database", metavar="URL", help="postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE "
                        "(default: a fresh SQLite database in --home)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 for the grading machines "
                        "(default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=4200, help="port (default: %(default)s)")
    parser.add_argument("--pool", default="graders", help="the process work pool the workers take runs from "
                        "(default: %(default)s)")
    parser.add_argument("--home", type=Path, help="the server's PREFECT_HOME, log and SQLite database "
                        "(default: instructor-server in the cache folder, HW3_CACHE_DIR or ~/.cache/hw3)")
    parser.set_defaults(run=run)


def check_database(url: str | None) -> None:
    """A one-line Hw3Error unless `url` is a database URL the server takes."""
    if url is not None and not url.startswith(DATABASE_SCHEMES):
        scheme = url.partition("://")[0] or url
        raise Hw3Error(f"--database {scheme!r}: use postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE "
                       "(or sqlite+aiosqlite:///FILE)")


def check_port_free(host: str, port: int) -> None:
    """A one-line Hw3Error if `port` of `host` is taken (a server there would answer our probes)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own socket
            sock.bind(address)
    except OSError as exc:
        raise Hw3Error(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc}); "
                       "is a server running already? choose another --port") from None


def _tail(text: str, lines: int = 3) -> str:
    """The last lines of a log, on one line."""
    last = [line.strip()[:300] for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(last) or "(empty log)"


def public_url(host: str, port: int) -> str:
    """The API URL the grading machines use."""
    name = socket.gethostname() if host in ("", "0.0.0.0", "::") else host
    return f"http://{f'[{name}]' if ':' in name else name}:{port}/api"


def run(args: argparse.Namespace) -> int:
    from hw3.grading.server import PrefectServer, ServerError

    check_database(args.database)
    if not 0 < args.port < 65536:
        raise Hw3Error(f"--port {args.port}: a port is 1-65535")
    check_port_free(args.host, args.port)
    home = (args.home or settings.current().cache_dir / "instructor-server").resolve()
    server = PrefectServer(home, database_url=args.database, host=args.host, port=args.port)

    def stop(signum, frame):
        raise _Stop

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            local = server.start()
        except ServerError as exc:
            reason = str(exc).split(":", 1)[0]  # "the Prefect server exited with code 1", "... did not answer ..."
            raise Hw3Error(f"{reason} (log: {home / 'server.log'}): {_tail(server.log_tail())}") from None
        try:
            from hw3.grading import prefect_api

            settings.prefect_environment()
            prefect_api.ensure_work_pool(local, args.pool)
        except Hw3Error:
            raise
        except Exception as exc:  # noqa: BLE001 - the server answered but refused the pool
            raise Hw3Error(f"the work pool {args.pool!r} could not be made on {local}: {exc}") from None
        url = public_url(args.host, args.port)
        print(f"server: {url}", flush=True)
        if args.host in LOCAL_HOSTS:
            print("  (reachable only from this machine: `--host 0.0.0.0` lets the grading machines in)", flush=True)
        print(f"on each grading machine (where hw3 is installed):\n"
              f"  PREFECT_API_URL={url} prefect worker start --pool {args.pool} --type process --limit 1\n"
              f"then on this machine:\n"
              f"  hw3 grade --cohort DIR --work-pool {args.pool} --prefect-api-url {url}\n"
              f"(log: {home / 'server.log'}; SIGTERM or Ctrl-C stops the server)", flush=True)
        while server.process.poll() is None:
            try:
                server.process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        raise Hw3Error(f"the Prefect server exited with code {server.process.returncode}: {_tail(server.log_tail())}")
    except _Stop:
        print("stopping the server", file=sys.stderr, flush=True)
        return 0
    finally:
        for sig in previous:  # a second signal does not interrupt the stop (at most ~10 s)
            signal.signal(sig, signal.SIG_IGN)
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
