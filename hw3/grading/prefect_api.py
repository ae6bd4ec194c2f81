"""What the checks read from (and set up on) the test's Prefect server.

The grade rests on what the server recorded, not on what the submission's process said.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from uuid import UUID

from hw3.errors import Hw3Error

SETTLE_S = 1.0  # pause between two reads of a flow run's records
WAIT_S = 30.0  # the longest wait for them to be complete (a loaded server records events late)
STALLED_READS = 3  # a run that has not ended, whose records stayed the same this many reads: nothing more comes
PAGE = 200  # objects read in one request (the server's most)


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
    """Run `await work(client)` with a Prefect client of the server at api_url (made for it:
    changing the settings' API URL rebuilds all of Prefect's settings, which costs more; with
    the process's TLS context, tls.py)."""
    from prefect.client.orchestration import PrefectClient

    from hw3.grading import tls

    async def go():
        async with PrefectClient(api_url, httpx_settings={"verify": tls.prefect_context()}) as client:
            return await work(client)

    return asyncio.run(go())


def flow_run(api_url: str, flow_run_id: str) -> FlowRunRecord:
    """The flow run's state, task runs and logs, once the run's process has sent them all
    (`evidence`: the flow engine's last log, "Finished in state ...", has arrived)."""
    found = evidence(api_url, flow_run_id)
    names = []
    for task in found.tasks:
        names += [task.name.rsplit("-", 1)[0], task.task_key.rsplit("-", 1)[0]]
    return FlowRunRecord(found.run.state_type, found.run.state_name, tuple(names), found.logs)


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


# -- deployments run by a worker (the 2023 homework) ---------------------------------------


@dataclass(frozen=True)
class DeploymentRecord:
    id: str
    name: str
    flow_name: str
    work_pool_name: str | None
    work_queue_name: str | None
    entrypoint: str | None
    pull_steps: tuple[dict, ...]
    schedules: tuple[Schedule, ...]
    parameters: dict

    @property
    def full_name(self) -> str:
        """"FLOW/DEPLOYMENT", as `prefect deployment run` and read_deployment_by_name take it."""
        return f"{self.flow_name}/{self.name}"


@dataclass(frozen=True)
class RunRecord:
    """A flow run as the server has it (one read)."""

    id: str
    name: str
    state_type: str | None  # e.g. "COMPLETED"; None: no state yet
    state_name: str | None
    state_message: str | None
    final: bool
    start_time: float | None  # POSIX seconds
    end_time: float | None
    work_pool_name: str | None
    labels: dict
    deployment_id: str | None


@dataclass(frozen=True)
class TaskRunRecord:
    id: str
    name: str  # "Read taxi data-1a2"
    task_key: str
    state_type: str | None
    state_name: str | None
    state_message: str | None
    run_count: int
    retries: int | None  # the task's retry policy, as the run recorded it
    retry_delay: object  # seconds: a number, a list of numbers, or None


@dataclass(frozen=True)
class ArtifactRecord:
    key: str | None
    type: str | None
    data: object
    description: str | None


# The last record of a run: the flow engine's last log, which its process sends as it exits
# (task runs log the same words, so only a log of the flow run itself counts), or, when the
# process died before (a crash), the worker's log that it exited with an error.
ENGINE_FINISHED = "Finished in state"
WORKER_EXITED = re.compile(r"^(Process exited with status code|Process for flow run .* exited with status code)")


@dataclass(frozen=True)
class Evidence:
    """What a flow run sent to the server, read once all of it has arrived (or the wait ran out)."""

    run: RunRecord
    logs: tuple[str, ...]  # of the flow run and its task runs, oldest first
    tasks: tuple[TaskRunRecord, ...]  # the first started first
    artifacts: tuple[ArtifactRecord, ...]
    missing: str | None  # what had not arrived when the wait ran out


def evidence(api_url: str, flow_run_id: str, *, wait_s: float = WAIT_S) -> Evidence:
    """The flow run's records on the server, read once they are all there: the run has ended,
    its last record has arrived (ENGINE_FINISHED, or WORKER_EXITED), and each task
    run a log names is recorded and has ended. Logs, events and artifacts reach the server from
    the run's process in batches, so a read the moment a run ends can miss some. Reads again
    every SETTLE_S for at most `wait_s`; `missing` then says what had not arrived."""
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId,
                                                LogFilter, LogFilterFlowRunId)
    from prefect.client.schemas.sorting import LogSort

    run_id = UUID(flow_run_id)

    async def read(client):
        run = await client.read_flow_run(run_id)
        tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), sort=LogSort.TIMESTAMP_ASC)
        artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
        return run, tasks, logs, artifacts

    deadline = time.monotonic() + wait_s
    seen, unchanged = None, 0
    while True:
        run, tasks, logs, artifacts = _call(api_url, read)
        now = (run.state_name, len(logs), len(tasks), len(artifacts))
        unchanged, seen = (unchanged + 1 if now == seen else 0), now
        own = [log.message for log in logs if not log.task_run_id]
        last = any(m.startswith(ENGINE_FINISHED) or WORKER_EXITED.match(m) for m in own)
        unrecorded = {log.task_run_id for log in logs if log.task_run_id} - {task.id for task in tasks}
        running = [task.name for task in tasks if not (task.state and task.state.is_final())]
        missing = [what for what, absent in (
            (f"its end (it is {run.state_name})", not (run.state and run.state.is_final())),
            ("its last log (the flow engine's, or the worker's that its process died)", not last),
            (f"{len(unrecorded)} task run(s) that its logs name", bool(unrecorded)),
            (f"the end of task run(s) {', '.join(sorted(running))}", bool(running))) if absent]
        stalled = unchanged >= STALLED_READS and not (run.state and run.state.is_final())  # its process is gone
        if not missing or stalled or time.monotonic() > deadline:
            break
        time.sleep(SETTLE_S)
    ordered = sorted(tasks, key=lambda t: (t.start_time or t.expected_start_time or t.created).timestamp())
    return Evidence(_run_record(run), tuple(log.message for log in logs), tuple(map(_task_record, ordered)),
                    tuple(ArtifactRecord(a.key, a.type, a.data, a.description) for a in artifacts),
                    f"after {wait_s:g} s the server still lacked {'; '.join(missing)}" if missing else None)


def _task_record(task) -> TaskRunRecord:
    policy, state = task.empirical_policy, task.state
    return TaskRunRecord(str(task.id), task.name, task.task_key, state.type.value if state else None,
                         state.name if state else None, state.message if state else None, task.run_count,
                         getattr(policy, "retries", None), getattr(policy, "retry_delay", None))


def _seconds(moment) -> float | None:
    return moment.timestamp() if moment is not None else None


def ensure_work_pool(api_url: str, name: str, pool_type: str = "process") -> str:
    """The work pool `name` (made with type `pool_type` if there is none); returns its type."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    async def ensure(client):
        try:
            return (await client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))).type
        except ObjectAlreadyExists:
            return (await client.read_work_pool(name)).type

    return _call(api_url, ensure)


def _deployment_record(deployment, flow_name: str) -> DeploymentRecord:
    schedules = tuple(Schedule(getattr(s.schedule, "cron", None), getattr(s.schedule, "timezone", None), s.active)
                      for s in deployment.schedules)
    return DeploymentRecord(str(deployment.id), deployment.name, flow_name, deployment.work_pool_name,
                            deployment.work_queue_name, deployment.entrypoint, tuple(deployment.pull_steps or ()),
                            schedules, dict(deployment.parameters or {}))


def read_deployment(api_url: str, deployment_id: str) -> DeploymentRecord | None:
    """The deployment with this id (None: there is none)."""
    from prefect.exceptions import ObjectNotFound

    async def read(client):
        try:
            deployment = await client.read_deployment(UUID(deployment_id))
        except ObjectNotFound:
            return None
        flow = await client.read_flow(deployment.flow_id)
        return _deployment_record(deployment, flow.name)

    return _call(api_url, read)


def deployments_named(api_url: str, name: str) -> list[DeploymentRecord]:
    """The deployments called `name` (of any flow), the last updated first."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    async def read(client):
        found = await client.read_deployments(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[name])))
        records = []
        for deployment in sorted(found, key=lambda d: d.updated or d.created, reverse=True):
            flow = await client.read_flow(deployment.flow_id)
            records.append(_deployment_record(deployment, flow.name))
        return records

    return _call(api_url, read)


def create_code_deployment(api_url: str, flow_name: str, name: str, *, work_pool: str, entrypoint: str, directory: str,
                           env: dict[str, str] | None = None) -> str:
    """A deployment that a worker of `work_pool` runs from the code in `directory` (a pull
    step sets the working directory there), with `env` added to its runs' environment,
    without schedule; returns its id."""

    async def create(client):
        flow_id = await client.create_flow_from_name(flow_name)
        pull = [{"prefect.deployments.steps.set_working_directory": {"directory": directory}}]
        return str(await client.create_deployment(flow_id=flow_id, name=name, work_pool_name=work_pool, entrypoint=entrypoint,
                                                  pull_steps=pull, enforce_parameter_schema=False,
                                                  job_variables={"env": env} if env else None))

    return _call(api_url, create)


def run_deployment(api_url: str, deployment_id: str, parameters: dict, name: str | None = None) -> str:
    """Create a flow run of the deployment (a worker picks it up); returns its id."""

    async def create(client):
        run = await client.create_flow_run_from_deployment(UUID(deployment_id), parameters=parameters, name=name)
        return str(run.id)

    return _call(api_url, create)


def _run_record(run) -> RunRecord:
    state = run.state
    return RunRecord(str(run.id), run.name, state.type.value if state else None, state.name if state else None,
                     state.message if state else None, bool(state and state.is_final()), _seconds(run.start_time),
                     _seconds(run.end_time), run.work_pool_name, dict(run.labels or {}),
                     str(run.deployment_id) if run.deployment_id else None)


def read_flow_runs(api_url: str, flow_run_ids: list[str]) -> dict[str, RunRecord]:
    """The flow runs with these ids, by id."""

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read(client):
        found = {}
        for start in range(0, len(flow_run_ids), PAGE):
            ids = [UUID(run_id) for run_id in flow_run_ids[start:start + PAGE]]
            runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=PAGE)
            found |= {str(run.id): _run_record(run) for run in runs}
        return found

    return _call(api_url, read)


def task_runs(api_url: str, flow_run_id: str) -> list[TaskRunRecord]:
    """The task runs of a flow run, the first started first."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read(client):
        found = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])))
        return sorted(found, key=lambda t: (t.start_time or t.expected_start_time or t.created).timestamp())

    return [_task_record(task) for task in _call(api_url, read)]


def task_runs_named(api_url: str, name: str, since: float, until: float) -> list[TaskRunRecord]:
    """The task runs of any flow run called `name` ("Read taxi data-1a2" counts) that started
    between `since` and `until` (POSIX seconds)."""
    import datetime

    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterStartTime

    def moment(seconds: float):
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)

    async def read(client):
        window = TaskRunFilterStartTime(after_=moment(since), before_=moment(until))
        return await client.read_task_runs(task_run_filter=TaskRunFilter(start_time=window), limit=PAGE)

    return [_task_record(t) for t in _call(api_url, read) if t.name.rsplit("-", 1)[0] == name]


def artifacts(api_url: str, flow_run_id: str) -> list[ArtifactRecord]:
    """The artifacts a flow run (or one of its task runs) created."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read(client):
        return await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)])))

    return [ArtifactRecord(a.key, a.type, a.data, a.description) for a in _call(api_url, read)]


def block_document(api_url: str, block_document_id: str) -> tuple[str | None, str | None, dict] | None:
    """(name, block type slug, data without secrets) of a block document (None: there is none)."""
    from prefect.exceptions import ObjectNotFound

    async def read(client):
        try:
            block = await client.read_block_document(UUID(block_document_id), include_secrets=False)
        except ObjectNotFound:
            return None
        slug = block.block_type.slug if block.block_type else None
        return block.name, slug, dict(block.data or {})

    return _call(api_url, read)


def repoint_blocks(api_url: str, block_type: str, data: dict) -> list[str]:
    """Set `data` in every block document of type `block_type` (e.g. an email block's server,
    so that the student's block sends to the checks' own); returns their names."""
    from prefect.client.schemas.actions import BlockDocumentUpdate
    from prefect.exceptions import ObjectNotFound

    async def update(client):
        try:
            found = await client.read_block_documents_by_type(block_type, include_secrets=False)
        except ObjectNotFound:
            return []
        for block in found:
            await client.update_block_document(block.id, BlockDocumentUpdate(data=data, merge_existing_data=True))
        return [block.name for block in found if block.name]

    return _call(api_url, update)


def automation(api_url: str, automation_id: str) -> dict | None:
    """An automation as JSON data (name, enabled, trigger, actions); None: there is none."""

    async def read(client):
        found = await client.read_automation(UUID(automation_id))
        return found.model_dump(mode="json") if found else None

    return _call(api_url, read)


def events(api_url: str, names: list[str], related_to: str | None = None, since: float | None = None) -> list[dict]:
    """Events called one of `names` (optionally related to the resource id `related_to`,
    e.g. "prefect.automation.<id>"), from `since` (POSIX seconds) on, as JSON data."""
    import datetime

    start = datetime.datetime.fromtimestamp(since if since is not None else time.time() - 3600, datetime.timezone.utc)
    body = {"filter": {"occurred": {"since": start.isoformat()}, "event": {"name": names}, "order": "ASC"}, "limit": 50}
    if related_to:
        body["filter"]["any_resource"] = {"id": [related_to]}

    async def read(client):
        response = await client.request("POST", "/events/filter", json=body)
        response.raise_for_status()
        return response.json().get("events", [])

    return _call(api_url, read)


def empty_server(api_url: str) -> None:
    """Delete what a graded submission left on a server that grades the next one: its flows
    (with their deployments and runs), automations, blocks, work pools, variables, global
    concurrency limits and artifacts."""

    async def each(read, delete, key=lambda item: item.id):
        while True:
            items = await read()
            if not items:
                return
            for item in items:
                await delete(key(item))

    async def empty(client):
        await each(lambda: client.read_automations(), client.delete_automation)
        await each(lambda: client.read_flows(limit=200), client.delete_flow)
        await each(lambda: client.read_flow_runs(limit=200), client.delete_flow_run)
        await each(lambda: client.read_artifacts(limit=200), client.delete_artifact)
        await each(lambda: client.read_block_documents(include_secrets=False, limit=200), client.delete_block_document)
        await each(lambda: client.read_work_pools(limit=200), client.delete_work_pool, key=lambda pool: pool.name)
        await each(lambda: client.read_variables(limit=200), client.delete_variable_by_name, key=lambda v: v.name)
        await each(lambda: client.read_global_concurrency_limits(limit=200), client.delete_global_concurrency_limit_by_name,
                   key=lambda limit: limit.name)

    _call(api_url, empty)


def require_work_pool(api_url: str, name: str) -> None:
    """Hw3Error unless the server has the work pool `name`."""
    from prefect.exceptions import ObjectNotFound

    async def read(client):
        try:
            await client.read_work_pool(name)
        except ObjectNotFound:
            raise Hw3Error(f"--work-pool {name}: {api_url} has no such work pool; make it with "
                           f"`prefect work-pool create {name} --type process` and start its workers") from None

    _call(api_url, read)


def delete_work_pool(api_url: str, name: str) -> None:
    _call(api_url, lambda client: client.delete_work_pool(name))


def cancel_flow_run(api_url: str, flow_run_id: str) -> None:
    """Ask the flow run's worker to cancel it."""
    from prefect.states import Cancelling

    _call(api_url, lambda client: client.set_flow_run_state(UUID(flow_run_id), Cancelling(), force=True))


def crash_flow_run(api_url: str, flow_run_id: str, message: str) -> None:
    """Mark a flow run whose process is gone (its machine stopped) Crashed."""
    from prefect.states import Crashed

    _call(api_url, lambda client: client.set_flow_run_state(UUID(flow_run_id), Crashed(message=message), force=True))


def variables(api_url: str, names: list[str]) -> dict[str, object]:
    """The values of the variables with these names that the server has, by name."""

    async def read(client):
        found = {}
        for start in range(0, len(names), PAGE):
            body = {"variables": {"name": {"any_": names[start:start + PAGE]}}, "limit": PAGE}
            response = await client._client.post("/variables/filter", json=body)
            response.raise_for_status()
            found |= {row["name"]: row["value"] for row in response.json()}
        return found

    return _call(api_url, read) if names else {}


def delete_variable(api_url: str, name: str) -> None:
    """Remove the variable `name`, if the server has it."""
    from prefect.exceptions import ObjectNotFound

    async def delete(client):
        try:
            await client.delete_variable_by_name(name)
        except ObjectNotFound:
            pass

    _call(api_url, delete)


def artifact_by_key(api_url: str, key: str) -> ArtifactRecord | None:
    """The latest artifact with this key, if there is one."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read(client):
        return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), limit=1)

    found = _call(api_url, read)
    return ArtifactRecord(found[0].key, found[0].type, found[0].data, found[0].description) if found else None
