"""`hw3 grade`: grade a submission with the checks, i.e. run `pytest checks/` in a child process.

    hw3 grade                                 grade homework/
    hw3 grade --target DIR|NOTEBOOK           grade another folder laid out like homework/, or a notebook
    hw3 grade --watch [--target DIR]          grade again each time you save (one server for the session)
    hw3 grade --results-json results.json     also write Gradescope's results.json
    hw3 grade --cohort DIR [--workers N] [--out grades.csv] [--answer-key FILE] [--force]
                                              grade every sub-folder of DIR on N local Prefect workers
    hw3 grade --cohort DIR --work-pool NAME --prefect-api-url URL
                                              ... on the workers of a pool, on any machine
    hw3 grade -- -k q2 -x                     pass anything after `--` on to pytest

A cohort is graded by Prefect workers (hw3/cohort/): each submission in a flow run of its own.
Each gets `results/<name>/` (graded.json, results.json, the checks' output.txt) beside the
CSV, which has a row (student, Q1..Qn, total, problem, reasons) per sub-folder. A submission
that breaks the checks gets a row with its problem; the others are graded all the same. A
re-run grades again only the submissions that changed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from hw3 import assignment as assignment_module, layout
from hw3.errors import Hw3Error


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
    parser.add_argument("--workers", type=int, metavar="N",
                        help="cohort: local Prefect workers, each grading one submission at a time (default: one per core)")
    parser.add_argument("--work-pool", metavar="NAME", help="cohort: grade on this work pool of --prefect-api-url, whose "
                        "workers run elsewhere (`prefect worker start --pool NAME` where the package is installed)")
    parser.add_argument("--force", action="store_true", help="cohort: grade again the submissions that have not changed")
    parser.add_argument("--watch", action="store_true",
                        help="grade again each time a file of the submission changes (one Prefect server for the session)")
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


def _passed_on(args: argparse.Namespace) -> list[str]:
    """What the command line passes on to pytest (after `--`)."""
    extra = list(args.pytest_args)
    return extra[1:] if extra[:1] == ["--"] else extra


def given_answer_key(given: str) -> Path:
    """The key file of `--answer-key given`; Hw3Error if there is none."""
    if not Path(given).is_file():
        raise Hw3Error(f"--answer-key {given}: no such file; give the key `hw3 key` wrote")
    return Path(given).resolve()


def _pytest_extra(args: argparse.Namespace) -> list[str]:
    extra = [*_passed_on(args), "--assignment", assignment_module.load(args.assignment).id]
    if args.answer_key:
        extra += ["--answer-key", str(given_answer_key(args.answer_key))]
    return extra


def pytest_argv(target: Path | None, results_json: Path | None, api_url: str | None, extra: list[str],
                checks_dir: Path | None = None) -> list[str]:
    """`python -m pytest checks/ ...` for one submission (the checks of `checks_dir`, default
    the project's)."""
    argv = [sys.executable, "-m", "pytest", str(checks_dir or _checks_dir()), "-p", "no:cacheprovider"]
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
        return _cohort(args)
    if args.watch:
        from hw3.watch import watch

        return watch(assignment_module.load(args.assignment), args.target, args.prefect_api_url, _pytest_extra(args))
    target = submission_target(args.target) if args.target else None
    results = Path(args.results_json).resolve() if args.results_json else None
    return subprocess.call(pytest_argv(target, results, args.prefect_api_url, _pytest_extra(args)))


def _cohort(args: argparse.Namespace) -> int:
    from hw3.sandbox import confine

    try:
        from hw3.cohort.run import grade_cohort
    except ImportError:  # a student release leaves cohort grading out
        raise Hw3Error("--cohort is for instructors: it grades a whole class, and a student release leaves it out") from None

    if args.target or args.results_json or args.watch:
        raise Hw3Error("--cohort grades every sub-folder of its folder: leave out --target, --results-json and --watch")
    if confine.reduced() and not args.unconfined:  # the submissions would share this machine with the key and each other
        raise Hw3Error("bubblewrap cannot run here, so the submissions would run without the operating system's sandbox, "
                       "beside the key and each other; install bubblewrap (Linux), or pass --unconfined to grade anyway")
    return grade_cohort(Path(args.cohort), Path(args.out or "grades.csv"), assignment_module.load(args.assignment),
                        workers=args.workers, work_pool=args.work_pool, api_url=args.prefect_api_url,
                        answer_key=args.answer_key, pytest_args=_passed_on(args), force=args.force)
