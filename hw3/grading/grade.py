"""`hw3 grade`: grade a submission with the checks, i.e. run `pytest checks/` in a child process.

    hw3 grade                                 grade homework/
    hw3 grade --target DIR|NOTEBOOK           grade another folder laid out like homework/, or a notebook
    hw3 grade --watch [--target DIR] [--full] grade again each time you save: what the save touched
                                              (--full: everything; or type r and Enter)
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
import subprocess
from pathlib import Path

from hw3 import assignment as assignment_module
from hw3.errors import Hw3Error
from hw3.grading.invocation import given_answer_key, pytest_argv, submission_target


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
    parser.add_argument("--full", action="store_true",
                        help="--watch: grade everything on every save (by default a save re-checks what it touched)")
    parser.add_argument("--unconfined", action="store_true",
                        help="cohort: grade even where the operating system's sandbox (bubblewrap) cannot run")
    parser.add_argument("--out", metavar="FILE", help="cohort: the grades CSV (default: grades.csv in the current folder)")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def _passed_on(args: argparse.Namespace) -> list[str]:
    """What the command line passes on to pytest (after `--`)."""
    extra = list(args.pytest_args)
    return extra[1:] if extra[:1] == ["--"] else extra


def _pytest_extra(args: argparse.Namespace) -> list[str]:
    extra = [*_passed_on(args), "--assignment", assignment_module.load(args.assignment).id]
    if args.answer_key:
        extra += ["--answer-key", str(given_answer_key(args.answer_key))]
    return extra


def run(args: argparse.Namespace) -> int:
    if args.cohort:
        return _cohort(args)
    if args.full and not args.watch:
        raise Hw3Error("--full is for --watch (every save grades everything); a grade without --watch is always full")
    if args.watch:
        from hw3.grading.watch import watch

        return watch(assignment_module.load(args.assignment), args.target, args.prefect_api_url, _pytest_extra(args), args.full)
    target = submission_target(args.target) if args.target else None
    results = Path(args.results_json).resolve() if args.results_json else None
    return subprocess.call(pytest_argv(target, results, args.prefect_api_url, _pytest_extra(args)))


def _cohort(args: argparse.Namespace) -> int:
    from hw3.sandbox import confine

    try:
        from hw3.cohort.run import grade_cohort
    except ImportError:  # a student release leaves cohort grading out
        raise Hw3Error("--cohort is for instructors: it grades a whole class, and a student release leaves it out") from None

    if args.target or args.results_json or args.watch or args.full:
        raise Hw3Error("--cohort grades every sub-folder of its folder: leave out --target, --results-json, --watch and --full")
    if confine.reduced() and not args.unconfined:  # the submissions would share this machine with the key and each other
        raise Hw3Error("bubblewrap cannot run here, so the submissions would run without the operating system's sandbox, "
                       "beside the key and each other; install bubblewrap (Linux), or pass --unconfined to grade anyway")
    return grade_cohort(Path(args.cohort), Path(args.out or "grades.csv"), assignment_module.load(args.assignment),
                        workers=args.workers, work_pool=args.work_pool, api_url=args.prefect_api_url,
                        answer_key=args.answer_key, pytest_args=_passed_on(args), force=args.force)
