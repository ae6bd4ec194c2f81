"""What the 2023 homework gives the students' commands: `hw3 train --assignment deployments`
runs `main_flow()` of orchestrate.py once, in its own folder (as `python orchestrate.py` does:
the course's relative paths `data/green_tripdata_2023-0N.parquet` and `mlflow.db` are there),
after making sure the two months are in its `data/`; `hw3 data fetch --assignment deployments`
gets those months.

Both use `solutions/deployments/`, or `homework/deployments/` in a student release. This
file ships with the release; hooks.py (the key) does not.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hw3.errors import Hw3Error
from hw3.trips.tripdata import month_file

FLOW_NAME = "orchestrate.py"
TAXI = "green"
TRAIN, VAL = (2023, 1), (2023, 2)  # the months the course's flow reads (its parameters' defaults), and the checks' runs
DATA_FOLDER = "data"
RUN_FLOW = f"""
import sys
import {FLOW_NAME.removesuffix('.py')} as module
try:
    rmse = module.main_flow()
except NotImplementedError as exc:
    sys.exit(f"hw3: {FLOW_NAME}: {{exc}}")
print(f"validation RMSE: {{rmse}}" if isinstance(rmse, float) else "the flow returned no RMSE; see its logs")
"""


def course_files(chosen, date: str | None, dest: Path) -> list[str]:
    """The two months the flow reads, in `dest`. The flow takes its months as paths, so a
    date means nothing here."""
    if date is not None:
        raise Hw3Error(f"the 2023 flow takes its months as paths, not a date ({date!r}): give months as YYYY-MM, "
                       "e.g. `hw3 data fetch --taxi green 2023-01 2023-02`")
    return [str(dest / month_file(TAXI, *month)) for month in (TRAIN, VAL)]


def train(chosen, date: str | None, sample_rows: int | None) -> int:
    """`hw3 train`: the flow's two months made sure of in its folder's data/, then main_flow()
    with its own defaults, run from that folder; prints the validation RMSE."""
    from hw3.trips import data
    from hw3.trips.fetch import NotAvailable
    from hw3.trips.sample import ensure_sample_month

    if date is not None:
        raise Hw3Error(f"--date {date!r}: the 2023 flow takes no date; it reads the months of its parameters' defaults")
    folder = chosen.source(FLOW_NAME, doing="training").parent
    for year, month in (TRAIN, VAL):
        path = folder / DATA_FOLDER / month_file(TAXI, year, month)
        try:
            data.ensure_files([path], allow_sample=False)
        except NotAvailable:
            if sample_rows is None:
                raise Hw3Error(f"{path.name}: no source has it; set HW3_DATA_MIRROR, or train on a synthetic month "
                               "with --sample-rows N") from None
            ensure_sample_month(path.parent, year, month, sample_rows, TAXI)
            print(f"hw3: {path} is a SYNTHETIC sample ({sample_rows:,} trips)", file=sys.stderr)

    # In a child Python started in the folder, as `python orchestrate.py` there would be: the
    # folder is first on its sys.path, and the relative paths resolve in it.
    return subprocess.run([sys.executable, "-c", RUN_FLOW], cwd=folder).returncode
