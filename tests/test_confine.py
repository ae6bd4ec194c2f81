"""The operating system's wall (hw3/sandbox/confine.py): a submission's code that walks
past the audit hook (ctypes, pyarrow.fs, libc's system and posix_spawn, raw sockets) finds
nothing outside its own folder, reaches no listener, writes nothing outside, and cannot fork
without bound; the grader keeps working and a control canary in its own folder stays readable.
Where bubblewrap cannot run, the checks say so and a cohort is refused unless --unconfined."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from submissions import PROJECT_ROOT, grade, make_submission

from submissions import FLOWS_JOBS
from hw3.sandbox import confine
from hw3.sandbox.runner import Sandbox, run_probe

pytestmark = pytest.mark.skipif(confine.bwrap() is None, reason="bubblewrap cannot run on this machine")

# Each attack returns what it found; None when the wall held. It never raises: a submission
# whose attacks fail silently must still be graded as usual.
ATTACKS = """
import ctypes, os, socket
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p


def by_ctypes(path):
    handle = libc.fopen(path.encode(), b"r")
    return path if handle else None


def by_pyarrow(path):
    try:
        import pyarrow.fs
        return pyarrow.fs.LocalFileSystem().open_input_stream(path).read(20).decode(errors="replace")
    except Exception:
        return None


def by_system(path):
    return path if libc.system(f"cat {path} > /dev/null 2>&1".encode()) == 0 else None


def by_spawn(path):
    return path if libc.system(f"/bin/sh -c 'test -r {path}'".encode()) == 0 else None


def by_socket(port):
    sock = libc.socket(2, 1, 0)  # AF_INET, SOCK_STREAM, past the audit hook
    address = (ctypes.c_ubyte * 16)(2, 0, port >> 8, port & 255, 127, 0, 0, 1)
    return port if libc.connect(sock, address, 16) == 0 else None


def write_outside(path):
    libc.system(f"echo escaped > {path} 2>/dev/null".encode())
    return None
"""


def attacker(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    code = ATTACKS + "\n\ndef get_paths(date):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    (folder / "homework.py").write_text(code)
    return folder


def found(tmp_path: Path, body: str, **request) -> str:
    target = attacker(tmp_path / "target", body)
    result = run_probe("get_paths", target, Sandbox(tmp_path / "sandbox", ""), jobs=FLOWS_JOBS, dates=["2021-08-15"], frozen_days=[], timeout=120)
    assert result.ok, result.reason
    call = result.data["dates"]["2021-08-15"]
    assert "paths" in call, call
    return call["paths"][0]


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file outside the submission: the key, solutions/, another submission."""
    path = tmp_path / "instructor" / "key.json"
    path.parent.mkdir()
    path.write_text('{"q1": "answer"}')
    return path


@pytest.mark.parametrize("attack", ["by_ctypes", "by_pyarrow", "by_system", "by_spawn"])
def test_a_read_outside_finds_nothing_but_its_own_canary(tmp_path, secret, attack):
    outside = [str(secret), str(PROJECT_ROOT / "solutions" / "homework.py"), os.path.expanduser("~/.bashrc")]
    body = f"""
    canary = os.path.join(os.path.dirname(__file__), "canary.txt")
    return (repr([{attack}(p) for p in {outside!r}]), repr({attack}(canary)))
    """
    target = attacker(tmp_path / "target", body)
    (target / "canary.txt").write_text("mine")
    result = run_probe("get_paths", target, Sandbox(tmp_path / "sandbox", ""), jobs=FLOWS_JOBS, dates=["2021-08-15"], frozen_days=[], timeout=120)
    outside_found, canary = result.data["dates"]["2021-08-15"]["paths"]
    assert outside_found == "[None, None, None]"
    assert canary != "None"  # the control: its own folder is readable


def test_another_submission_of_a_cohort_is_not_there(tmp_path):
    other = make_submission(tmp_path / "cohort" / "bob")
    body = f"return (repr([by_ctypes({str(other / 'homework.py')!r}), by_system({str(other / 'answers.toml')!r})]), 'x')"
    assert found(tmp_path, body) == "[None, None]"


def test_no_listener_on_the_graders_loopback_is_reached(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        assert found(tmp_path, f"return (repr(by_socket({port})), 'x')") == "None"


def test_nothing_is_written_outside(tmp_path):
    escape = tmp_path / "escaped.txt"
    found(tmp_path, f"write_outside({str(escape)!r})\nreturn ('x', 'y')")
    assert not escape.exists()


def test_a_fork_bomb_is_capped_and_the_grader_goes_on(tmp_path):
    body = """
    import time
    n = 0
    for _ in range(5000):
        pid = libc.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        if pid < 0:
            break
        n += 1
    return (str(n), 'x')
    """
    forks = int(found(tmp_path, body))
    assert forks < 200
    assert subprocess.run([sys.executable, "-c", "print('still here')"], capture_output=True, text=True).stdout == "still here\n"


def test_the_reference_with_attacks_that_fail_silently_gets_full_marks(prefect_api_url, tmp_path, secret):
    attacks = (ATTACKS + f"\nfor _read in (by_ctypes, by_pyarrow, by_system, by_spawn):\n    _read({str(secret)!r})\n"
               f"by_socket(1)\nwrite_outside({str(tmp_path / 'escaped.txt')!r})\n")
    submission = make_submission(tmp_path / "submission", {"homework.py": [("import datetime\n", "import datetime\n" + attacks)]})
    run = grade(submission, tmp_path / "work", prefect_api_url)
    assert run.results["score"] == 10, json.dumps(run.results["extra_data"])
    assert not (tmp_path / "escaped.txt").exists()


def test_without_the_wall_the_checks_say_so_and_a_cohort_needs_unconfined(tmp_path):
    (tmp_path / "cohort" / "alice").mkdir(parents=True)
    env = {**os.environ, confine.DISABLE_ENV: "1", "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-m", "hw3.cli", "grade", "--cohort", str(tmp_path / "cohort")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "pass --unconfined to grade anyway" in done.stderr
    probe = subprocess.run([sys.executable, "-c", "from hw3.sandbox import confine; print(confine.reduced())"],
                           cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == confine.REDUCED


WIPER = """    import threading, time
    import prefect.runtime
    from prefect import get_client

    def _wipe_the_others():
        for _ in range(60):
            try:
                with get_client(sync_client=True) as client:
                    for run in client.read_flow_runs(limit=200):
                        if str(run.id) != str(prefect.runtime.flow_run.id):
                            client.delete_flow_run(run.id)
            except Exception:
                pass
            time.sleep(0.5)

    threading.Thread(target=_wipe_the_others, daemon=True).start()
    logger = get_run_logger()
    day = run_date(date)
"""


@pytest.mark.slow
def test_a_submission_cannot_delete_the_flow_runs_of_one_graded_beside_it(tmp_path):
    """`hw3 grade --cohort --workers 2` gives each submission graded at a time a server of its own:
    one that deletes every flow run it can see through the API reaches only its own."""
    from submissions import reference_key_file

    cohort = tmp_path / "cohort"
    make_submission(cohort / "attacker", {"homework.py": [("    logger = get_run_logger()\n    day = run_date(date)\n", WIPER)]})
    make_submission(cohort / "victim")
    done = subprocess.run([sys.executable, "-m", "hw3.cli", "grade", "--cohort", str(cohort), "--workers", "2", "--out",
                           str(tmp_path / "grades.csv"), "--answer-key", str(reference_key_file())],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1200)
    rows = {line.split(",")[0]: line.split(",") for line in (tmp_path / "grades.csv").read_text().splitlines()[1:]}
    assert rows["victim"][7] == "10", done.stdout[-3000:]
