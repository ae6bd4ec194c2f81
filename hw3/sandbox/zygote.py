"""A warm interpreter for the probes of one grading session: a fork server ("zygote").

    python -I -B zygote.py [MODULE ...]

Started once per session inside one wall (hw3/sandbox/warm.py, `Zygote`), it imports the
MODULEs (Prefect, pandas, scikit-learn: seconds of CPU that every fresh probe would spend
again), makes the TLS context Prefect's client asks for (share_tls_contexts) and loads
probe.py as a module; then each probe is a fork of it rather than a new interpreter.
Standard library only, like probe.py, whose job it runs unchanged (certifi, for its
bundle, where Prefect brought it).

One JSON object a line:

    stdin   {"id", "argv": [probe.py, REQUEST, RESULT], "cwd", "env", "stdout", "stderr", "timeout"}
            {"go": id}               the grader has put that child where it belongs (a pids cgroup)
            {"clean": true}          the next submission comes: end every child, empty the wall
    stdout  {"ready": true}          once, when the modules are imported
            {"id", "pid"}            forked (its PID here); it waits for "go"
            {"id", "returncode"}     it ended (a negative code: killed by that signal)
            {"id", "timeout": true}  it ran out of its time and was killed
            {"cleaned": true}        no child is left, nor anything they kept in /tmp, /dev/shm
                                     or System V IPC (a zygote kept between submissions)

A child becomes a process group of its own, runs in the run's folder with the run's
environment and output files, and leaves with os._exit once Prefect's log and event workers
have sent what they hold; at its timeout the zygote kills its whole group. The zygote itself
never runs a submission's code and has no thread when it forks. Inside the wall it is PID 1
of the wall's namespace (bwrap --as-pid-1), so that, as with bwrap's own init in a probe's
wall, no signal of a child reaches it and every process of the wall ends with it; the API
relay (relay.py) runs in a process of its own, forked before anything else.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import importlib.util
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
RELAY_ENV = "HW3_API_RELAY"  # "<socket>:<port>[;...]": relay.py's child side, served for every child
POLL_S = 0.05  # how often the zygote looks for ended children and timeouts
DRAIN_S = 30.0  # at most, for Prefect's log and event workers to send what they hold at a child's end (a loaded machine is slow)
WORKERS = (("prefect.logging.handlers", "APILogWorker"), ("prefect.events.worker", "EventsWorker"))


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def start_relay() -> None:
    """Serve the grader's API (and its other relayed ports) on this wall's 127.0.0.1 from a
    process of its own (relay.py's threads must not be in the process that forks)."""
    pairs = os.environ.pop(RELAY_ENV, "")
    if not pairs or os.fork():
        return
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        relay = _load("hw3_relay", HERE / "relay.py")
        for pair in pairs.split(";"):
            path, port = pair.rsplit(":", 1)
            relay.serve_tcp(path, int(port))
        threading.Event().wait()
    finally:
        traceback.print_exc()
        os._exit(1)


def preload(modules: list[str]) -> None:
    """Import what every probe of the session needs; a module that fails is left to the
    probe, which imports it again and says why."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass


def share_tls_contexts() -> None:
    """Make each TLS context once, here, for every child. Prefect's client makes one for each
    client it builds (about 50 ms of CPU: every trusted certificate loaded), a flow run
    several; the children reach the API over plain HTTP (relay.py), and the context they
    share is the one each would have made, with the same arguments. The one Prefect's client
    asks for (certifi's bundle) is made before the children are forked."""
    import ssl

    plain, made = ssl.create_default_context, {}

    @functools.wraps(plain)
    def create_default_context(purpose=ssl.Purpose.SERVER_AUTH, *, cafile=None, capath=None, cadata=None):
        key = (purpose, cafile, capath, cadata)
        if key not in made:
            made[key] = plain(purpose, cafile=cafile, capath=capath, cadata=cadata)
        return made[key]

    ssl.create_default_context = create_default_context
    with contextlib.suppress(ImportError, OSError, ssl.SSLError):
        import certifi

        create_default_context(cafile=certifi.where())


def reply(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def exit_code(exc: SystemExit) -> int:
    """The code the interpreter would have exited with for an uncaught SystemExit."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=sys.stderr)
    return 1


def drain() -> None:
    """Let Prefect's log and event workers send what they hold (the checks read the flow
    run's logs), as they would at the interpreter's exit."""
    for module, name in WORKERS:
        worker = getattr(sys.modules.get(module), name, None)
        if worker is not None:
            try:
                worker.drain_all(timeout=DRAIN_S)
            except Exception:
                traceback.print_exc()


def child(probe, request: dict) -> int:
    """In the forked child: become the run's process (its folder, environment and output
    files), run the probe's job and return its exit code."""
    for fd, opened in ((0, os.open(os.devnull, os.O_RDONLY)),
                       (1, os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)),
                       (2, os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))):
        os.dup2(opened, fd)
        os.close(opened)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    tempfile.tempdir = None  # found again from TMPDIR
    if "numpy" in sys.modules:  # a fresh seed, as a fresh interpreter has (random reseeds itself at a fork)
        sys.modules["numpy"].random.seed()
    if "prefect.context" in sys.modules:  # Prefect keeps the settings it read at import: read them again
        sys.modules["prefect.context"].refresh_global_settings_context()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = list(request["argv"])
    sys.modules["__main__"] = probe  # as for the probe run as a script
    try:
        code = probe.main(sys.argv)
    except SystemExit as exc:
        code = exit_code(exc)
    except BaseException:
        traceback.print_exc()
        code = 1
    drain()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return code


class Zygote:
    """The loop: fork a child for each request, let it go, reap it, kill it at its timeout."""

    def __init__(self, probe):
        self.probe = probe
        self.held: dict[str, tuple[int, int]] = {}  # id -> (pid, write end of its "go" pipe)
        self.running: dict[int, dict] = {}  # pid -> {"id", "timeout", "deadline", "killed"}

    def fork(self, request: dict) -> None:
        go_read, go_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                os.close(go_write)
                for _, write_end in self.held.values():
                    os.close(write_end)
                os.setsid()
                if os.read(go_read, 1):  # else the zygote went away: nothing to run for
                    code = child(self.probe, request)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(go_read)
        self.held[request["id"]] = (pid, go_write)
        self.running[pid] = {"id": request["id"], "timeout": request["timeout"], "deadline": None, "killed": False}
        reply({"id": request["id"], "pid": pid})

    def go(self, run_id: str) -> None:
        pid, go_write = self.held.pop(run_id, (None, None))
        if pid in self.running:  # else it ended already (and was reported)
            os.write(go_write, b"1")
            self.running[pid]["deadline"] = time.monotonic() + self.running[pid]["timeout"]
        if go_write is not None:
            os.close(go_write)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            run = self.running.pop(pid, None)  # else: an orphan of the wall, or the relay
            if run:
                self.kill(pid)  # what it left behind goes too, as with a fresh probe's wall
                reply({"id": run["id"], "timeout": True} if run["killed"] else
                      {"id": run["id"], "returncode": os.waitstatus_to_exitcode(status)})

    def kill_late(self) -> None:
        now = time.monotonic()
        for pid, run in self.running.items():
            if run["deadline"] is not None and now > run["deadline"] and not run["killed"]:
                run["killed"] = True
                self.kill(pid)

    @staticmethod
    def kill(pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def clean(self) -> None:
        """End every child (with its group), and empty what the wall keeps between runs:
        nothing of one submission's runs is left for the next one's."""
        for run_id in list(self.held):
            self.go(run_id)  # a held child that gets no "go" ends
        for pid in list(self.running):
            self.kill(pid)
        deadline = time.monotonic() + DRAIN_S
        while self.running and time.monotonic() < deadline:
            self.reap()
            time.sleep(POLL_S)
        for folder in (Path("/tmp"), Path("/dev/shm")):
            for entry in folder.iterdir() if folder.is_dir() else ():
                remove(entry)
        remove_ipc()
        reply({"cleaned": True})

    def serve(self) -> None:
        pending = b""
        while True:
            if select.select([0], [], [], POLL_S)[0]:
                data = os.read(0, 65536)
                if not data:
                    break
                *lines, pending = (pending + data).split(b"\n")
                for line in filter(None, lines):
                    message = json.loads(line)
                    if "go" in message:
                        self.go(message["go"])
                    elif message.get("clean"):
                        self.clean()
                    else:
                        self.fork(message)
            self.reap()
            self.kill_late()
        for pid in self.running:  # the grader is done: nothing of the session outlives it
            self.kill(pid)


def remove(path: Path) -> None:
    """Remove a file or a whole tree, whatever modes a child gave its folders."""
    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(OSError):
            path.unlink()
        return

    def writable(function, name, _):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), 0o700)
            os.chmod(name, 0o700)
            function(name)

    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    shutil.rmtree(path, onerror=writable)


def remove_ipc() -> None:
    """Remove the System V shared memory, semaphores and message queues of this wall."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    removers = {"shm": lambda i: libc.shmctl(i, 0, None), "sem": lambda i: libc.semctl(i, 0, 0), "msg": lambda i: libc.msgctl(i, 0, None)}
    for kind, remove_one in removers.items():  # 0: IPC_RMID
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            remove_one(int(line.split()[1]))


def not_dumpable() -> None:
    """Keep the children (same user, no capability) from tracing this process or reading its
    memory (/proc/1/mem): what they would change there would reach their siblings' runs."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):  # not Linux: no wall either
        pass


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as PID 1, no handler: no child's signal reaches it
    not_dumpable()
    start_relay()
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the grader's
        preload(argv[1:])
    share_tls_contexts()
    probe = _load("hw3_probe", HERE / "probe.py")
    if threading.active_count() > 1:  # a fork would copy their locks, not the threads
        print(f"the modules started threads ({threading.enumerate()}): the zygote may not fork", file=sys.stderr)
        return 1
    gc.freeze()  # what is loaded stays out of the children's collections (full ones would scan it all) and unwritten
    reply({"ready": True})
    Zygote(probe).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
