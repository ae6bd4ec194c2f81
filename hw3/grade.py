"""`hw3 grade`: grade a submission with the checks, i.e. run `pytest checks/` in a child process.

    hw3 grade                                 grade homework/
    hw3 grade --target DIR|NOTEBOOK           grade another folder laid out like homework/, or a notebook
    hw3 grade --results-json results.json     also write Gradescope's results.json
    hw3 grade --cohort DIR [--jobs N] [--out grades.csv] [--answer-key FILE]
                                              grade every sub-folder of DIR on one Prefect server
    hw3 grade -- -k q2 -x                     pass anything after `--` on to pytest

A cohort is graded submission by submission, N at a time, each by its own `pytest checks/`
against one shared Prefect server and one answer key; each gets `results/<name>/results.json`
(and the checks' output.txt) beside the CSV, which has a row (student, Q1..Qn, total,
problem) per sub-folder. A submission that breaks the checks gets a row with its problem;
the others are graded all the same. The CSV has the reason of every question that lost
points, and the run ends with the causes most submissions share.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hw3 import assignment as assignment_module, layout, settings
from hw3.errors import Hw3Error
from hw3.fsutil import atomic_write


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "grade",
        help="grade homework/ (or --target DIR, or a --cohort of submissions) with the checks",
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after `--` go to pytest, e.g. `hw3 grade -- -k q2`.",
    )
    parser.add_argument("--assignment", metavar="ID", help="the assignment (default: flows; `hw3 assignments` lists them)")
    parser.add_argument("--target", metavar="DIR|NOTEBOOK", help="folder or .ipynb notebook to grade (default: the homework folder)")
    parser.add_argument("--results-json", metavar="FILE", help="write the grade as Gradescope's results.json")
    parser.add_argument("--prefect-api-url", metavar="URL", help="grade against this running Prefect server")
    parser.add_argument("--answer-key", metavar="FILE", help="grade the answers with this key (instructors; default: "
                        "the key built from the reference, where there is one; a student release records the answers)")
    parser.add_argument("--cohort", metavar="DIR", help="grade every sub-folder of DIR (each laid out like homework/)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="cohort: submissions graded at a time (default: 2)")
    parser.add_argument("--unconfined", action="store_true",
                        help="cohort: grade even where the operating system's sandbox (bubblewrap) cannot run")
    parser.add_argument("--out", metavar="FILE", help="cohort: the grades CSV (default: grades.csv in the current folder)")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def _checks_dir() -> Path:
    checks_dir = layout.CHECKS_DIR
    if not (checks_dir / "conftest.py").is_file():
        raise Hw3Error(f"{checks_dir}: the checks are missing; restore the checks/ folder of the homework")
    return checks_dir


def _pytest_extra(args: argparse.Namespace) -> list[str]:
    extra = list(args.pytest_args)
    extra = extra[1:] if extra[:1] == ["--"] else extra
    extra += ["--assignment", assignment_module.load(args.assignment).id]
    if args.answer_key:
        if not Path(args.answer_key).is_file():
            raise Hw3Error(f"--answer-key {args.answer_key}: no such file; give the key `hw3 key` wrote")
        extra += ["--answer-key", str(Path(args.answer_key).resolve())]
    return extra


def pytest_argv(target: Path | None, results_json: Path | None, api_url: str | None, extra: list[str]) -> list[str]:
    """`python -m pytest checks/ ...` for one submission."""
    argv = [sys.executable, "-m", "pytest", str(_checks_dir()), "-p", "no:cacheprovider"]
    if target:
        argv += ["--target", str(target)]
    if results_json:
        argv += ["--results-json", str(results_json)]
    if api_url:
        argv += ["--prefect-api-url", api_url]
    return argv + extra


def submission_target(given: str | os.PathLike, option: str = "--target") -> Path:
    """The folder or notebook to grade; Hw3Error if it is neither."""
    path = Path(given).resolve()
    if path.is_dir() or path.is_file() and path.suffix == ".ipynb":
        return path
    raise Hw3Error(f"{option} {given}: no such folder or .ipynb notebook; give the folder that holds homework.py (or the notebook)")


def run(args: argparse.Namespace) -> int:
    if args.cohort:
        if args.target or args.results_json:
            raise Hw3Error("--cohort grades every sub-folder of its folder: leave out --target and --results-json")
        _refuse_unconfined(args.unconfined)
        return grade_cohort(Path(args.cohort), args.jobs, Path(args.out or "grades.csv"), args.prefect_api_url, _pytest_extra(args),
                            assignment_module.load(args.assignment))
    target = submission_target(args.target) if args.target else None
    results = Path(args.results_json).resolve() if args.results_json else None
    return subprocess.call(pytest_argv(target, results, args.prefect_api_url, _pytest_extra(args)))


# -- cohort ------------------------------------------------------------------------------------


def _refuse_unconfined(allowed: bool) -> None:
    """A cohort's submissions share this machine with the key and each other: without the
    operating system's sandbox, grade them only when the instructor says so."""
    from hw3.sandbox import confine

    if confine.reduced() and not allowed:
        raise Hw3Error("bubblewrap cannot run here, so the submissions would run without the operating system's sandbox, "
                       "beside the key and each other; install bubblewrap (Linux), or pass --unconfined to grade anyway")


@dataclass(frozen=True)
class Graded:
    """One submission of a cohort: its scores by question (empty if it was not graded), the
    reason of each question that lost points, and the causes found in its code."""

    student: str
    scores: dict[str, int]
    total: int | None
    problem: str | None
    seconds: float
    reasons: dict[str, str] = field(default_factory=dict)
    causes: tuple[str, ...] = ()


def cohort_members(folder: Path, main_file: str = "homework.py") -> list[tuple[str, Path]]:
    """(name, target) of each sub-folder of a cohort folder: the folder, or its notebook when
    it has one and no main file (homework.py)."""
    if not folder.is_dir():
        raise Hw3Error(f"--cohort {folder}: no such folder; give the folder that holds one sub-folder per student")
    members = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        notebook = (sub / main_file).with_suffix(".ipynb")
        target = notebook if notebook.is_file() and not (sub / main_file).is_file() else sub
        members.append((sub.name, target.resolve()))
    if not members:
        raise Hw3Error(f"--cohort {folder}: no sub-folders; put each student's submission in a folder of its own")
    return members


def grade_one(name: str, target: Path, out: Path, api_url: str, extra: list[str], env: dict[str, str]) -> Graded:
    """Grade one submission in a child `pytest checks/`; never raises for the submission's sake."""
    out.mkdir(parents=True, exist_ok=True)
    results_json = out / "results.json"
    results_json.unlink(missing_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"hw3-cohort-{name[:20]}-"))
    argv = pytest_argv(target, results_json, api_url, ["--basetemp", str(work / "basetemp"), *extra])
    started = time.monotonic()
    with open(out / "output.txt", "wb") as output:
        try:
            subprocess.run(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                           timeout=settings.current().cohort_timeout_s, check=False)
            problem = None
        except subprocess.TimeoutExpired:
            problem = f"the checks did not finish within {settings.current().cohort_timeout_s:g} s (HW3_COHORT_TIMEOUT_S)"
    seconds = time.monotonic() - started
    shutil.rmtree(work, ignore_errors=True)
    try:
        results = json.loads(results_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Graded(name, {}, None, problem or f"the checks wrote no results.json; see {out / 'output.txt'}", seconds)
    scores = {test["name"].split()[0]: test["score"] for test in results["tests"]}
    extra = results.get("extra_data", {})
    return Graded(name, scores, results["score"], problem, seconds, extra.get("lost", {}), tuple(extra.get("causes", ())))


def grade_cohort(folder: Path, jobs: int, csv_path: Path, api_url: str | None, extra: list[str],
                 assignment: assignment_module.Assignment | None = None) -> int:
    """Grade every submission of `folder`, `jobs` at a time, on one server; write the CSV."""
    assignment = assignment or assignment_module.load()
    if jobs < 1:
        raise Hw3Error(f"--jobs {jobs}: give at least 1")
    course = assignment.catalogue
    members = cohort_members(folder, course.main_file or "homework.py")
    csv_path = csv_path.resolve()
    results_dir = csv_path.parent / "results"
    with tempfile.TemporaryDirectory(prefix="hw3-cohort-") as scratch:
        extra = _with_answer_key(extra, Path(scratch), assignment)
        key_file = Path(extra[extra.index("--answer-key") + 1]).resolve()
        env = dict(os.environ, HW3_COHORT="1")
        env["HW3_CHECK_PROTECT"] = os.pathsep.join([str(folder.resolve()), str(key_file), str(results_dir)])
        with _servers(api_url, Path(scratch), min(jobs, len(members))) as urls:
            started = time.monotonic()

            def graded_on_a_free_server(name: str, target: Path) -> Graded:
                url = urls.get()
                try:
                    return grade_one(name, target, results_dir / name, url, extra, env)
                finally:
                    urls.put(url)

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(graded_on_a_free_server, name, target) for name, target in members]
                graded = []
                for future in futures:
                    graded.append(future.result())
                    print(_line(graded[-1], course), flush=True)
            seconds = time.monotonic() - started
    _write_csv(csv_path, graded, course)
    ungraded = [g for g in graded if g.total is None]
    for line in common_causes(graded):
        print(line)
    print(f"graded {len(graded) - len(ungraded)} of {len(graded)} submissions in {seconds:.0f} s; {csv_path}")
    return 1 if ungraded else 0


def _with_answer_key(extra: list[str], scratch: Path, assignment: assignment_module.Assignment) -> list[str]:
    """The pytest args with `--answer-key FILE`: the one given, else the shipped key, else one
    built once from the reference (so that every submission is graded with the same key)."""
    from hw3 import answer_key

    if "--answer-key" in extra:
        return extra
    shipped = assignment.folder / "key.json"
    key_file = shipped if shipped.is_file() else \
        answer_key.build_from_reference(assignment.root, str(assignment.folder)).save(scratch / "key.json")
    return [*extra, "--answer-key", str(key_file)]


@contextmanager
def _servers(api_url: str | None, scratch: Path, count: int):
    """A queue of Prefect API URLs, one per submission graded at a time: the given server's,
    else `count` servers started for the cohort (stopped at the end). A submission's code can
    reach its server's API; with a server of its own while it is graded, it cannot reach the
    flow runs, deployments or logs of a submission graded at the same time."""
    urls: queue.Queue[str] = queue.Queue()
    if api_url:
        for _ in range(count):
            urls.put(api_url.rstrip("/"))
        yield urls
        return
    from hw3.server import prefect_server

    with ExitStack() as stack, ThreadPoolExecutor(max_workers=count) as pool:
        started = pool.map(lambda n: stack.enter_context(prefect_server(None, scratch / f"prefect-server-{n}", what="the cohort")), range(count))
        for url in started:
            urls.put(url)
        yield urls


def _line(graded: Graded, course) -> str:
    if graded.total is None:
        return f"{graded.student}: not graded: {graded.problem}"
    scores = " ".join(f"{q.id} {graded.scores.get(q.id, 0)}/{q.points}" for q in course.questions)
    return f"{graded.student}: {scores}, total {graded.total}/{course.max_score} ({graded.seconds:.0f} s)"


SUMMARY_CAUSES = 8  # common causes listed at the end of a cohort's grading


def common_causes(graded: list[Graded]) -> list[str]:
    """'15 of 21: written for Prefect 2: DeploymentSpec', most common first (the causes each
    submission's results.json names: what its code was written for, and each lost part's
    reason in short)."""
    counts: dict[str, set[str]] = {}
    for g in graded:
        for cause in g.causes if g.total is not None else ("not graded",):
            counts.setdefault(cause, set()).add(g.student)
    ranked = sorted(counts.items(), key=lambda item: (-len(item[1]), item[0]))[:SUMMARY_CAUSES]
    if not ranked:
        return []
    return ["common causes of lost points:", *(f"  {len(who)} of {len(graded)}: {cause}" for cause, who in ranked)]


def _write_csv(path: Path, graded: list[Graded], course) -> None:
    """student, Q1..Qn, total, problem, then the reason of every question that lost points;
    written whole through a temporary file."""
    def write(handle) -> None:
        writer = csv.writer(handle)
        writer.writerow(["student", *(q.id for q in course.questions), "total", "problem",
                         *(f"{q.id} reason" for q in course.questions)])
        for g in graded:
            scores = [g.scores.get(q.id, "") if g.total is not None else "" for q in course.questions]
            reasons = [g.reasons.get(q.id, "") for q in course.questions]
            writer.writerow([g.student, *scores, "" if g.total is None else g.total, g.problem or "", *reasons])

    atomic_write(path, write)
