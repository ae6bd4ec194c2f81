"""What `hw3 key --assignment deployments` measures: the validation RMSE of the reference flow
on the real green-taxi months of Q3 and Q4, run on the key's Prefect server and read back
from its logs there, as the checks read a student's."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# The figure each measured question asks for: its (training, validation) months.
MONTHS = {
    "q3": ("green_tripdata_2023-01.parquet", "green_tripdata_2023-02.parquet"),
    "q4": ("green_tripdata_2023-02.parquet", "green_tripdata_2023-03.parquet"),
}

# One thread per numeric library, as the checks' worker runs a student's flow (session.WORKER_ENV):
# the same trees (oracle.py), and on a busy machine xgboost's exact method with two threads
# that wait on each other took 98 CPU-s where one thread takes about 45.
RUN_FLOW = """
import os, sys
os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
from orchestrate import main_flow
state = main_flow(train_path=sys.argv[1], val_path=sys.argv[2], return_state=True)
print("flow run", state.state_details.flow_run_id, state.type.value)
"""


def measure(reference: Path, train: Path, val: Path, api_url: str, work: Path) -> float:
    """The validation RMSE the reference's flow logs when it trains on `train` and validates
    on `val` (in a sandbox of `work`, on the server at `api_url`)."""
    from hw3.errors import Hw3Error
    from hw3.grading import measure as reading, prefect_api
    from hw3.sandbox.runner import Sandbox, run_command

    sandbox = Sandbox(work / f"key-{train.stem}", api_url, (train, val), taxi="green")
    sandbox.prepare()
    shutil.copytree(reference, sandbox.work, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "data"))
    done = run_command([sys.executable, "-c", RUN_FLOW, f"data/{train.name}", f"data/{val.name}"], sandbox, timeout=1800)
    words = done.stdout.split()
    if done.returncode != 0 or "flow" not in words or words[-1] != "COMPLETED":
        raise Hw3Error(f"the reference flow failed on {train.name} -> {val.name}: {done.reason or done.stderr[-1500:]}")
    record = prefect_api.flow_run(api_url, words[-2])
    found = reading.validation_mse(record.log_messages)
    if found is None:
        raise Hw3Error(f"the reference flow logged no validation RMSE on {train.name} -> {val.name}")
    return found.value
