"""`hw3 grade --cohort DIR`: grade every submission of a cohort on Prefect workers.

The cohort is a flow run (`hw3-grade-cohort`) on a Prefect server; each submission that needs
a grade is a child flow run of the deployment `hw3-grade-submission/<pool>`, which a worker
of the pool picks up (flow.py). Either this command uses the machine's cohort server (kept
between runs, slots.py; or the one of `--prefect-api-url`), with a process work pool of the
run's own and `--workers N` local workers, or, with
`--work-pool NAME --prefect-api-url URL`, the pool's own workers (on any machine with the
package installed) do the work.

A submission whose files, answer key, checks and options are those of its kept grade
(results/<student>/graded.json) is not graded again unless `--force`; each grade is kept the
moment it arrives, so a run cut short loses none of the grades it got.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

from hw3 import assignment as assignment_module, settings
from hw3.cohort import course as course_module, members as members_module, report, slots
from hw3.cohort.report import RESULT_ARTIFACT, Graded
from hw3.errors import Hw3Error
from hw3.fsutil import atomic_write
from hw3.grading import answer_key as answer_key_module
from hw3.grading.invocation import given_answer_key

POLL_S = 2.0  # between two reads of the submissions' flow runs (each read is 3 calls to the cohort server)
START_RETRY_S = 15.0  # between two tries of a flow run the server refused to create
GRACE_S = 120  # a flow run may run this long beyond HW3_COHORT_TIMEOUT_S before it is given up
RESTARTS = 2  # a submission whose worker was lost, or whose run crashed ungraded, is graded again at most this many times
LOST = "its worker stopped answering: no heartbeat for {seconds:g} s (HW3_COHORT_LOST_S)"
WORKER_QUERY_S = "3"  # how often a local worker asks for work (Prefect's default: 10 s); at 1 s the polls of 2
# workers and the cohort were a third of its server's CPU, for a second less wait per submission
# How often the cohort asks again when its server answers 503 (its SQLite database locked by a
# writer, up to Prefect's 60 s busy timeout, on a loaded machine). Prefect waits 2, 4, 8, ...
# seconds between tries: 7 ride out about 4 minutes, Prefect's default 5 only one, and a
# single call that gives up ends the whole cohort run.
CLIENT_RETRIES = 7


def answer_key_file(given: str | None, scratch: Path, assignment: assignment_module.Assignment) -> Path:
    """The key every submission is graded with: the one given, else the shipped key, else one
    built once from the reference."""
    if given:
        return given_answer_key(given)
    shipped = assignment.folder / "key.json"
    if shipped.is_file():
        return shipped
    return answer_key_module.build_from_reference(assignment.root, str(assignment.folder)).save(scratch / "key.json")


def grade_cohort(folder: Path, csv_path: Path, assignment: assignment_module.Assignment, *, workers: int | None,
                 work_pool: str | None, api_url: str | None, answer_key: str | None, pytest_args: list[str],
                 force: bool = False) -> int:
    """Grade the cohort in `folder`; write the CSV (and results/<student>/ beside it)."""
    if work_pool and not api_url:
        raise Hw3Error(f"--work-pool {work_pool}: give the server of that pool too, with --prefect-api-url URL")
    if workers is not None and workers < 1:
        raise Hw3Error(f"--workers {workers}: give at least 1")
    course = assignment.catalogue
    cohort = members_module.cohort_members(folder, course.main_file or "homework.py")
    csv_path = csv_path.resolve()
    results_dir = csv_path.parent / "results"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hw3-cohort-") as scratch:
        key_path = answer_key_file(answer_key, Path(scratch), assignment)
        key_text = key_path.read_text(encoding="utf-8")
        meaning = answer_key_module.load(key_path).meaning(course)
        engine = members_module.engine_digest(assignment.folder)
        prints = {m.name: members_module.fingerprint(m, meaning, engine, [assignment.id, *pytest_args]) for m in cohort}
        kept = {m.name: Graded.load(results_dir / m.name) for m in cohort}
        reused = {name: g for name, g in kept.items() if g and g.total is not None and g.fingerprint == prints[name] and not force}
        pending = [m for m in cohort if m.name not in reused]
        graded = dict(reused)
        if reused:
            print(f"{len(reused)} of {len(cohort)} submissions are unchanged since they were graded: their grades are kept "
                  f"(--force grades them again)", flush=True)
        if pending:
            protect = [folder.resolve(), results_dir]  # out of the probes' reach, as the key is
            with _pool(api_url, work_pool, workers or os.cpu_count() or 1, Path(scratch), protect, assignment.id) as (url, pool, alive):
                graded = _grade_on_workers(url, pool, alive, cohort, pending, reused, prints, assignment, key_text,
                                           course_module.pack(assignment), pytest_args, results_dir, local=work_pool is None)
    ordered = [graded[m.name] for m in cohort]
    report.write_csv(csv_path, ordered, course)
    for text in report.common_causes(ordered):
        print(text)
    ungraded = [g for g in ordered if g.total is None]
    print(f"graded {len(ordered) - len(ungraded)} of {len(ordered)} submissions ({len(pending)} graded now, "
          f"{len(reused)} kept) in {time.monotonic() - started:.0f} s; {csv_path}")
    return 1 if ungraded else 0


def _grade_on_workers(url, pool, alive, cohort, pending, reused, prints, assignment, key_text, packed_course, pytest_args,
                      results_dir, local: bool) -> dict[str, Graded]:
    """Run the cohort flow on the server at `url`: a child flow run per pending submission,
    with the key and the instructor's checks (`packed_course`, course.py), picked up by the
    pool's workers, then the cohort's table artifact; return every grade (the `reused` ones
    too) by student."""
    from prefect import flow
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    from hw3.cohort.flow import grade_submission

    @flow(name="hw3-grade-cohort", log_prints=False, persist_result=False)
    def grade_cohort_flow(folder: str, students: list[str]) -> dict:
        deployment = _deploy(grade_submission, pool, local)
        parameters = {member.name: {"student": member.name, "assignment": assignment.id, "archive": member.archive,
                                    "notebook": member.notebook, "answer_key": key_text, "pytest_args": pytest_args,
                                    "fingerprint": prints[member.name], "course": packed_course} for member in pending}

        def start(student: str) -> str:
            return _start_run(deployment, parameters[student], student)

        graded = reused | _collect(url, [m.name for m in pending], alive, start, assignment.catalogue, results_dir)
        _best_effort(_table_artifact, [graded[m.name] for m in cohort], assignment.catalogue, assignment.id)
        return graded

    with temporary_settings({PREFECT_API_URL: url, PREFECT_CLIENT_MAX_RETRIES: CLIENT_RETRIES}):
        try:
            return grade_cohort_flow(str(pending[0].folder.parent), [m.name for m in pending])
        finally:  # the flow's logs and events reach the server before it stops
            APILogWorker.drain_all(timeout=10, at_exit=False)
            EventsWorker.drain_all(timeout=10, at_exit=False)


def _deploy(grade_submission, pool: str, local: bool) -> str:
    """The deployment of the submission flow on `pool` (made or updated); its id. A local
    pool's flow runs are handed to this machine's grading slots (handoff.py)."""
    from prefect.deployments.runner import EntrypointType

    handoff = {"command": f"{sys.executable} -m hw3.cohort.handoff"} if local else {}
    deployment = grade_submission.to_deployment(name=pool, entrypoint_type=EntrypointType.MODULE_PATH, job_variables=handoff)
    return str(deployment.apply(work_pool_name=pool))


def _start_run(deployment_id: str, parameters: dict, name: str) -> str:
    """A child flow run of the cohort's flow run for one submission; its id."""
    from prefect.deployments import run_deployment

    return str(run_deployment(deployment_id, parameters=parameters, timeout=0, flow_run_name=name, as_subflow=True).id)


def _collect(url: str, students: list[str], alive, start, course, results_dir: Path) -> dict[str, Graded]:
    """Start a flow run for each student (`start(student)` makes it; its id) and wait for
    them; keep each grade as it arrives (a progress bar on the terminal). A start the server
    refuses (a 503: its SQLite database locked) is tried again every START_RETRY_S while the
    others run, for HW3_COHORT_TIMEOUT_S. A run whose worker was lost (heartbeat.py) is marked
    Crashed and its submission graded again by a new run, up to RESTARTS times; so is a run
    that crashed without leaving a grade (its worker could not start it: e.g. the server
    answered 503 while the worker submitted it). A run that fails, hangs or loses every
    worker, or never starts, costs its own grade only."""
    from tqdm import tqdm

    from hw3.cohort.heartbeat import Watch
    from hw3.grading import prefect_api as api

    graded: dict[str, Graded] = {}
    limit = settings.current().cohort_timeout_s + GRACE_S
    watch, restarts = Watch(url, settings.current().cohort_lost_s), dict.fromkeys(students, 0)
    runs: dict[str, str] = {}  # student by run id
    unstarted = {student: (time.monotonic(), 0.0) for student in students}  # student: (first try, next try)
    refused_until = 0.0  # after a refusal, the other starts wait too (each refused one took minutes of retries)

    def try_start(student: str) -> None:
        """Start the run of `student` (one of `unstarted`), unless the server refused one a
        moment ago: then it keeps its place; a refused one goes last."""
        nonlocal refused_until
        first, _ = unstarted[student]
        if time.monotonic() < refused_until:
            unstarted[student] = (first, refused_until)
            return
        del unstarted[student]
        try:
            runs[start(student)] = student
        except Exception as exc:  # the server refused it: again later, the others go on
            refused_until = time.monotonic() + START_RETRY_S
            if time.monotonic() - first < settings.current().cohort_timeout_s:
                unstarted[student] = (first, refused_until)
            else:
                graded[student] = _kept(Graded(student, {}, None, f"the Prefect server refused its flow run: {exc}", 0.0),
                                        results_dir / student)
                bar.write(report.line(graded[student], course))
                bar.update()

    def grade_again(student: str, why: str) -> None:
        """Grade `student`'s submission again in a new run: one of its RESTARTS."""
        restarts[student] += 1
        unstarted[student] = (time.monotonic(), 0.0)
        try_start(student)
        bar.write(f"{student}: {why}; graded again")

    with tqdm(total=len(students), desc="grading", unit="submission", file=sys.stderr, dynamic_ncols=True) as bar:
        for student in students:
            try_start(student)
        while len(graded) < len(restarts):
            for student, (_, next_try) in list(unstarted.items()):
                if time.monotonic() >= next_try:
                    try_start(student)
            states = api.read_flow_runs(url, list(runs)) if runs else {}
            lost = set(watch.lost({run_id: run for run_id, run in states.items() if not run.final}))
            for run_id, run in states.items():
                student = runs[run_id]
                problem = None
                if run_id in lost and restarts[student] < RESTARTS:
                    _best_effort(api.crash_flow_run, url, run_id, LOST.format(seconds=watch.lost_s))
                    _best_effort(watch.forget, run_id, lost=True)
                    del runs[run_id]
                    grade_again(student, "its worker stopped answering")
                    continue
                if run_id in lost:
                    _best_effort(api.crash_flow_run, url, run_id, LOST.format(seconds=watch.lost_s))
                    problem = f"its worker stopped answering {RESTARTS + 1} times"
                elif not run.final and run.start_time and time.time() - run.start_time > limit:
                    _best_effort(api.cancel_flow_run, url, run_id)
                    problem = f"its flow run did not end within {limit:g} s (HW3_COHORT_TIMEOUT_S); it was cancelled"
                elif not run.final and not alive():
                    problem = "every worker of the pool stopped before its flow run ended"
                elif not run.final:
                    continue
                _best_effort(watch.forget, run_id, lost=run_id in lost)
                del runs[run_id]
                result = _result(url, run_id)
                if problem is None and result is None and run.state_type == "CRASHED" and restarts[student] < RESTARTS:
                    grade_again(student, f"its flow run crashed before it was graded ({run.state_message})")
                    continue
                graded[student] = _graded(run, result, student, problem, results_dir / student)
                bar.write(report.line(graded[student], course))
                bar.update()
            if len(graded) < len(restarts):
                time.sleep(POLL_S)
    return graded


def _best_effort(call, *args, **kwargs) -> None:
    """`call(...)`, a write the cohort can do without (marking a run Crashed or Cancelled,
    removing a heartbeat variable): a server that refuses it does not end the cohort."""
    try:
        call(*args, **kwargs)
    except Exception as exc:
        print(f"the Prefect server refused a write, left undone: {exc}", file=sys.stderr)


def _kept(graded: Graded, folder: Path) -> Graded:
    graded.save(folder)
    return graded


def _result(url: str, run_id: str) -> dict | None:
    """What a finished flow run left as its result artifact (None: it left none)."""
    from hw3.grading import prefect_api as api

    found = [a.data for a in api.artifacts(url, run_id) if a.type == RESULT_ARTIFACT]
    if not found:
        return None
    return found[0] if isinstance(found[0], dict) else json.loads(found[0])


def _graded(run, data: dict | None, student: str, problem: str | None, folder: Path) -> Graded:
    """The grade a finished flow run left as its result artifact, `data` (else the reason
    there is none), kept in `folder` at once with the checks' results.json and output.txt."""
    if data is None:
        why = problem or f"its flow run ended {run.state_name}" + (f": {run.state_message}" if run.state_message else "")
        graded = Graded(student, {}, None, why, 0.0)
    else:
        graded = Graded.from_results(student, data["results"], data["problem"], data["seconds"],
                                     cpu_seconds=data.get("cpu_seconds"), checks_cpu_seconds=data.get("checks_cpu_seconds"),
                                     fingerprint=data.get("fingerprint", ""))
        atomic_write(folder / "output.txt", data["output"])
        if data["results"] is not None:
            atomic_write(folder / "results.json", json.dumps(data["results"], indent=1))
    return _kept(graded, folder)


def _table_artifact(graded: list[Graded], course, assignment_id: str) -> None:
    """The cohort's grades as a table artifact of the cohort's flow run (what the CSV holds)."""
    from prefect.artifacts import create_table_artifact

    create_table_artifact(report.rows(graded, course), key=f"hw3-cohort-{assignment_id}".lower(),
                              description=f"the grades of the cohort ({assignment_id})")


@contextmanager
def _pool(api_url: str | None, work_pool: str | None, workers: int, scratch: Path, protect: list[Path], assignment: str):
    """Yield (server URL, pool name, whether a worker of the pool may still be running):
    the given server and pool, whose workers run elsewhere; else a server (the given one, or
    the machine's cohort server), a process pool of this run's own and `workers` local
    workers, the pool and workers gone at the end, grading on the machine's slots (a server
    and checker warmed for each worker and `assignment`). The machine's servers stop once
    unused for HW3_GRADING_SERVER_IDLE_S."""
    from concurrent.futures import ThreadPoolExecutor

    from hw3.grading import prefect_api as api

    if work_pool:
        url = api_url.rstrip("/")
        api.require_work_pool(url, work_pool)
        yield url, work_pool, lambda: True
        return
    grading = settings.current().grading_servers_dir  # the machine's slots, kept for a while after the run
    with ExitStack() as stack:
        with ThreadPoolExecutor(max_workers=workers + 1) as starting:
            warming = [starting.submit(slots.warm, grading / f"slot-{n}", None, assignment) for n in range(workers)]
            url = api_url.rstrip("/") if api_url else stack.enter_context(slots.cohort_server(grading))
            for done in warming:
                done.result()
        pool = f"hw3-cohort-{uuid.uuid4().hex[:8]}"
        api.ensure_work_pool(url, pool)
        stack.callback(api.delete_work_pool, url, pool)
        if not api_url:
            print(f"the cohort's flow runs and table are on the Prefect server at {url} while this machine keeps it "
                  f"(until it has been unused for {settings.current().grading_server_idle_s:g} s)", flush=True)
        processes = [_start_worker(url, pool, n, scratch, grading, protect) for n in range(workers)]
        stack.callback(_stop, processes)
        yield url, pool, lambda: any(p.poll() is None for p in processes)


def _start_worker(url: str, pool: str, number: int, scratch: Path, grading: Path, protect: list[Path]) -> subprocess.Popen:
    """`prefect worker start` on `pool`, one flow run at a time, grading on this machine's
    slots in `grading`, with `protect` kept from every probe (HW3_CHECK_PROTECT)."""
    from hw3.sandbox.runner import prefect_command

    home = scratch / f"worker-{number}"
    home.mkdir(parents=True, exist_ok=True)
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env.update(PREFECT_API_URL=url, PREFECT_HOME=str(home), PREFECT_WORKER_QUERY_SECONDS=WORKER_QUERY_S,
               PREFECT_SERVER_ANALYTICS_ENABLED="false", HW3_GRADING_SERVERS_DIR=str(grading),
               HW3_CHECK_PROTECT=os.pathsep.join(map(str, protect)))
    argv = prefect_command(["prefect", "worker", "start", "--pool", pool, "--type", "process", "--limit", "1",
                            "--name", f"{pool}-{number}"])
    with open(home / "worker.log", "wb") as log:
        return subprocess.Popen(argv, env=env, cwd=home, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
