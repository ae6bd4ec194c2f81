"""`hw3 train`: run the training flow once, end to end, on Prefect's temporary local server.

It trains with `solutions/homework.py`, or with `homework/homework.py` in a student release
that has no solutions, after making sure the two months the flow reads are in the data
folder (downloaded, copied from the mirror, or made up as a synthetic sample).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hw3 import layout, settings
from hw3.errors import Hw3Error
from hw3.project import FLOW_FILES, flow_file, load_module, paths_for

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="run the training flow once and print the validation MSE",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--date", help="the flow's date, YYYY-MM-DD (default: the course date, 2021-08-15)")
    parser.add_argument("--project", type=Path, default=layout.PROJECT_ROOT,
                        help="the project folder holding solutions/ or homework/ (default: %(default)s)")
    parser.add_argument("--sample-rows", type=int, metavar="N",
                        help="trips per synthetic month, if a month has to be made up")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hw3 import catalogue
    from hw3.trips import data

    settings.prefect_environment()
    path = flow_file(args.project)
    if path != args.project / FLOW_FILES[0]:
        print(f"no {FLOW_FILES[0]} here (a student release): training with {path}", file=sys.stderr)
    homework = load_module(path, f"hw3_train_{path.parent.name}")
    date = args.date or catalogue.load().date

    paths = paths_for(homework, path, date, date_label="--date")
    rows = {} if args.sample_rows is None else {"rows": args.sample_rows}
    data.ensure_files([Path(p) for p in paths], **rows)

    try:
        val_mse = homework.main(date=date)
    except NotImplementedError as exc:
        raise Hw3Error(f"{path}: {exc}") from None
    artifacts = [settings.models_dir() / f"model-{date}.bin", settings.models_dir() / f"dv-{date}.b"]
    missing = [str(a) for a in artifacts if not a.is_file()]
    if missing:
        raise Hw3Error(f"{path}: the flow finished but did not save {', '.join(missing)} (Q3)")

    print(f"validation MSE: {val_mse}" if isinstance(val_mse, float) else "the flow returned no MSE; see its logs")
    for artifact in artifacts:
        print(f"saved {artifact}")
    return 0
