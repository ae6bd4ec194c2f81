"""`hw3 grade`: grade a submission with the checks, i.e. run `pytest checks/` in a child process.

    hw3 grade                                 grade homework/
    hw3 grade --target DIR                    grade another folder laid out like homework/
    hw3 grade --results-json results.json     also write Gradescope's results.json
    hw3 grade -- -k q2 -x                     pass anything after `--` on to pytest
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from hw3 import settings
from hw3.errors import Hw3Error


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "grade",
        help="grade homework/ (or --target DIR) with the checks",
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after `--` go to pytest, e.g. `hw3 grade -- -k q2`.",
    )
    parser.add_argument("--target", metavar="DIR", help="folder to grade (default: homework/)")
    parser.add_argument("--results-json", metavar="FILE", help="write the grade as Gradescope's results.json")
    parser.add_argument("--prefect-api-url", metavar="URL", help="grade against this running Prefect server")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def pytest_argv(args: argparse.Namespace, checks_dir: Path) -> list[str]:
    argv = [sys.executable, "-m", "pytest", str(checks_dir)]
    if args.target:
        folder = Path(args.target).resolve()
        if not folder.is_dir():
            raise Hw3Error(f"--target {args.target}: no such folder; give the folder that holds homework.py")
        argv += ["--target", str(folder)]
    if args.results_json:
        argv += ["--results-json", str(Path(args.results_json).resolve())]
    if args.prefect_api_url:
        argv += ["--prefect-api-url", args.prefect_api_url]
    extra = list(args.pytest_args)
    return argv + (extra[1:] if extra[:1] == ["--"] else extra)


def run(args: argparse.Namespace) -> int:
    checks_dir = settings.PROJECT_ROOT / "checks"
    if not (checks_dir / "conftest.py").is_file():
        raise Hw3Error(f"{checks_dir}: the checks are missing; restore the checks/ folder of the homework")
    return subprocess.call(pytest_argv(args, checks_dir))
