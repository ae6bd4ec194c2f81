"""`hw3 data fetch|sample|check`: get the monthly trip files, make synthetic ones, check them.

`ensure_files` is what the training commands use: a wanted file that is missing is
downloaded (mirror, then TLC), and an FHV month that cannot be downloaded is replaced by a
synthetic sample, with a line on stderr saying so.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from hw3 import settings
from hw3.errors import Hw3Error
from hw3.trips.tripdata import DEFAULT_ROWS, GREEN_DEFAULT_ROWS, TAXIS

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def ensure_files(paths: list[str | os.PathLike], *, allow_sample: bool = True, rows: int = DEFAULT_ROWS,
                 progress: bool = True) -> list[Path]:
    """Make sure each `<dir>/<taxi>_tripdata_YYYY-MM.parquet` exists; return the paths.

    A present file is kept. A missing one is fetched; if no source has it and it is an FHV
    month (and allow_sample), a synthetic sample month takes its place. Each is then checked
    (tripdata.check_trip_file): a bad one is an Hw3Error naming it, before anything runs on it.
    """
    from hw3.trips.fetch import NotAvailable, fetch_file
    from hw3.trips.sample import ensure_sample_month
    from hw3.trips.tripdata import check_trip_file, parse_month_file

    done = []
    for path in map(Path, paths):
        taxi, year, month = parse_month_file(path.name)
        if not path.exists():
            try:
                fetch_file(path.name, path.parent, progress=progress)
            except NotAvailable:
                if not (allow_sample and taxi == "fhv"):
                    raise
                ensure_sample_month(path.parent, year, month, rows)
                print(f"hw3: {path} is a SYNTHETIC sample ({rows:,} trips), as the real file could not be "
                      f"downloaded; for the real one delete it and run `hw3 data fetch {year:04d}-{month:02d}` "
                      "with internet access or HW3_DATA_MIRROR set", file=sys.stderr)
        check_trip_file(path)
        done.append(path)
    return done


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="get, make or check the monthly trip files",
                                   description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    when = dict(nargs="*", metavar="DATE|YYYY-MM",
                help="months as YYYY-MM, or one flow date YYYY-MM-DD whose two months your get_paths "
                     "names (default: the months of the assignment's flow)")
    project = dict(type=Path, default=Path.cwd(),
                   help="the project whose solutions/ or homework/ get_paths maps a date (default: here)")
    assignment = dict(metavar="ID", help="the assignment whose flow names the months (default: flows)")
    taxi = "trip type of the months given as YYYY-MM: fhv, green or yellow (default: the assignment's)"

    fetch = commands.add_parser("fetch", help="download trip files (HW3_DATA_MIRROR first, then TLC)")
    fetch.add_argument("when", **when)
    fetch.add_argument("--taxi", help=taxi)
    fetch.add_argument("--dest", type=Path, help="folder to save into (default: HW3_DATA_DIR, else ./data)")
    fetch.add_argument("--project", **project)
    fetch.add_argument("--assignment", **assignment)
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    fetch.set_defaults(run=run_fetch)

    sample = commands.add_parser("sample", help="write synthetic FHV or green months (offline stand-ins)")
    sample.add_argument("when", **when)
    sample.add_argument("--taxi", choices=TAXIS, help=taxi)
    sample.add_argument("--rows", type=int, default=None,
                        help=f"trips per month (default: {DEFAULT_ROWS} for fhv, {GREEN_DEFAULT_ROWS} for green)")
    sample.add_argument("--dest", type=Path, help="folder to save into (default: HW3_DATA_DIR, else ./data)")
    sample.add_argument("--project", **project)
    sample.add_argument("--assignment", **assignment)
    sample.set_defaults(run=run_sample)

    check = commands.add_parser("check", help="check trip files: parquet, the columns and types of their trip type")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.set_defaults(run=run_check)


def run_fetch(args: argparse.Namespace) -> int:
    from hw3.trips.fetch import fetch_files

    dest = args.dest or settings.data_dir()
    names = wanted_files(args, dest)
    present = {name for name in names if (dest / name).exists()}
    for path in fetch_files(names, dest, progress=not args.no_progress):
        print(f"{path}: {'already there' if path.name in present else 'fetched'}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from hw3.trips.sample import check_taxi, default_rows, ensure_sample_month
    from hw3.trips.tripdata import parse_month_file

    dest = args.dest or settings.data_dir()
    for name in wanted_files(args, dest):
        taxi, year, month = parse_month_file(name)
        rows = args.rows if args.rows is not None else default_rows(check_taxi(taxi))
        path = ensure_sample_month(dest, year, month, rows, taxi)
        print(f"{path}: synthetic {'FHV' if taxi == 'fhv' else taxi} month, {rows:,} trips")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from hw3.trips.sample import is_sample
    from hw3.trips.tripdata import check_trip_file

    failed = 0
    for path in args.files:
        try:
            if not path.is_file():
                raise Hw3Error(f"{path}: no such file")
            line = check_trip_file(path)
        except Hw3Error as exc:
            failed += 1
            print(f"FAILED {exc}")
            continue
        print(line + (" [SYNTHETIC sample, not a TLC file]" if is_sample(path) else ""))
    return 2 if failed else 0


def wanted_files(args: argparse.Namespace, dest: Path) -> list[str]:
    """File names for months given as YYYY-MM (of --taxi, else the assignment's trip type), or
    for one date, or none, through the assignment's flow (checks/<ID>/commands.py)."""
    from hw3 import assignment
    from hw3.trips.tripdata import month_file, parse_month_file

    chosen = assignment.load(args.assignment, root=args.project)
    if len(args.when) <= 1 and all(_DATE.fullmatch(text) for text in args.when):
        commands = chosen.commands()
        if commands is None:
            raise Hw3Error(f"the assignment {chosen.id!r} names no months of its own: give months as YYYY-MM")
        names = [Path(p).name for p in commands.course_files(chosen, (args.when or [None])[0], dest)]
        for name in names:
            parse_month_file(name)  # a clear error if get_paths names something else
        return names
    names = []
    for text in args.when:
        match = _MONTH.fullmatch(text)
        if not match or not 1 <= int(match[2]) <= 12:
            raise Hw3Error(
                f"{text!r} is not a month: give months as YYYY-MM (e.g. 2021-06 2021-07) or one date as "
                "YYYY-MM-DD (e.g. 2021-08-15)"
            )
        names.append(month_file(args.taxi or chosen.catalogue.taxi, int(match[1]), int(match[2])))
    return names
