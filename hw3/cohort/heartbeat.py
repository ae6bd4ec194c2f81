"""Whether a submission's flow run still has a machine: its process counts up a Prefect
variable of its own every few seconds (`beating`, on the worker's machine), and the cohort's
run (`Watch`, on the instructor's) reads the counts. A run that is Pending or Running and whose
count has not moved for HW3_COHORT_LOST_S (two more minutes before its first beat, while its
process starts) lost its worker (a machine stopped, a worker was
killed): the cohort marks it Crashed and grades the submission again.

The instructor's clock alone decides (a count that moves, not a time the worker sent), so the
machines' clocks need not agree.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

BEAT_S = 5.0  # between two beats of a flow run
START_S = 120.0  # more time a run has for its first beat: its process starts (imports, a busy machine)
PREFIX = "hw3-alive-"  # + the flow run's id: the variable a run counts up


def variable(flow_run_id: str) -> str:
    return f"{PREFIX}{flow_run_id}"


@contextmanager
def beating(flow_run_id: str):
    """Count up this flow run's variable every BEAT_S while the block runs; remove it after.
    A beat the server misses is tried again at the next one."""
    from prefect.variables import Variable

    stop = threading.Event()

    def beat():
        count = 0
        while True:
            count += 1
            try:
                Variable.set(variable(flow_run_id), count, overwrite=True)
            except Exception:  # the server is busy or away: the next beat tries again
                pass
            if stop.wait(BEAT_S):
                return

    thread = threading.Thread(target=beat, name="hw3-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=BEAT_S)
        try:
            Variable.unset(variable(flow_run_id))
        except Exception:  # left on the server: the cohort removes what it finds
            pass


class Watch:
    """The flow runs of a cohort that lost their worker, read from their beats."""

    def __init__(self, api_url: str, lost_s: float):
        self.api_url, self.lost_s = api_url, lost_s
        self.seen: dict[str, tuple[object, float]] = {}  # run id: (its last count, when it last moved)

    def lost(self, runs: dict) -> list[str]:
        """The ids of `runs` (RunRecords by id, not final) that are Pending or Running and whose
        count has not moved for lost_s (lost_s + START_S before its first beat); a run
        Scheduled still waits for a worker."""
        from hw3.grading import prefect_api as api

        active = [run_id for run_id, run in runs.items() if run.state_type in ("PENDING", "RUNNING")]
        counts = api.variables(self.api_url, [variable(run_id) for run_id in active])
        now, gone = time.monotonic(), []
        for run_id in active:
            count = counts.get(variable(run_id))
            last = self.seen.get(run_id)
            if last is None or last[0] != count:
                self.seen[run_id] = (count, now)
            elif now - last[1] > self.lost_s + (START_S if count is None else 0.0):
                gone.append(run_id)
        return gone

    def forget(self, run_id: str, lost: bool = False) -> None:
        """Stop watching a run that ended; remove its variable if it was `lost` (a run that
        ends removes its own: `beating`)."""
        from hw3.grading import prefect_api as api

        self.seen.pop(run_id, None)
        if lost:
            api.delete_variable(self.api_url, variable(run_id))
