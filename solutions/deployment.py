"""Reference solution: a deployment that retrains the model at 9 AM on the 15th of every month.

`register()` only records the deployment and its schedule on the current Prefect API
(PREFECT_API_URL, or Prefect's temporary local server); it does not block like `serve()`.
A Prefect server's scheduler then creates the upcoming runs.

Run it with `python solutions/deployment.py` from any folder.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from prefect import Flow
from prefect.schedules import Cron

# minute hour day-of-month month day-of-week: 09:00 on the 15th, every month.
CRON = "0 9 15 * *"
# The zone the cron is read in. UTC: the runs fire at 09:00 UTC all year round (no
# daylight-saving shifts), whatever the zone of the machine that registers or grades them.
TIMEZONE = "UTC"
DEPLOYMENT_NAME = "monthly-training"


def register(name: str = DEPLOYMENT_NAME) -> UUID:
    """Register a deployment of `main` (homework.py beside this file) on the cron schedule;
    return the deployment's id."""
    # Loading the flow from this folder records the folder itself as the deployment's
    # source, so the entrypoint resolves whichever folder this is called from.
    main = Flow.from_source(source=str(Path(__file__).resolve().parent), entrypoint="homework.py:main")
    return main.to_deployment(name=name, schedule=Cron(CRON, timezone=TIMEZONE)).apply()


if __name__ == "__main__":
    print(f"registered deployment {register()}")
