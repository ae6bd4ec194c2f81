"""`hw3 train`: run the assignment's training flow once, end to end, on Prefect's temporary
local server (or PREFECT_API_URL's), after making sure the months it reads are there
(downloaded, copied from the mirror, or made up as a synthetic sample).

What "the flow" and "its months" are is the assignment's: its `commands.py` (checks/<ID>/).
It runs the reference solution, or the student's homework in a release that has none.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hw3 import assignment, layout, settings
from hw3.errors import Hw3Error


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="run the training flow once and print its validation error",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--assignment", metavar="ID", help="the assignment (default: flows; `hw3 assignments` lists them)")
    parser.add_argument("--date", help="the flow's date, YYYY-MM-DD, for a flow that takes one (default: the course date)")
    parser.add_argument("--project", type=Path, default=layout.PROJECT_ROOT,
                        help="the project folder holding solutions/ or homework/ (default: %(default)s)")
    parser.add_argument("--sample-rows", type=int, metavar="N",
                        help="trips per synthetic month, if a month has to be made up")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    chosen = assignment.load(args.assignment, root=args.project)
    commands = chosen.commands()
    if commands is None:
        raise Hw3Error(f"the assignment {chosen.id!r} has no training flow to run ({chosen.folder.name}/commands.py)")
    settings.prefect_environment()
    return commands.train(chosen, args.date, args.sample_rows)
