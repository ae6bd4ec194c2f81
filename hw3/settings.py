"""The package's settings: every HW3_* environment variable, read in one place.

`current()` reads them afresh (a test or a parent process may change the environment), as a
pydantic-settings object; an empty variable counts as unset.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# A fresh SQLite database makes Prefect's temporary server take 20-30 s to start on a
# small machine; Prefect's default startup timeout of 20 s is too short for that.
PREFECT_STARTUP_TIMEOUT_S = "120"


class Settings(BaseSettings):
    """HW3_<NAME> for each field <name>."""

    model_config = SettingsConfigDict(env_prefix="HW3_", env_ignore_empty=True, extra="ignore")

    data_dir: Path = Path("data")  # where the monthly trip files are read from
    models_dir: Path = Path("models")  # where the flow saves its artifacts
    data_mirror: str | None = None  # a folder or base URL tried before TLC's own URL
    tlc_url_template: str | None = None  # replaces the manifest's TLC URL (tests: a local server)
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "hw3")  # sample months kept between runs
    cohort: bool = False  # the checks grade one submission of `hw3 grade --cohort`
    cohort_timeout_s: float = 1800  # one submission's whole grading in a cohort
    # A submission's flow run with no heartbeat this long lost its worker: graded again. Three of
    # Prefect's 60 s SQLite busy timeouts: at 60 s, a beat held up by one locked write on a loaded
    # cohort server had a live run graded twice (seen here, the first run's grade thrown away).
    cohort_lost_s: float = 180
    grading_servers_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "hw3" / "grading-servers")  # a machine's slots
    grading_server_idle_s: float = 900  # a slot's server stops after this long unused
    check_timeout_s: float = 300  # one child of the checks
    submission_budget_factor: float = 6  # a session's probes, all told: this many times the catalogue's reference_seconds
    check_memory_mb: int = 6144
    check_file_mb: int = 512  # the largest file a child may write
    check_server_timeout_s: float = 180  # the checks' Prefect server's start
    check_protect: str = ""  # os.pathsep-separated paths no child may read (a key, a cohort)
    unconfined: bool = False  # children without the operating system's wall (to compare costs)


def current() -> Settings:
    return Settings()


def data_dir() -> Path:
    return current().data_dir


def models_dir() -> Path:
    return current().models_dir


def kept_key_paths_dir() -> Path:
    """Where the reference's key-job tables are kept between runs (answer_key.reference_paths);
    no child may read it."""
    return current().cache_dir / "key-paths"


def data_mirror() -> str | None:
    return current().data_mirror


def in_cohort() -> bool:
    """The checks grade one submission of `hw3 grade --cohort` (an instructor's run: no
    advice meant for a student at their own data folder)."""
    return current().cohort


def prefect_environment() -> None:
    """Give Prefect's temporary local server time enough to start, and turn its analytics off
    (its telemetry writes to the fresh database while the server starts: `database is locked`).
    Call before using Prefect."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", PREFECT_STARTUP_TIMEOUT_S)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
