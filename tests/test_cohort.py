"""`hw3 grade --cohort` on Prefect workers: the same marks with one worker or two, and a re-run
that grades only what changed (a pool's workers on other machines: test_many_machines.py)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpus import CORRECT
from submissions import PROJECT_ROOT, make_submission, reference_key_file

from hw3 import catalogue

COURSE = catalogue.load()
STUB = PROJECT_ROOT / "homework"

# Right code of another shape (tasks called in sequence, not submitted): full marks all the same.
RIGHT_BUT_DIFFERENT = next(v.edits for v in CORRECT if v.name == "sequential calls instead of submit")


def cohort_of(folder: Path, right: int, stubs: int) -> dict[str, int]:
    """A cohort folder with `right` correct submissions and `stubs` untouched stubs; the
    expected total of each."""
    expected = {}
    for n in range(right):
        make_submission(folder / f"right-{n}", RIGHT_BUT_DIFFERENT if n % 2 else None)
        expected[f"right-{n}"] = COURSE.max_score
    for n in range(stubs):
        make_submission(folder / f"stub-{n}", source=STUB)
        expected[f"stub-{n}"] = 0
    return expected


def hw3_cohort(cohort: Path, out: Path, *args: str, env: dict | None = None, timeout: float = 1800,
               flows_key: bool = True) -> tuple[dict, str, float]:
    """`hw3 grade --cohort` in a child (`flows_key`: with the 2022 reference's key); the CSV's
    rows by student, its output, its seconds."""
    argv = [sys.executable, "-m", "hw3.cli", "grade", "--cohort", str(cohort), "--out", str(out), *args,
            *(["--answer-key", str(reference_key_file())] if flows_key else [])]
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = subprocess.run(argv, cwd=out.parent, capture_output=True, text=True, timeout=timeout, env=env)
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    assert out.is_file(), output[-4000:]
    with open(out, newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}, output, seconds


def totals(rows: dict) -> dict[str, int | None]:
    return {name: int(row["total"]) if row["total"] else None for name, row in rows.items()}


@pytest.mark.slow
def test_one_worker_and_two_give_the_same_marks_and_a_rerun_grades_only_what_changed(tmp_path, prefect_api_url):
    expected = cohort_of(tmp_path / "cohort", right=2, stubs=1)
    out = tmp_path / "out" / "grades.csv"
    server = ("--prefect-api-url", prefect_api_url)
    one, output, _ = hw3_cohort(tmp_path / "cohort", out, "--workers", "1", *server)
    assert totals(one) == expected, output[-3000:]
    assert "grading:" in output and "100%" in output  # the progress bar

    # --force grades everything again: two workers give the same marks, question by question.
    two, output, _ = hw3_cohort(tmp_path / "cohort", out, "--workers", "2", "--force", *server)
    assert "(3 graded now, 0 kept)" in output, output[-3000:]
    assert {name: [row[q.id] for q in COURSE.questions] for name, row in two.items()} == \
           {name: [row[q.id] for q in COURSE.questions] for name, row in one.items()}, output[-3000:]
    kept = json.loads((out.parent / "results" / "right-0" / "graded.json").read_text())
    assert kept["total"] == COURSE.max_score and len(kept["fingerprint"]) == 64 and kept["cpu_seconds"] > kept["checks_cpu_seconds"] > 0
    assert json.loads((out.parent / "results" / "right-0" / "results.json").read_text())["score"] == COURSE.max_score

    # Nothing changed: every grade is kept, and no worker starts, also with a key built anew
    # from the reference (without --answer-key: another random salt, the same meaning).
    again, output, _ = hw3_cohort(tmp_path / "cohort", out, "--workers", "2", *server, flows_key=False)
    assert totals(again) == expected and "(0 graded now, 3 kept)" in output, output[-3000:]
    assert "grading:" not in output

    # One file changes: that submission alone is graded again (and loses its points).
    answers = tmp_path / "cohort" / "right-1" / "answers.toml"
    answers.write_text(answers.read_text().replace("q5 = 3", "q5 = 0"))
    changed, output, _ = hw3_cohort(tmp_path / "cohort", out, "--workers", "1", *server)
    assert "(1 graded now, 2 kept)" in output, output[-3000:]
    assert totals(changed) == {**expected, "right-1": COURSE.max_score - 1}


def test_a_pool_that_does_not_exist_is_named(tmp_path, prefect_api_url):
    (tmp_path / "cohort" / "alice").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "hw3.cli", "grade", "--cohort", "cohort", "--work-pool", "nowhere",
                           "--prefect-api-url", prefect_api_url], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--work-pool nowhere: " in done.stderr and "has no such work pool" in done.stderr
    assert "prefect work-pool create nowhere --type process" in done.stderr
    assert not (tmp_path / "grades.csv").exists()


def test_a_flow_run_whose_workers_are_gone_costs_its_own_grade_only(tmp_path, prefect_api_url):
    """A submission's flow run that no worker will finish is given up with its reason, and
    that grade is kept (to be tried again) like any other."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from hw3.cohort import run as cohort_run
    from hw3.cohort.flow import grade_submission
    from hw3.cohort.report import Graded
    from hw3.grading import prefect_api as api

    api.ensure_work_pool(prefect_api_url, "hw3-test-no-workers")
    with temporary_settings({PREFECT_API_URL: prefect_api_url}):
        deployment = cohort_run._deploy(grade_submission, "hw3-test-no-workers", local=False)
    parameters = {"student": "alice", "assignment": "flows", "archive": "", "notebook": None, "answer_key": "{}",
                  "pytest_args": [], "fingerprint": "f" * 64}
    run_id = api.run_deployment(prefect_api_url, deployment, parameters, name="alice")
    graded = cohort_run._collect(prefect_api_url, ["alice"], lambda: False, lambda student: run_id, COURSE, tmp_path)
    assert graded["alice"].total is None
    assert graded["alice"].problem == "every worker of the pool stopped before its flow run ended"
    assert Graded.load(tmp_path / "alice") == graded["alice"]


@pytest.mark.slow
def test_the_machine_keeps_its_cohort_server_between_runs(tmp_path):
    """Without --prefect-api-url, the cohort runs of a machine share its cohort server: the
    second run starts none, and the first run's table is still there after that run ended."""
    from hw3.cohort import slots
    from hw3.grading import prefect_api as api

    servers = tmp_path / "servers"
    env = {**os.environ, "HW3_GRADING_SERVERS_DIR": str(servers)}
    expected = cohort_of(tmp_path / "cohort", right=0, stubs=1)
    urls = []
    try:
        for run in ("first", "second"):
            rows, output, _ = hw3_cohort(tmp_path / "cohort", tmp_path / run / "grades.csv", "--workers", "1", env=env)
            assert totals(rows) == expected, output[-3000:]
            urls += re.findall(r"on the Prefect server at (\S+) ", output)
            if run == "first":
                table = api.artifact_by_key(urls[0], "hw3-cohort-flows")
                assert table is not None and {row["student"]: row["total"] for row in json.loads(table.data)} == expected
        assert len(urls) == 2 and urls[0] == urls[1], urls
    finally:
        slots.stop_all(servers)


def test_a_run_whose_beats_wait_out_a_locked_write_is_not_lost_but_a_silent_one_is(prefect_api_url, monkeypatch):
    """HW3_COHORT_LOST_S's default outlasts Prefect's 60 s SQLite busy timeout, which a beat can
    wait out on a busy cohort server: such a run is not graded twice; a run silent for the whole
    time is lost."""
    from prefect.variables import Variable

    from hw3 import settings
    from hw3.cohort import heartbeat
    from hw3.grading.prefect_api import RunRecord

    clock = [1000.0]
    monkeypatch.setattr(heartbeat.time, "monotonic", lambda: clock[0])
    run_id = "0b6b7c3e-1d5a-4a55-9a51-4a5bb1f0c0de"
    Variable.set(heartbeat.variable(run_id), 1, overwrite=True)
    try:
        running = {run_id: RunRecord(run_id, "alice", "RUNNING", "Running", None, False, 0.0, None, None, {}, None)}
        watch = heartbeat.Watch(prefect_api_url, settings.current().cohort_lost_s)
        assert watch.lost(running) == []
        clock[0] += 61  # one beat that waited out a locked write, and more besides
        assert watch.lost(running) == []
        clock[0] += watch.lost_s
        assert watch.lost(running) == [run_id]
    finally:
        Variable.unset(heartbeat.variable(run_id))


def test_a_run_the_server_refuses_to_create_is_asked_for_again_and_costs_its_own_grade_only(prefect_api_url, tmp_path,
                                                                                            monkeypatch):
    """A start the cohort server refuses (a 503: its SQLite database locked) does not end the
    cohort, as it once did for a whole corpus: it is tried again while the others run, and a
    submission whose run is never taken gets a row that says why."""
    from collections import Counter

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Completed

    from hw3.cohort import run as cohort_run

    @flow(name="hw3-test-graded-elsewhere")
    def graded_elsewhere():
        pass

    monkeypatch.setattr(cohort_run, "START_RETRY_S", 0.2)
    monkeypatch.setenv("HW3_COHORT_TIMEOUT_S", "5")
    tries = Counter()

    def start(student: str) -> str:
        tries[student] += 1
        if student == "alice" or tries[student] < 2:
            raise RuntimeError("Server error '503 Service Unavailable'")
        with get_client(sync_client=True) as client:
            return str(client.create_flow_run(graded_elsewhere, state=Completed()).id)

    graded = cohort_run._collect(prefect_api_url, ["alice", "bob"], lambda: True, start, COURSE, tmp_path / "results")
    assert tries["bob"] == 2 and tries["alice"] >= 2, tries
    assert graded["alice"].total is None and graded["alice"].problem.startswith("the Prefect server refused its flow run: ")
    assert graded["bob"].problem == "its flow run ended Completed"  # taken on its second try (it left no grade: no checks ran)
    assert {p.parent.name for p in (tmp_path / "results").glob("*/graded.json")} == {"alice", "bob"}


def test_a_run_that_crashed_before_it_graded_is_graded_again_at_most_restarts_times(prefect_api_url, tmp_path):
    """A run its worker could not start ends Crashed with no grade (seen in a fresh-clone run:
    the cohort server answered 503 while the worker submitted the run, and a real-corpus
    submission got no row). The submission is graded again by a new run, up to RESTARTS
    times; after that its row says why."""
    from collections import Counter

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Crashed

    from hw3.cohort import run as cohort_run

    @flow(name="hw3-test-crashed-before-grading")
    def never_graded():
        pass

    message = "Failed to submit flow run to infrastructure: Server error '503 Service Unavailable'"
    tries = Counter()

    def start(student: str) -> str:
        tries[student] += 1
        state = Completed() if student == "bob" and tries[student] == 2 else Crashed(message=message)
        with get_client(sync_client=True) as client:
            return str(client.create_flow_run(never_graded, state=state).id)

    graded = cohort_run._collect(prefect_api_url, ["alice", "bob"], lambda: True, start, COURSE, tmp_path / "results")
    assert tries == {"bob": 2, "alice": cohort_run.RESTARTS + 1}, tries
    assert graded["bob"].problem == "its flow run ended Completed"  # its second run (it left no grade: no checks ran)
    assert graded["alice"].total is None and graded["alice"].problem == f"its flow run ended Crashed: {message}"
