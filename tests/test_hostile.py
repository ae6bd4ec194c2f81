"""Hostile submissions: what a submission's code may try in its child process, and that each
attempt costs the submission only, with a clear reason.

The first part runs the probe on one homework.py at a time (fast); the last part grades whole
hostile submissions as a cohort on one Prefect server and checks that each loses exactly the
questions its hostile part touches, with the reason in the grade.
"""

from __future__ import annotations

import os
import signal
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from submissions import FLOWS_JOBS
from hw3.sandbox import confine
from hw3.sandbox.runner import PROTECT_ENV, Sandbox, run_probe
from hw3.layout import PROJECT_ROOT


def probe(tmp_path: Path, homework: str, job: str = "get_paths", **request):
    """Run one probe job on a homework.py made of `homework`; the data folder holds one file."""
    target = tmp_path / "target"
    target.mkdir(exist_ok=True)
    (target / "homework.py").write_text(textwrap.dedent(homework))
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "fhv_tripdata_2021-06.parquet").write_bytes(b"PAR1 stand-in PAR1")
    sandbox = Sandbox(tmp_path / "sandbox", api_url="", data_files=(data / "fhv_tripdata_2021-06.parquet",))
    if job == "get_paths":
        request = {"dates": ["2021-08-15"], "frozen_days": [], **request}
    return run_probe(job, target, sandbox, jobs=FLOWS_JOBS, **request)


def call_error(result) -> str:
    """What get_paths('2021-08-15') raised, as the probe reported it."""
    assert result.ok, result.reason
    return result.data["dates"]["2021-08-15"].get("error", "")


def attempt(code: str) -> str:
    """A homework.py whose get_paths runs `code` and returns two paths."""
    body = textwrap.indent(textwrap.dedent(code), "    ")
    return f"import os, pathlib, shutil, signal, socket, subprocess, sys\n\ndef get_paths(date):\n{body}\n    return ('a', 'b')\n"


# -- network ---------------------------------------------------------------------------------


def test_network_is_refused_but_loopback_is_not(tmp_path):
    result = probe(tmp_path, attempt("socket.create_connection(('example.com', 80), timeout=5)"))
    assert call_error(result).startswith(
        "raised PermissionError: the checks do not allow network access (example.com:80); only the checks' Prefect server"
    )
    assert "(homework.py, line 4, in get_paths)" in call_error(result)

    with socket.create_server(("127.0.0.1", 0)) as server:  # a listener of the grader's machine
        port = server.getsockname()[1]
        threading.Thread(target=lambda: server.accept()[0].close(), daemon=True).start()
        result = probe(tmp_path, attempt(f"socket.create_connection(('127.0.0.1', {port}), timeout=5).close()"))
    # the audit hook lets loopback be; the wall (tests/test_confine.py) leaves the child a loopback of its own
    assert not call_error(result).startswith("raised PermissionError")
    assert call_error(result) == ("raised ConnectionRefusedError: [Errno 111] Connection refused (homework.py, line 4, in get_paths)"
                                  if confine.bwrap() else "")


def test_a_raw_address_is_refused_too(tmp_path):
    result = probe(tmp_path, attempt("s = socket.socket(); s.settimeout(5); s.connect(('93.184.216.34', 443))"))
    assert "the checks do not allow network access (93.184.216.34:443)" in call_error(result)


# -- what the submission may read and change ---------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [PROJECT_ROOT / "solutions" / "homework.py", PROJECT_ROOT / "hw3" / "grading" / "gradebook.py", PROJECT_ROOT / "checks" / "flows" / "catalogue.toml"],
    ids=["reference", "checks", "catalogue"],
)
def test_the_project_cannot_be_read(tmp_path, path):
    result = probe(tmp_path, attempt(f"open({str(path)!r}).read()"))
    assert call_error(result).startswith(f"raised PermissionError: the checks do not allow reading {path}")


def test_the_checks_cannot_be_imported_even_from_the_probes_own_path(tmp_path):
    result = probe(tmp_path, attempt("sys.path.insert(0, str(pathlib.Path(sys.argv[0]).parents[2]))\nimport hw3.grading.gradebook"))
    assert call_error(result).startswith("raised ModuleNotFoundError: No module named 'hw3'")  # the finder may not look
    # without the wall the audit hook refuses the project; within it the project is not there at all
    assert result.data["refused"] == ([] if confine.bwrap() else [f"reading {PROJECT_ROOT}"])


def test_the_key_and_the_request_are_secret(tmp_path, monkeypatch):
    key = tmp_path / "elsewhere" / "key.json"
    key.parent.mkdir()
    key.write_text('{"answers": {}}')
    monkeypatch.setenv(PROTECT_ENV, str(key))
    result = probe(tmp_path, attempt(f"open({str(key)!r}).read()"))
    assert call_error(result).startswith(f"raised PermissionError: the checks do not allow reading {key}")
    result = probe(tmp_path, attempt("open(sys.argv[1]).read()"))  # the request names the key
    assert "the checks do not allow reading" in call_error(result) and "get_paths.request.json" in call_error(result)
    assert key.read_text() == '{"answers": {}}'


def test_a_symlink_does_not_get_around_it(tmp_path):
    result = probe(tmp_path, attempt(f"os.symlink({str(PROJECT_ROOT / 'solutions')!r}, 'ref')\nopen('ref/homework.py').read()"))
    assert f"the checks do not allow reading {PROJECT_ROOT / 'solutions' / 'homework.py'}" in call_error(result)


def test_the_submission_cannot_be_changed_but_the_working_directory_and_its_data_copy_can(tmp_path):
    code = """
    pathlib.Path('scratch.txt').write_text('mine')
    os.remove(os.path.join(os.environ['HW3_DATA_DIR'], 'fhv_tripdata_2021-06.parquet'))
    shutil.rmtree(os.getcwd())
    """
    result = probe(tmp_path, attempt(code))
    assert call_error(result) == ""  # its own copy of the data, in its own working directory
    assert (tmp_path / "data" / "fhv_tripdata_2021-06.parquet").is_file() and not (tmp_path / "sandbox" / "work").exists()

    result = probe(tmp_path, attempt("open(__file__, 'w').write('x = 1')"))
    assert f"the checks do not allow writing {tmp_path / 'target' / 'homework.py'}" in call_error(result)
    result = probe(tmp_path, attempt("os.remove(sys.argv[2])"))  # its own report
    assert "the checks do not allow changing" in call_error(result) and "get_paths.result.json" in call_error(result)


# -- processes and signals ---------------------------------------------------------------------


def test_signalling_the_grader_is_refused(tmp_path):
    result = probe(tmp_path, "import os, signal\nos.kill(os.getppid(), signal.SIGTERM)\n")
    if confine.bwrap():  # in its own PID namespace the grader is not even there to signal
        assert result.reason == "homework.py has no get_paths()"
    else:
        assert result.reason.startswith("importing homework.py raised PermissionError: the checks do not allow signalling process")
        assert result.reason.endswith("(homework.py, line 2, in <module>)")
        result = probe(tmp_path, attempt("os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)"))
        assert "the checks do not allow signalling process" in call_error(result)
    result = probe(tmp_path, attempt("os.kill(-1, signal.SIGKILL)"))
    assert "the checks do not allow signalling process -1" in call_error(result)
    os.kill(os.getpid(), 0)  # this process, the grader, is still here


def test_its_own_signals_go_through(tmp_path):
    result = probe(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert result.reason == "was killed by SIGKILL (a child may use at most 6144 MB of memory; HW3_CHECK_MEMORY_MB changes that) while importing homework.py"


@pytest.mark.parametrize(
    "code", ["subprocess.run(['kill', str(os.getppid())])", "os.system('true')", "os.fork()", "os.execv('/bin/true', ['true'])"]
)
def test_processes_are_refused(tmp_path, code):
    result = probe(tmp_path, attempt(code))
    assert "raised PermissionError: the checks do not allow starting a process" in call_error(result)


# -- exits, time, memory, output ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("homework", "reason"),
    [
        ("import os\nos._exit(3)\n", "exited with code 3 while importing homework.py"),
        ("import sys\nsys.exit(3)\n", "exited with code 3 while importing homework.py"),
        ("raise RuntimeError('no data here')\n", "importing homework.py raised RuntimeError: no data here (homework.py, line 1, in <module>)"),
        ("while True:\n    pass\n", "timed out after 4 s while importing homework.py"),
    ],
)
def test_exits_and_loops_at_import(tmp_path, homework, reason):
    result = probe(tmp_path, homework, timeout=4)
    assert (result.outcome, result.reason) == ("failed", reason)


def test_printing_megabytes_is_kept_short(tmp_path):
    code = "for _ in range(50_000):\n    print('y' * 999)\nos.write(1, b'z' * 30_000_000)\nsys.stderr.write('e' * 10_000_000)"
    result = probe(tmp_path, attempt(code), timeout=60)
    assert call_error(result) == ""
    printed = ("y" * 999 + "\n") * 50_000
    assert result.stdout == printed[:20_000] + "\n[... 49,980,000 more characters printed, not kept]\n"
    assert 20_000 < len(result.stderr) < 20_100 and result.stderr.startswith("[... the first 9,980,000 bytes not kept]")
    assert (tmp_path / "sandbox" / "python.stdout.txt").stat().st_size == 30_000_000  # fd 1 goes to a file


def test_a_huge_file_is_cut_short(tmp_path, monkeypatch):
    monkeypatch.setattr("hw3.sandbox.runner.FILE_MB", 5)
    result = probe(tmp_path, "with open('big', 'wb') as f:\n    f.write(b'0' * 20_000_000)\n")
    assert result.reason == (
        "importing homework.py raised OSError: [Errno 27] File too large (homework.py, line 2, in <module>) "
        "(a child may write files of at most 5 MB; HW3_CHECK_FILE_MB changes that)"
    )
    assert (tmp_path / "sandbox" / "work" / "big").stat().st_size <= 5 * 1024 * 1024


def test_refusals_are_named_even_when_the_code_hides_them(tmp_path):
    homework = "import socket\ntry:\n    socket.create_connection(('example.com', 443))\nexcept OSError:\n    pass\nraise SystemExit(4)\n"
    result = probe(tmp_path, homework)
    assert result.reason == (
        "exited with code 4 while importing homework.py (the checks refused network access (example.com:443); "
        "only the checks' Prefect server on 127.0.0.1 is reachable)"
    )


def test_a_long_reason_is_wrapped_in_the_grade_table_with_its_location_kept():
    from hw3.grading.gradebook import FAILED, TABLE_WIDTH, Gradebook
    from hw3 import catalogue

    book = Gradebook(catalogue.load())
    book.record("Q1", "test_q1_flow_prints_nothing", FAILED, "raised ValueError: " + "word " * 300 + "(homework.py, line 7, in main)")
    lines = book.report_lines()
    assert all(len(line) <= TABLE_WIDTH for line in lines)
    assert "(homework.py, line 7, in main)" in " ".join(lines)


# -- whole hostile submissions, graded as a cohort ----------------------------------------------

# A wrong cron that makes the probe (its own process) report the right one.
FORGED_CRON = """CRON = "9 15 * * *"
import __main__
_write = __main__.Report.write


def _forged(self):
    if "cron" in self.fields:
        self.fields["cron"] = "0 9 15 * *"
    _write(self)


__main__.Report.write = _forged
"""

# name -> (edits of the reference, the questions it must cost, a text each lost question's output has)
HOSTILE = {
    "loops-in-register": (
        {"deployment.py": [('    main = Flow.from_source(', '    while True:\n        pass\n    main = Flow.from_source(')]},
        {"Q4"}, "timed out after 60 s while calling register()",
    ),
    "exits-importing-deployment": (
        {"deployment.py": [("DEPLOYMENT_NAME = ", "import os\nos._exit(3)\nDEPLOYMENT_NAME = ")]},
        {"Q4"}, "exited with code 3 while importing deployment.py",
    ),
    "sys-exit-in-get-paths-of-today": (
        {"homework.py": [("        return datetime.date.today()", "        raise SystemExit(3)")]},
        {"Q2", "Q3"}, "exited with code 3 while",
    ),
    "kills-the-grader": (  # in its own PID namespace its parent is out of its reach: it gets nothing
        {"deployment.py": [("DEPLOYMENT_NAME = ", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nDEPLOYMENT_NAME = ")]},
        set() if confine.bwrap() else {"Q4"}, "importing deployment.py raised PermissionError: the checks do not allow signalling process",
    ),
    "reads-the-reference": (
        {"deployment.py": [("DEPLOYMENT_NAME = ", f"open({str(PROJECT_ROOT / 'solutions' / 'deployment.py')!r}).read()\nDEPLOYMENT_NAME = ")]},
        {"Q4"}, "the checks do not allow reading solutions/deployment.py",  # no grader path in a reason
    ),
    "downloads-its-data": (
        {"homework.py": [("    return pd.read_parquet(path)", "    import urllib.request\n    urllib.request.urlopen('http://example.com/x.parquet', timeout=5)\n    return pd.read_parquet(path)")]},
        {"Q1", "Q2", "Q3"}, "network access (example.com:80); only the checks' Prefect server",
    ),
    "hogs-memory-in-register": (
        {"deployment.py": [('    main = Flow.from_source(', '    hog = bytearray(8 * 1024**3)\n    main = Flow.from_source(')]},
        {"Q4"}, "register() raised MemoryError",
    ),
    "prints-megabytes": (
        {"homework.py": [("    train_path, val_path = get_paths(date)", "    print('x' * 5_000_000)\n    train_path, val_path = get_paths(date)")]},
        {"Q1"}, "your flow printed ",
    ),
    "wipes-its-working-directory-and-data": (
        {"homework.py": [("    train_path, val_path = get_paths(date)", "    import shutil\n    shutil.rmtree('.', ignore_errors=True)\n    for p in pathlib.Path(data_dir()).glob('*'):\n        try:\n            p.unlink()\n        except PermissionError:\n            pass\n    train_path, val_path = get_paths(date)"),
                         ("import pickle\n", "import pathlib\nimport pickle\n")]},
        {"Q1", "Q2", "Q3"}, "no such trip file",  # its own private copies: the loss is its own
    ),
    "syntax-error": (
        {"homework.py": [("@flow\ndef main(", "@flow\ndef main(:")]},
        {"Q1", "Q2", "Q3", "Q4"}, "importing homework.py raised SyntaxError",
    ),
    "forges-its-cron-in-the-probe": (
        {"deployment.py": [('CRON = "0 9 15 * *"', FORGED_CRON)]},
        {"Q4"}, "the deployment register() made is scheduled by cron 9 15 * * *",
    ),
}


# Past the audit hook (ctypes), only where the wall stands (without it a fork bomb would reach
# the machine): the wall holds, and the attack ends in its own error, at its own cost.
if confine.bwrap():
    HOSTILE |= {
        "fork-bomb-past-the-hook": (
            {"deployment.py": [("DEPLOYMENT_NAME = ", "import ctypes, os, time\nfor _n in range(5000):\n    _pid = ctypes.CDLL(None).fork()\n"
                                                      "    if _pid == 0:\n        time.sleep(30)\n        os._exit(0)\n    if _pid < 0:\n"
                                                      "        raise RuntimeError(f'no more processes after {_n}')\nDEPLOYMENT_NAME = ")]},
            {"Q4"}, "raised RuntimeError: no more processes after",
        ),
        "reads-a-classmate-past-the-hook": (
            {"deployment.py": [("DEPLOYMENT_NAME = ", "import ctypes, pathlib\n_libc = ctypes.CDLL(None)\n_libc.fopen.restype = ctypes.c_void_p\n"
                                                      "_other = pathlib.Path(__file__).resolve().parent.parent / 'syntax-error' / 'answers.toml'\n"
                                                      "if not _libc.fopen(str(_other).encode(), b'r'):\n    raise FileNotFoundError('no classmate here')\n"
                                                      "DEPLOYMENT_NAME = ")]},
            {"Q4"}, "raised FileNotFoundError: no classmate here",
        ),
    }


@pytest.fixture(scope="module")
def hostile_grades(prefect_api_url, tmp_path_factory):
    from test_corpus import grade_cohort

    from corpus import Variant

    folder = tmp_path_factory.mktemp("hostile")
    variants = {name: Variant(name, edits) for name, (edits, _, _) in HOSTILE.items()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HW3_CHECK_TIMEOUT_S", "60")
        rows, _, output = grade_cohort(variants, folder, prefect_api_url)
    return folder, rows, output


@pytest.mark.slow
@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_submission_costs_its_questions_only(hostile_grades, name):
    import json

    from hw3 import catalogue

    folder, rows, output = hostile_grades
    _, lost, reason = HOSTILE[name]
    row = rows[name]
    course = catalogue.load()
    assert row["total"], f"{name} was not graded: {row['problem']}\n{output[-3000:]}"
    assert {q.id for q in course.questions if row[q.id] != str(q.points)} == lost, row
    results = json.loads((folder / "results" / name / "results.json").read_text())
    outputs = [test["output"] for test in results["tests"] if test["name"].split()[0] in lost]
    assert not lost or any(reason in text for text in outputs), outputs
    assert all(len(text) < 5_000 for text in outputs)


def test_deployments_of_submissions_graded_together_stay_apart(prefect_api_url, tmp_path):
    """Every submission deploys `main` as "monthly-training": on one server the checks must
    still read each submission's own schedule."""
    import shutil

    from hw3.grading import prefect_api as api

    ids, crons = [], ("0 9 15 * *", "9 15 * * *")
    for n, expression in enumerate(crons):
        target = tmp_path / f"student{n}"
        target.mkdir()
        for name in ("homework.py", "deployment.py"):
            shutil.copy(PROJECT_ROOT / "solutions" / name, target / name)
        text = (target / "deployment.py").read_text().replace('CRON = "0 9 15 * *"', f'CRON = "{expression}"')
        (target / "deployment.py").write_text(text)
        result = run_probe("deployment", target, Sandbox(tmp_path / f"sandbox{n}", prefect_api_url), jobs=FLOWS_JOBS)
        assert result.ok, result.reason
        ids.append(result.data["deployment_id"])
    assert ids[0] != ids[1]
    assert [[s.cron for s in api.deployment_schedules(prefect_api_url, i)] for i in ids] == [[c] for c in crons]
