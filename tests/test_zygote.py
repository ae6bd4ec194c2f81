"""The zygote (hw3/sandbox/zygote.py, warm.Zygote): the probes of a session as forks of one
warm interpreter, with the results, limits and walls of a fresh probe each.

A probe job run by a fork gives what the same job gives in a fresh interpreter (outcome,
reason, data); a child that loops, exits, crashes or bombs costs only itself; a child sees
only its wall and reaches its session's Prefect server with its own settings; and a
session's time budget bounds its runs.
"""

from __future__ import annotations

import dataclasses
import resource
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from submissions import FLOWS_JOBS
from hw3.layout import PROJECT_ROOT
from hw3.sandbox import confine
from hw3.sandbox.runner import Sandbox, run_probe
from hw3.sandbox.warm import Zygote

DATE = "2021-08-15"
CALL = f"calling get_paths({DATE!r})"
MEMORY_HINT = "a child may use at most 6144 MB of memory; HW3_CHECK_MEMORY_MB changes that"

# name -> homework.py; each runs in a fresh interpreter and by a fork, with the same result
CASES = {
    "returns": "def get_paths(date):\n    return ('data/a.parquet', 'data/b.parquet')\n",
    "raises": "def get_paths(date):\n    raise ValueError('no such month')\n",
    "prints": "import sys\n\ndef get_paths(date):\n    print('hello')\n    print('to stderr', file=sys.stderr)\n    return ('a', 'b')\n",
    "exits-at-import": "import os\nos._exit(3)\n",
    "sys-exit-in-get-paths": "import sys\n\ndef get_paths(date):\n    sys.exit(3)\n",
    "segfaults": "import ctypes\n\ndef get_paths(date):\n    ctypes.string_at(0)\n",
    "hogs-memory": "def get_paths(date):\n    return bytearray(8 * 1024**3)\n",
    "reads-the-reference": f"def get_paths(date):\n    open({str(PROJECT_ROOT / 'solutions' / 'homework.py')!r}).read()\n",
    "reaches-into-the-probe": "import __main__\n\ndef get_paths(date):\n    return (__main__.Report.__name__, __main__.main.__name__)\n",
    "signals-its-parent": "import os, signal\n\ndef get_paths(date):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return ('a', 'b')\n",
    "reaches-into-its-zygote": ("import ctypes\n\ndef get_paths(date):\n"
                                "    caps = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('CapEff'))\n"
                                "    return (caps, str(ctypes.CDLL(None).open(b'/proc/1/mem', 0) >= 0))\n"),
    "where-it-runs": ("import os, tempfile, time\n\ndef get_paths(date):\n"
                     "    return (os.getcwd(), ' '.join([tempfile.gettempdir(), os.environ['HW3_DATA_DIR'], os.environ['PREFECT_HOME'],"
                     " os.environ['HOME'], time.tzname[0], str(sorted(os.environ))]))\n"),
}
EXPECTED = {  # the reasons both give
    "exits-at-import": "exited with code 3 while importing homework.py",
    "sys-exit-in-get-paths": f"exited with code 3 while {CALL}",
    "segfaults": f"was killed by SIGSEGV ({MEMORY_HINT}) while {CALL}",
}


def submission(folder: Path, homework: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "homework.py").write_text(textwrap.dedent(homework))
    return folder


def get_paths(target: Path, sandbox: Sandbox, zygote: Zygote | None = None, **limits):
    return run_probe("get_paths", target, sandbox, jobs=FLOWS_JOBS, dates=[DATE], frozen_days=[], zygote=zygote, **limits)


def seen(result, sandbox: Sandbox) -> tuple:
    """What a probe's result says, its own folder's name left out."""
    text = repr((result.outcome, result.reason, result.data.get("dates"), result.data.get("refused"), result.stdout))
    return text.replace(str(sandbox.folder), "<sandbox>")


def test_a_probe_gives_the_same_result_by_a_fork_as_in_a_fresh_interpreter(tmp_path):
    targets = {name: submission(tmp_path / "submissions" / name, code) for name, code in CASES.items()}
    runs = tmp_path / "session" / "runs"
    with Zygote(runs, "", [*targets.values(), FLOWS_JOBS], preload=["pandas"], runs=2) as zygote:
        for name, target in targets.items():
            cold_box, fork_box = Sandbox(tmp_path / "cold" / name, ""), Sandbox(runs / name, "")
            cold, forked = get_paths(target, cold_box), get_paths(target, fork_box, zygote)
            if name == "reaches-into-its-zygote":  # no capability either way; a fork's PID 1 is the zygote, out of its reach
                assert cold.data["dates"][DATE]["paths"][0] == "0000000000000000", cold.data
                assert forked.data["dates"][DATE]["paths"] == ["0000000000000000", "False"], forked.data
                continue
            assert seen(forked, fork_box) == seen(cold, cold_box), name
            assert forked.reason == EXPECTED.get(name, forked.reason)
            assert ("to stderr" in forked.stderr) == ("to stderr" in cold.stderr)
            if name == "hogs-memory":
                assert forked.data["dates"][DATE]["error"].startswith("raised MemoryError")
            if name == "where-it-runs":
                assert forked.data["dates"][DATE]["paths"][0] == str(fork_box.work)
        assert zygote.process.poll() is None  # none of them hurt it


def test_children_share_the_tls_context_made_before_the_fork(tmp_path):
    """Prefect's client asks for a context with certifi's bundle each time it is built: a
    child gets the one the zygote made (no certificate loaded again), a fresh interpreter a
    new one each time."""
    code = ("import ssl, certifi\n\ndef get_paths(date):\n"
            "    first, again = (ssl.create_default_context(cafile=certifi.where()) for _ in range(2))\n"
            "    other = ssl.create_default_context(cafile=certifi.where(), capath='/nowhere')\n"
            "    return (str(first is again), str(first is other))\n")
    target = submission(tmp_path / "target", code)
    cold = get_paths(target, Sandbox(tmp_path / "cold", ""))
    with Zygote(tmp_path / "runs", "", [target, FLOWS_JOBS]) as zygote:
        forked = get_paths(target, Sandbox(tmp_path / "runs" / "mine", ""), zygote)
    assert cold.data["dates"][DATE]["paths"] == ["False", "False"], cold.data
    assert forked.data["dates"][DATE]["paths"] == ["True", "False"], forked.data


def test_a_child_that_loops_is_killed_at_its_timeout_while_another_finishes(tmp_path):
    loops = submission(tmp_path / "loops", "def get_paths(date):\n    while True:\n        pass\n")
    slow = submission(tmp_path / "slow", "import time\n\ndef get_paths(date):\n    time.sleep(2)\n    return ('a', 'b')\n")
    runs = tmp_path / "runs"
    with Zygote(runs, "", [loops, slow, FLOWS_JOBS], runs=2) as zygote, ThreadPoolExecutor(2) as pool:
        looped = pool.submit(get_paths, loops, Sandbox(runs / "loops", ""), zygote, timeout=4)
        finished = pool.submit(get_paths, slow, Sandbox(runs / "slow", ""), zygote, timeout=60)
        assert finished.result().ok, finished.result().reason
        assert (looped.result().outcome, looped.result().reason) == ("failed", f"timed out after 4 s while {CALL}")
        assert 4 <= looped.result().seconds < 30
        assert get_paths(slow, Sandbox(runs / "after", ""), zygote).ok  # the zygote goes on


@pytest.mark.skipif(confine.bwrap() is None, reason="the wall needs bubblewrap")
def test_a_child_sees_its_wall_only(tmp_path):
    """Past the audit hook (ctypes), the project is not there; the session's other runs are,
    but the hook keeps a child out of them."""
    reference = PROJECT_ROOT / "solutions" / "homework.py"
    other_run = tmp_path / "runs" / "other" / "work" / "model.bin"
    other_run.parent.mkdir(parents=True)
    other_run.write_bytes(b"theirs")
    code = f"""
    import ctypes

    def get_paths(date):
        libc = ctypes.CDLL(None)
        libc.fopen.restype = ctypes.c_void_p
        if libc.fopen({str(reference).encode()!r}, b'r'):
            raise RuntimeError('the reference is readable')
        if not libc.fopen(__file__.encode(), b'r'):
            raise RuntimeError('its own submission is not readable')
        open({str(other_run)!r}, 'rb').read()
    """
    target = submission(tmp_path / "target", code)
    with Zygote(tmp_path / "runs", "", [target, FLOWS_JOBS]) as zygote:
        result = get_paths(target, Sandbox(tmp_path / "runs" / "mine", ""), zygote)
    assert result.ok and result.data["dates"][DATE]["error"].startswith(
        f"raised PermissionError: the checks do not allow reading {other_run}"), result.data


def _pids_cgroup_here() -> bool:
    with confine.process_cap(8) as prefix:
        return bool(prefix)


@pytest.mark.skipif(confine.bwrap() is None or not _pids_cgroup_here(), reason="needs the wall and a pids cgroup")
def test_a_fork_bomb_past_the_hook_takes_its_own_processes_only(tmp_path):
    bomb = submission(tmp_path / "bomb", """
    import ctypes, os, time

    def get_paths(date):
        for n in range(5000):
            pid = ctypes.CDLL(None).fork()
            if pid == 0:
                time.sleep(5)
                os._exit(0)
            if pid < 0:
                raise RuntimeError(f'no more processes after {n}')
    """)
    threads = submission(tmp_path / "threads", """
    import threading, time

    def get_paths(date):
        time.sleep(2)
        started = [threading.Thread(target=time.sleep, args=(1,)) for _ in range(60)]
        for thread in started:
            thread.start()
        return ('a', 'b')
    """)
    runs = tmp_path / "runs"
    with Zygote(runs, "", [bomb, threads, FLOWS_JOBS], runs=2) as zygote, ThreadPoolExecutor(2) as pool:
        bombed = pool.submit(get_paths, bomb, Sandbox(runs / "bomb", ""), zygote)
        threaded = pool.submit(get_paths, threads, Sandbox(runs / "threads", ""), zygote)
        assert threaded.result().ok and threaded.result().data["dates"][DATE] == {"paths": ["a", "b"]}
        assert "raised RuntimeError: no more processes after" in bombed.result().data["dates"][DATE]["error"]


LEAVES = """
import ctypes, os, subprocess

def get_paths(date):
    open('/tmp/left', 'w').write('x')
    open('/dev/shm/left', 'w').write('x')
    os.makedirs('/tmp/locked/in')
    os.chmod('/tmp/locked', 0)
    ctypes.CDLL(None).shmget(4242, 4096, 0o1600)  # IPC_CREAT
    subprocess.Popen(['sleep', '600'], start_new_session=True)
    return ('left', 'x')
"""
FINDS = """
import ctypes, os

def get_paths(date):
    found = [p for p in ('/tmp/left', '/dev/shm/left', '/tmp/locked') if os.path.lexists(p)]
    found += ['shm'] if ctypes.CDLL(None).shmget(4242, 0, 0) >= 0 else []
    found += [pid for pid in os.listdir('/proc') if pid.isdigit() and b'sleep' in open(f'/proc/{pid}/cmdline', 'rb').read()]
    return (' '.join(found) or 'nothing', 'x')
"""


@pytest.mark.skipif(confine.bwrap() is None, reason="the wall needs bubblewrap")
def test_a_kept_zygote_cleaned_between_submissions_leaves_nothing_of_one_to_the_next(tmp_path):
    """What a run leaves in its zygote's wall (/tmp, /dev/shm, System V IPC, a process of its
    own session) is there for the next run, until `clean()`."""
    leaves, finds = submission(tmp_path / "leaves", LEAVES), submission(tmp_path / "finds", FINDS)
    runs = tmp_path / "runs"
    with Zygote(runs, "", [leaves, finds, FLOWS_JOBS], runs=2) as zygote:
        assert get_paths(leaves, Sandbox(runs / "leaves", ""), zygote).ok
        found = get_paths(finds, Sandbox(runs / "finds-before", ""), zygote).data["dates"][DATE]["paths"][0]
        assert found.startswith("/tmp/left /dev/shm/left /tmp/locked shm"), found
        pid = zygote.process.pid
        assert zygote.clean()
        after = get_paths(finds, Sandbox(runs / "finds-after", ""), zygote)
        assert after.data["dates"][DATE]["paths"][0] == "nothing", after
        assert zygote.process.pid == pid and zygote.process.poll() is None  # the same zygote goes on


def test_a_zygote_that_goes_away_leaves_its_runs_to_fresh_probes(tmp_path):
    target = submission(tmp_path / "target", CASES["returns"])
    with Zygote(tmp_path / "runs", "", [target, FLOWS_JOBS]) as zygote:
        assert get_paths(target, Sandbox(tmp_path / "runs" / "first", ""), zygote).ok
        zygote.process.kill()
        result = get_paths(target, Sandbox(tmp_path / "runs" / "second", ""), zygote)
    assert result.ok and result.data["dates"][DATE] == {"paths": ["data/a.parquet", "data/b.parquet"]}
    assert zygote.run([], Sandbox(tmp_path / "runs" / "third", ""), 10) is None


IMPORTS = """
import resource
import sys

WARM = 'sklearn.linear_model' in sys.modules
import pandas
import prefect.main
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression


def get_paths(date):
    used = resource.getrusage(resource.RUSAGE_SELF)
    return (str(WARM), str(used.ru_utime + used.ru_stime))
"""


def test_the_runs_of_a_session_import_their_modules_once(tmp_path, capsys):
    """Four runs that import Prefect, pandas and scikit-learn: by forks of one zygote, which
    imported them once, and in four fresh interpreters. Their CPU seconds are reported (run
    with -s to see them), not asserted: each probe's own (a fork starts at 0), and the
    zygote's with its children's (its wall's PID 1 reaps them)."""
    from checks.flows.session import GradingSession

    target = submission(tmp_path / "target", IMPORTS)
    runs = tmp_path / "runs"

    def four(zygote=None) -> tuple[list[str], float]:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda n: get_paths(target, Sandbox(runs / f"{bool(zygote)}-{n}", ""), zygote), range(4)))
        answers = [r.data["dates"][DATE]["paths"] for r in results]
        return [warm for warm, _ in answers], sum(float(cpu) for _, cpu in answers)

    cold, cold_cpu = four()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with Zygote(runs, "", [target, FLOWS_JOBS], preload=GradingSession.PRELOAD, runs=4) as zygote:
        forked, forked_cpu = four(zygote)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert cold == ["False"] * 4
    assert forked == ["True"] * 4  # imported once, before the forks
    with capsys.disabled():
        print(f"\n4 runs importing prefect, pandas and scikit-learn: {cold_cpu:.1f} CPU-s in fresh interpreters; "
              f"by forks, {forked_cpu:.1f} CPU-s in the children, "
              f"{after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime:.1f} CPU-s with the zygote")


SETTINGS_JOBS = '''
def job_settings(request, report):
    from prefect import flow, get_run_logger
    from prefect.settings import get_current_settings

    @flow(name="zygote-check")
    def hello():
        get_run_logger().info("hello from a zygote child")

    state = hello(return_state=True)
    settings = get_current_settings()
    report.fields.update(home=str(settings.home), api_url=settings.api.url, flow_run_id=str(state.state_details.flow_run_id))


JOBS = {"settings": job_settings}
'''


class ElsewhereSandbox(Sandbox):
    """The zygote's sandbox, whose Prefect settings name another server (nothing listens on
    port 9): a child that kept the zygote's settings would not reach its own."""

    def environ(self) -> dict[str, str]:
        return {**super().environ(), "PREFECT_API_URL": "http://127.0.0.1:9/api"}


def test_a_flow_run_in_a_child_is_recorded_on_its_sessions_server_with_its_logs(tmp_path, sample_data_dir):
    from hw3.grading import prefect_api as api
    from hw3.grading.server import prefect_server

    jobs = tmp_path / "jobs.py"
    jobs.write_text(SETTINGS_JOBS)
    months = {"train": sample_data_dir / "fhv_tripdata_2021-06.parquet", "val": sample_data_dir / "fhv_tripdata_2021-07.parquet"}
    solutions, runs = PROJECT_ROOT / "solutions", tmp_path / "session" / "runs"
    with prefect_server(None, tmp_path / "server") as url:
        zygote = Zygote(runs, url, [solutions, FLOWS_JOBS, jobs, *months.values()], preload=["prefect.main"], runs=2)
        zygote.sandbox = ElsewhereSandbox(zygote.sandbox.folder, url)
        with zygote:
            own = Sandbox(runs / "settings", url)
            checked = run_probe("settings", solutions, own, jobs=jobs, zygote=zygote)
            course = Sandbox(runs / "course", url, tuple(months.values()))
            flow = run_probe("flow", solutions, course, jobs=FLOWS_JOBS, zygote=zygote, date=DATE,
                             months={role: str(path) for role, path in months.items()})
            assert zygote.process.poll() is None  # both were forks, not fresh probes
        assert checked.ok, checked.reason + checked.stderr[-2000:]
        assert (checked.data["home"], checked.data["api_url"]) == (str(own.folder / "prefect-home"), url)
        assert "hello from a zygote child" in api.flow_run(url, checked.data["flow_run_id"]).log_messages
        assert flow.ok, flow.reason + flow.stderr[-2000:]
        record = api.flow_run(url, flow.data["flow_run_id"])
        assert record.state_type == "COMPLETED"
        assert any(message.startswith("validation MSE") for message in record.log_messages), record.log_messages


def test_the_runs_of_a_session_share_its_time_budget(tmp_path, monkeypatch):
    from hw3 import catalogue
    from hw3.grading.session import MIN_BUDGET_S, MIN_RUN_S, Session

    for assignment in ("flows", "deployments"):
        assert catalogue.load(PROJECT_ROOT / "checks" / assignment / "catalogue.toml").reference_seconds > 0
    course = dataclasses.replace(catalogue.load(), reference_seconds=20.0)
    monkeypatch.setenv("HW3_SUBMISSION_BUDGET_FACTOR", "5")
    session = Session(tmp_path, None, course, "", tmp_path / "session")
    try:
        assert session.run_timeout() == 100  # 5 x 20 s, from the first run on
        session._deadline -= 95
        assert session.run_timeout() == MIN_RUN_S
        monkeypatch.setenv("HW3_CHECK_TIMEOUT_S", "7")
        assert session.run_timeout() == 7
        monkeypatch.setenv("HW3_SUBMISSION_BUDGET_FACTOR", "1")
        assert Session(tmp_path, None, course, "", tmp_path / "other").run_timeout() == 7
        monkeypatch.delenv("HW3_CHECK_TIMEOUT_S")
        assert Session(tmp_path, None, course, "", tmp_path / "third").run_timeout() == MIN_BUDGET_S
    finally:
        session.close()


def test_the_q6_command_gives_the_same_listing_by_a_fork_as_in_a_fresh_interpreter(tmp_path, prefect_api_url):
    """Q6's command line runs as a probe job (Prefect's CLI in the probe's process): by a fork
    of the session's zygote, started with the other runs, as in a fresh interpreter."""
    from hw3.grading import prefect_api as api

    api.create_work_queue(prefect_api_url, "hw3-zygote-q6")
    solutions, runs = PROJECT_ROOT / "solutions", tmp_path / "runs"

    def command(argv: list[str], name: str, zygote=None):
        return run_probe("command", solutions, Sandbox(runs / name, prefect_api_url), jobs=FLOWS_JOBS, zygote=zygote, argv=argv)

    cold = command(["prefect", "work-queue", "ls"], "cold")
    with Zygote(runs, prefect_api_url, [solutions, FLOWS_JOBS], preload=["prefect.main"], runs=2) as zygote:
        forked = command(["prefect", "work-queue", "ls"], "forked", zygote)
        wrong = command(["prefect", "work-queue", "list"], "wrong", zygote)
    for result in (cold, forked):
        assert result.ok, result.reason + result.stderr[-2000:]
        assert result.data["returncode"] == 0 and "hw3-zygote-q6" in result.data["output"], result.data
    assert wrong.ok and wrong.data["returncode"] == 2 and "hw3-zygote-q6" not in wrong.data["output"], wrong.data


def test_a_zygote_started_ahead_serves_the_session_in_its_folder_only(tmp_path, prefect_api_url):
    """`hw3 grade --watch` starts the next session's zygote while the student edits: the
    session in its folder takes it; a session elsewhere (or with another server) gets none,
    and the one started ahead is stopped."""
    from checks.flows.session import GradingSession
    from hw3.sandbox import warm

    solutions, folder = PROJECT_ROOT / "solutions", tmp_path / "session"
    months = [folder / "data" / "fhv_tripdata_2021-06.parquet"]
    GradingSession.start_ahead(solutions, prefect_api_url, folder)
    assert warm.ahead_folder() == (folder / "runs").resolve()
    taken = warm.take_ahead(folder / "runs", prefect_api_url, [solutions, FLOWS_JOBS, *months])
    try:
        assert taken is not None and warm.ahead_folder() is None
        assert taken.serves(Sandbox(folder / "runs" / "course", prefect_api_url), [solutions, *months])
    finally:
        taken.close()
    for elsewhere, url in ((tmp_path / "other" / "runs", prefect_api_url), (folder / "runs", "http://127.0.0.1:9/api")):
        ahead = warm.start_ahead(folder / "runs", prefect_api_url, [solutions, FLOWS_JOBS, folder], preload=(), runs=1)
        assert warm.take_ahead(elsewhere, url, [solutions]) is None
        assert ahead.process is None or ahead.process.wait(timeout=30) is not None  # stopped
