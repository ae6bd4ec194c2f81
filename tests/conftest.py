"""Shared fixtures of the package's own tests.

`prefect_api_url` (session): ONE isolated Prefect server for the whole test session, with
    its own SQLite database; Prefect itself runs with its own PREFECT_HOME in a temporary
    folder, never the user's profile or database. The fixture yields the API URL, makes it
    current for this process (settings context) and for subprocesses (env PREFECT_API_URL).
    Request it before freezing a clock: Prefect cannot start a server under freezegun.
    Run flows under time_machine.travel(..., tick=True) rather than a stopped freezegun
    clock: task-run states with identical timestamps make the server log errors.
`sample_data_dir` (session): a folder with synthetic FHV-shaped months 2021-06 and 2021-07,
    the two files the course date 2021-08-15 needs. Read-only: copy before changing it.
`reference` (session): solutions/homework.py, imported by path (its tasks and flow `main`).
`flow_dirs` (function): HW3_DATA_DIR -> sample_data_dir, HW3_MODELS_DIR -> a fresh
    tmp folder; returns (data_dir, models_dir).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from hw3.grading.server import UNUSED_SERVICES, services_environment

# Set before anything imports Prefect, which reads its settings when it is imported.
_PREFECT_HOME = tempfile.mkdtemp(prefix="hw3-tests-prefect-home-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # no telemetry calls from the test server
# The session's server is also the cohort server of the cohorts graded here: like the servers
# the package starts, it runs without the services no check and no cohort reads.
os.environ.update(services_environment(UNUSED_SERVICES))
for _name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
    os.environ.pop(_name, None)
# The grading servers of the cohorts graded here (hw3/cohort/slots.py): this session's own,
# shared by its cohort runs and stopped at its end, never the machine's.
_GRADING_SERVERS = tempfile.mkdtemp(prefix="hw3-tests-grading-servers-")
os.environ["HW3_GRADING_SERVERS_DIR"] = _GRADING_SERVERS


def _stop_grading_servers() -> None:
    from hw3.cohort import slots

    slots.stop_all(Path(_GRADING_SERVERS))
    shutil.rmtree(_GRADING_SERVERS, ignore_errors=True)


atexit.register(_stop_grading_servers)

# The longest test files, longest first (seconds in a full run on 2 cores). tox runs xdist
# with --no-loadscope-reorder, so files are handed to its workers in collection order: these
# start first, and no long file starts last while the other worker idles.
LONGEST_FIRST = (
    "test_corpus.py",  # 1210 s: the corpus, 86 submissions
    "test_corpus_deployments.py",  # 1550 s: the 2023 real-shaped corpus, 25 submissions, then 3 beside a burner
    "test_corpus_real.py",  # 700 s: 31 real-shaped submissions, then 3 beside a burner
    "test_hostile.py",  # 550 s
    "test_cohort.py",  # 400 s
    "test_many_machines.py",  # 125 s alone: a wheel, two machines, PostgreSQL
    "test_deployments_checks.py",  # 380 s
    "test_deployments_release.py",  # 300 s
    "test_answers_hidden.py",  # 200 s
    "test_links.py",
    "test_deployments_key.py",  # 150 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of LONGEST_FIRST first, in that order; the others after them, as collected."""
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


SERVER_STARTUP_TIMEOUT_S = 120
COURSE_MONTHS = ((2021, 6), (2021, 7))  # what main(date="2021-08-15") reads


@pytest.fixture(scope="session")
def prefect_api_url() -> Iterator[str]:
    """Start the session's Prefect server and make it the current API; yield its URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=SERVER_STARTUP_TIMEOUT_S):
        url = PREFECT_API_URL.value()
        os.environ["PREFECT_API_URL"] = url
        try:
            yield url
        finally:
            os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding synthetic FHV months 2021-06 and 2021-07."""
    from hw3.trips.sample import CACHE_ENV, DEFAULT_ROWS, ensure_sample_month

    folder = tmp_path_factory.mktemp("sample-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("sample-cache")))  # not the user's cache
        for year, month in COURSE_MONTHS:
            ensure_sample_month(folder, year, month, DEFAULT_ROWS)
    return folder


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    """The reference solution, solutions/homework.py."""
    from hw3.layout import PROJECT_ROOT
    from hw3.project import load_module

    return load_module(PROJECT_ROOT / "solutions" / "homework.py", "reference_homework")


@pytest.fixture
def flow_dirs(sample_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Point the flow at the sample months and at an empty models folder."""
    models_dir = tmp_path / "models"
    monkeypatch.setenv("HW3_DATA_DIR", str(sample_data_dir))
    monkeypatch.setenv("HW3_MODELS_DIR", str(models_dir))
    return sample_data_dir, models_dir
