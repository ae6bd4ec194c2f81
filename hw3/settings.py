"""Where things live, and the environment variables that move them."""

from __future__ import annotations

import os
from pathlib import Path

from hw3.layout import MANIFEST_FILE, PROJECT_ROOT  # noqa: F401  (where they were before layout.py)

# A fresh SQLite database makes Prefect's temporary server take 20-30 s to start on a
# small machine; Prefect's default startup timeout of 20 s is too short for that.
PREFECT_STARTUP_TIMEOUT_S = "120"


def data_dir() -> Path:
    """Where the monthly trip files are read from: HW3_DATA_DIR, else ./data."""
    return Path(os.environ.get("HW3_DATA_DIR") or "data")


def models_dir() -> Path:
    """Where the flow saves its artifacts: HW3_MODELS_DIR, else ./models."""
    return Path(os.environ.get("HW3_MODELS_DIR") or "models")


def data_mirror() -> str | None:
    """HW3_DATA_MIRROR: a directory or base URL tried before TLC's own URL."""
    return os.environ.get("HW3_DATA_MIRROR") or None


def in_cohort() -> bool:
    """HW3_COHORT: the checks grade one submission of `hw3 grade --cohort` (an instructor's run:
    no advice meant for a student at their own data folder)."""
    return bool(os.environ.get("HW3_COHORT"))


def prefect_environment() -> None:
    """Give Prefect's temporary local server time enough to start, and turn its analytics off
    (its telemetry writes to the fresh database while the server starts: `database is locked`).
    Call before using Prefect."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", PREFECT_STARTUP_TIMEOUT_S)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
