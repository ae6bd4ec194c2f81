"""solutions/deployment.py: register() records a deployment of `main` on the cron schedule
"0 9 15 * *", whose scheduled runs start at 09:00 on the 15th in the chosen time zone."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hw3.layout import PROJECT_ROOT
from hw3.project import load_module


@pytest.fixture(scope="module")
def deployment():
    return load_module(PROJECT_ROOT / "solutions" / "deployment.py", "reference_deployment")


def next_fire_times(after: datetime.datetime, zone: ZoneInfo, count: int) -> list[datetime.datetime]:
    """09:00 on the 15th of the months after `after`, worked out month by month."""
    local = after.astimezone(zone)
    year, month = local.year, local.month
    times = []
    while len(times) < count:
        candidate = datetime.datetime(year, month, 15, 9, 0, tzinfo=zone)
        if candidate > local:
            times.append(candidate)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return times


@pytest.fixture
def registered(deployment, prefect_api_url, tmp_path, monkeypatch):
    """A deployment registered from an unrelated working directory."""
    monkeypatch.chdir(tmp_path)
    return deployment.register(name=f"test-{uuid.uuid4().hex[:8]}")


def test_the_cron_and_the_zone(deployment):
    assert deployment.CRON == "0 9 15 * *"
    ZoneInfo(deployment.TIMEZONE)  # a valid IANA zone name


def test_register_records_the_cron_schedule(deployment, registered):
    from prefect.client.orchestration import get_client

    assert isinstance(registered, uuid.UUID)
    with get_client(sync_client=True) as client:
        found = client.read_deployment(registered)
        flow = client.read_flow(found.flow_id)
    assert flow.name == "main"
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in found.schedules] == [
        ("0 9 15 * *", deployment.TIMEZONE, True)
    ]


def test_the_entrypoint_resolves_from_any_directory(registered, tmp_path, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.flows import load_flow_from_entrypoint

    with get_client(sync_client=True) as client:
        found = client.read_deployment(registered)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert Path(found.path) == PROJECT_ROOT / "solutions"
    assert load_flow_from_entrypoint(str(Path(found.path) / found.entrypoint)).name == "main"


def test_three_runs_at_nine_on_the_fifteenth(deployment, registered):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    zone = ZoneInfo(deployment.TIMEZONE)
    before = datetime.datetime.now(datetime.timezone.utc)
    with get_client(sync_client=True) as client:
        # The temporary server runs no scheduler: ask it to schedule this deployment once.
        response = client.request("POST", "/deployments/{id}/schedule", path_params={"id": registered})
        assert response.status_code < 300
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[registered])))
    assert len(runs) == 3
    assert all(run.state.is_scheduled() for run in runs)
    starts = sorted(run.expected_start_time.astimezone(zone) for run in runs)
    assert all((s.day, s.hour, s.minute, s.second) == (15, 9, 0, 0) for s in starts)
    assert starts == next_fire_times(before, zone, 3)
