"""What the checks read from (and set up on) the test's Prefect server.

The grade rests on what the server recorded, not on what the submission's process said.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

SETTLE_S = 1.0  # pause between two reads of a flow run's records
WAIT_S = 20.0  # the longest wait for them to be complete


@dataclass(frozen=True)
class FlowRunRecord:
    state_type: str  # e.g. "COMPLETED"
    state_name: str
    task_names: tuple[str, ...]  # one per task run: the task's name and its function's
    log_messages: tuple[str, ...]  # of the flow run and its task runs, oldest first


@dataclass(frozen=True)
class Schedule:
    cron: str | None  # None: not a cron schedule
    timezone: str | None
    active: bool


def _call(api_url: str, work):
    """Run `await work(client)` with a Prefect client of the server at api_url."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def go():
        async with get_client() as client:
            return await work(client)

    with temporary_settings({PREFECT_API_URL: api_url}):
        return asyncio.run(go())


def flow_run(api_url: str, flow_run_id: str) -> FlowRunRecord:
    """The flow run's state, task runs and logs, once the server has recorded them all.

    Logs reach the server directly, task runs as events a moment later: read again until every
    task run that a log names is there and finished (or, with no such log, until nothing changed
    for SETTLE_S), for at most WAIT_S.
    """
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    run_id = UUID(flow_run_id)

    async def read(client):
        run = await client.read_flow_run(run_id)
        tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), sort=LogSort.TIMESTAMP_ASC)
        names = []
        for task in tasks:
            names += [task.name.rsplit("-", 1)[0], task.task_key.rsplit("-", 1)[0]]
        logged = {log.task_run_id for log in logs if log.task_run_id}
        complete = logged <= {task.id for task in tasks} and all(task.state and task.state.is_final() for task in tasks)
        record = FlowRunRecord(run.state_type.value, run.state_name, tuple(names), tuple(log.message for log in logs))
        return record, complete, bool(logged)

    deadline = time.monotonic() + WAIT_S
    previous = None
    while True:
        record, complete, evidence = _call(api_url, read)
        if complete and (evidence or record == previous) or time.monotonic() > deadline:
            return record
        previous = record
        time.sleep(SETTLE_S)


def deployment_schedules(api_url: str, deployment_id: str) -> list[Schedule]:
    async def read(client):
        deployment = await client.read_deployment(UUID(deployment_id))
        return [
            Schedule(getattr(s.schedule, "cron", None), getattr(s.schedule, "timezone", None), s.active)
            for s in deployment.schedules
        ]

    return _call(api_url, read)


def schedule_and_count(api_url: str, deployment_id: str) -> int:
    """Have the server schedule the deployment's runs (what its scheduler service does) and
    count the runs in state Scheduled."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    async def schedule(client):
        response = await client.request("POST", "/deployments/{id}/schedule", path_params={"id": deployment_id}, json={})
        response.raise_for_status()
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[UUID(deployment_id)])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
        )
        return len(runs)

    return _call(api_url, schedule)


def create_deployment(api_url: str, flow_name: str, name: str, cron: str, timezone: str) -> str:
    """A deployment of a flow that has no code, only to be scheduled; returns its id."""
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    async def create(client):
        flow_id = await client.create_flow_from_name(flow_name)
        schedule = DeploymentScheduleCreate(schedule=CronSchedule(cron=cron, timezone=timezone))
        return str(await client.create_deployment(flow_id=flow_id, name=name, schedules=[schedule]))

    return _call(api_url, create)


def create_work_queue(api_url: str, name: str) -> None:
    async def create(client):
        await client.create_work_queue(name=name)

    _call(api_url, create)
