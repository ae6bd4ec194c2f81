"""One grading session of the 2023 homework: the student's folder deployed with `prefect
deploy`, run by a real worker, with the grader's mail server and webhook receiver listening.

The session does, once, in a thread of its own as soon as it opens (`start`):

1. copies the submission into the run folder `runs/deploy/work/` (beside `data/` with the
   sample months), makes the work pool `taxi-pool` (type process) through the API, as the
   student did with the CLI, and starts a worker for it, `prefect worker start --pool
   taxi-pool --name hw3-checks-<token>`, in the background in that same folder and wall (so
   the path the deployment's pull step names exists for it), with the mail server's port
   relayed into the wall;
2. runs `prefect --no-prompt deploy --all` there (Q2) and reads what it registered; when that
   deployment cannot be run (no deployment, another pool, no pull step to this folder), the
   checks make one of their own of `orchestrate.py:main_flow` on the pool, so that a broken
   prefect.yaml costs Q2 only;
3. meanwhile saves the email block with the student's `save_email_block` (probe job
   `email_block`, Q5), then creates the automation with their `create_automation` for the
   deployment the runs use and the receiver's URL (probe job `automation`, Q6);
4. triggers, at once, the flow runs of the deployment that the selected checks read (RUNS),
   on the sample months (train 2023-01, validate 2023-02): `worker` (Q3, Q4, Q6), `retries`
   (Q1: its training file fails its first read, see services.FlakyFile) and `email` (Q5:
   with `notify_to`), and waits for them to end (RUN_TIMEOUT_S at most).

A mistake in one part thus costs that part: the email run is not the worker run, the
retries run is a run of its own, and the runs do not need the student's deployment. What the
session did and when is in `diary.json` in its folder (for whoever looks into a grading).
"""

from __future__ import annotations

import ast
import re
import secrets
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from checks.deployments.services import FlakyFile, MailSink, WebhookReceiver
from hw3.answer_key import AnswerKey
from hw3 import submission
from hw3.catalogue import Catalogue
from hw3.grading import measure
from hw3.grading import prefect_api as api
from hw3.grading.gradebook import fail, figure_line, not_attempted
from hw3.grading.session import Session
from hw3.sample import ensure_sample_month
from hw3.sandbox.runner import (
    CommandResult,
    Sandbox,
    background,
    prefect_command,
    run_command,
)
from hw3.tripdata import month_file

POOL = "taxi-pool"
POOL_TYPE = "process"
DEPLOYMENT = "taxi-monthly"
ENTRYPOINT = "orchestrate.py:main_flow"
FLOW_FUNCTION = "main_flow"
PREFECT_FILE = "prefect.yaml"
TRAIN, VAL = (2023, 1), (2023, 2)  # the sample months the runs read
NOTIFY_TO = "student-{token}@hw3-checks.example.com"  # the address of the email run, of this session only
WORKER_PROCESSES = 512  # the worker, a process per flow run and their threads
RUN_TIMEOUT_S = 150.0  # from the runs' creation to their end
MAIL_WAIT_S = 5.0  # after the email run ended, for its message
AUTOMATION_WAIT_S = 30.0  # after the first run completed, for the automation to act (events are persisted every few seconds)
DEPLOY_TIMEOUT_S = 120.0
# The worker polls every second; one thread per numeric library per flow run (2 cores, and
# xgboost's exact trees slow down by 10 times or more with threads that wait on each other).
WORKER_ENV = {
    "PREFECT_WORKER_QUERY_SECONDS": "1",
    "PREFECT_WORKER_PREFETCH_SECONDS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONUNBUFFERED": "1",
}

# The probe runs, and the questions whose checks read them.
READERS = {
    "email_block": {"Q5"},  # save_email_block(host, port)
    "automation": {"Q6"},  # create_automation("FLOW/DEPLOYMENT", url)
}
# The flow runs of the deployment, and the questions whose checks read them.
RUNS = {
    "worker": {"Q3", "Q4", "Q6"},
    "retries": {"Q1"},
    "email": {"Q5"},
}
DEPLOY_READERS = {"Q1", "Q2", "Q3", "Q4", "Q5", "Q6"}
CREATED = re.compile(r"Deployment '([^'\n]+)' successfully (?:created|updated) with id '([0-9a-fA-F-]{36})'")


@dataclass
class Deployed:
    """What `prefect deploy` did, and the deployment the runs use."""

    command: CommandResult | None
    yaml_problem: str | None  # prefect.yaml missing or unreadable
    declared: list[dict]  # the deployments prefect.yaml declares
    registered: list[api.DeploymentRecord]  # what the deploy registered
    student: api.DeploymentRecord | None  # the one called taxi-monthly (else the first registered)
    problems: list[str]  # why the student's deployment cannot run the homework's runs
    used: api.DeploymentRecord | None = None  # the student's, else the checks' own
    harness_problem: str | None = None  # why the checks' own deployment could not be made


@dataclass
class FlowRun:
    """One flow run of the deployment, as the checks triggered it."""

    name: str
    parameters: dict
    record: api.RunRecord | None = None
    problem: str | None = None  # why it was not triggered
    not_attempted: bool = False
    evidence: api.Evidence | None = None  # what the run sent to the server, once it has all arrived


@dataclass
class Ran:
    runs: dict[str, FlowRun] = field(default_factory=dict)
    flaky: FlakyFile | None = None
    worker_output: str = ""


class GradingSession(Session):
    READERS = READERS
    JOBS_FILE = Path(__file__).with_name("jobs.py")

    def __init__(self, target: Path, key: AnswerKey, course: Catalogue, api_url: str, folder: Path,
                 mail: MailSink, webhook: WebhookReceiver):
        super().__init__(target, key, course, api_url, folder)
        self.mail, self.webhook = mail, webhook
        self.token = secrets.token_hex(4)
        self.worker_name = f"hw3-checks-{self.token}"
        self.notify_to = NOTIFY_TO.format(token=self.token)
        self.questions: set[str] = set()
        self._stack = ExitStack()
        self._steps = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hw3-deployments")
        self._deployed: Future[Deployed] = Future()
        self._ran: Future[Ran] = Future()
        self._oracle: Future[float] | None = None
        self.worker = None  # runner.Background
        self.timings: dict[str, float] = {}
        self._started = time.monotonic()

    # -- data and sandboxes -----------------------------------------------------------

    @cached_property
    def sample_dir(self) -> Path:
        folder = self.folder / "data"
        for year, month in (TRAIN, VAL):
            ensure_sample_month(folder, year, month, taxi=self.key.taxi)
        return folder

    def month(self, year_month: tuple[int, int]) -> str:
        return month_file(self.key.taxi, *year_month)

    @cached_property
    def deploy_sandbox(self) -> Sandbox:
        """Where `prefect deploy` and the worker run: the submission's copy in work/."""
        files = tuple(self.sample_dir / self.month(m) for m in (TRAIN, VAL))
        return Sandbox(self.folder / "runs" / "deploy", self.api_url, files, self.key.taxi, relayed_ports=(self.mail.port,))

    def data_path(self, year_month: tuple[int, int]) -> Path:
        return self.deploy_sandbox.data_dir / self.month(year_month)

    def sandboxes(self) -> list[Sandbox]:
        return [self.deploy_sandbox, *(self.sandbox(name) for name in READERS)]

    def spec(self, name: str) -> tuple[str, Sandbox, dict]:
        if name == "email_block":
            return name, self.sandbox(name), {"smtp_server": "127.0.0.1", "smtp_port": self.mail.port}
        if name == "automation":
            return name, self.sandbox(name), {"deployment": self.deployed().used.full_name, "url": self.webhook.url}
        raise KeyError(name)

    # -- the session's work, in a thread --------------------------------------------------

    @classmethod
    def start_ahead(cls, target: Path, api_url: str, folder: Path, kept: bool = False) -> None:
        """Nothing: this session's two probes run at different times, in fresh interpreters."""

    def start(self, questions: set[str]) -> None:
        self.questions = set(questions)
        if "Q3" in self.questions:
            self._oracle = self._steps.submit(self._compute_oracle)
        if "Q5" in self.questions:
            self.run("email_block", wait=False)
        if self.questions & DEPLOY_READERS:
            self._steps.submit(self._work)

    def _compute_oracle(self) -> float:
        from checks.deployments import oracle

        return oracle.rmse(self.sample_dir / self.month(TRAIN), self.sample_dir / self.month(VAL))["rmse"]

    def _work(self) -> None:
        try:
            deployed = self._deploy()
        except BaseException as exc:
            self._deployed.set_exception(exc)
            self._ran.set_exception(exc)
            raise
        self._deployed.set_result(deployed)
        try:
            self._ran.set_result(self._run_flows(deployed))
        except BaseException as exc:
            self._ran.set_exception(exc)
            raise

    def deployed(self) -> Deployed:
        return self._deployed.result()

    def ran(self) -> Ran:
        return self._ran.result()

    def _mark(self, what: str) -> None:
        self.timings[what] = round(time.monotonic() - self._started, 1)

    def _deploy(self) -> Deployed:
        sandbox = self.deploy_sandbox
        sandbox.prepare()
        submission.copy(self.target, sandbox.work)
        pool_type = api.ensure_work_pool(self.api_url, POOL, POOL_TYPE)
        if self.questions & (DEPLOY_READERS - {"Q2"}) and pool_type == POOL_TYPE:
            argv = prefect_command(["prefect", "worker", "start", "--pool", POOL, "--name", self.worker_name, "--type", POOL_TYPE])
            self.worker = self._stack.enter_context(background(argv, sandbox, name="worker", env=WORKER_ENV,
                                                               processes=WORKER_PROCESSES))
        declared, yaml_problem = self._declared()
        command, registered = None, []
        if not yaml_problem and declared:
            started = time.time()
            command = run_command(prefect_command(["prefect", "--no-prompt", "deploy", "--all"]), sandbox, timeout=DEPLOY_TIMEOUT_S)
            self._mark("deployed")
            registered = self._registered(command, declared, started)
        student = next((d for d in registered if d.name == DEPLOYMENT), registered[0] if registered else None)
        deployed = Deployed(command, yaml_problem, declared, registered, student, self.run_problems(student))
        if student is not None and not deployed.problems:
            deployed.used = student
        elif self.questions & (DEPLOY_READERS - {"Q2"}):  # runs to come: the checks deploy the flow themselves
            try:
                deployment_id = api.create_code_deployment(self.api_url, self.flow_name(student), f"hw3-checks-{self.token}",
                                                           work_pool=POOL, entrypoint=ENTRYPOINT, directory=str(sandbox.work))
                deployed.used = api.read_deployment(self.api_url, deployment_id)
            except Exception as exc:
                deployed.harness_problem = f"the checks could not deploy your flow themselves ({type(exc).__name__}: {exc})"
        return deployed

    def _declared(self) -> tuple[list[dict], str | None]:
        """The deployments prefect.yaml declares, or why it cannot be read."""
        import yaml

        path = self.target / PREFECT_FILE
        if not path.is_file():
            return [], f"{PREFECT_FILE} is missing from your folder"
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            return [], f"{PREFECT_FILE} is not valid YAML: {' '.join(str(exc).split())}"
        if not isinstance(content, dict):
            return [], f"{PREFECT_FILE} is not a mapping of sections (name, build, push, pull, deployments)"
        deployments = content.get("deployments") or []
        if not isinstance(deployments, list):
            return [], f"`deployments` in {PREFECT_FILE} is not a list"
        return [d for d in deployments if isinstance(d, dict) and d.get("name")], None

    def _registered(self, command: CommandResult, declared: list[dict], since: float) -> list[api.DeploymentRecord]:
        """The deployments the deploy command registered: the ids it printed, else the
        deployments of the names prefect.yaml declares updated since it started."""
        found = []
        for _, deployment_id in CREATED.findall(command.stdout + command.stderr):
            record = api.read_deployment(self.api_url, deployment_id)
            if record and record.id not in {r.id for r in found}:
                found.append(record)
        if found or command.returncode != 0:
            return found
        for entry in declared:
            for record in api.deployments_named(self.api_url, str(entry["name"])):
                if record.id not in {r.id for r in found}:
                    found.append(record)
        return found

    def flow_name(self, student: api.DeploymentRecord | None) -> str:
        """The name of the student's flow: their deployment's, else the one @flow gives
        main_flow in orchestrate.py (its `name=`, else the function's name with dashes)."""
        if student is not None:
            return student.flow_name
        try:
            tree = ast.parse((self.target / "orchestrate.py").read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            tree = None
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == FLOW_FUNCTION:
                for decorator in node.decorator_list:
                    for keyword in getattr(decorator, "keywords", []):
                        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
                            return keyword.value.value
        return FLOW_FUNCTION.replace("_", "-")

    def run_problems(self, deployment: api.DeploymentRecord | None) -> list[str]:
        """Why a worker of the pool cannot run this deployment of the homework's flow from
        the folder prefect deploy ran in (empty: it can)."""
        if deployment is None:
            return ["no deployment"]
        problems = []
        if deployment.work_pool_name != POOL:
            problems.append(f"it is on work pool {deployment.work_pool_name!r}, not {POOL!r}")
        if normal_entrypoint(deployment.entrypoint) != ENTRYPOINT:
            problems.append(f"its entrypoint is {deployment.entrypoint!r}, not {ENTRYPOINT!r}")
        problem = self.pull_problem(deployment)
        if problem:
            problems.append(problem)
        return problems

    def pull_problem(self, deployment: api.DeploymentRecord) -> str | None:
        """Why the pull steps do not set the working directory to the folder of prefect.yaml."""
        folder = self.deploy_sandbox.work.resolve()
        directories = [step[name].get("directory") for step in deployment.pull_steps if isinstance(step, dict)
                       for name in step if name.endswith("set_working_directory") and isinstance(step[name], dict)]
        if not directories:
            kinds = [name.rsplit(".", 1)[-1] for step in deployment.pull_steps if isinstance(step, dict) for name in step]
            return ("it has no pull step" if not kinds else f"its pull steps ({', '.join(kinds)}) do not set the working "
                    "directory") + " to the folder that holds prefect.yaml, so a worker cannot find the code"
        for directory in directories:
            text = str(directory)
            if "{{" in text:
                return (f"its pull step's directory is still the template {text!r} on the server (prefect deploy "
                        "could not fill it in), so a worker would fill it in from its own environment, not with the "
                        "folder that holds prefect.yaml")
            path = Path(text)
            if not path.is_absolute():
                return f"its pull step's directory is {text!r}, a relative path: a worker would look for it in its own directory"
            try:
                if path.resolve() == folder:
                    return None
            except OSError:
                pass
        return f"its pull step sets the working directory to {directories[0]!r}, not the folder where prefect deploy ran"

    def _run_flows(self, deployed: Deployed) -> Ran:
        ran = Ran()
        wanted = [name for name, readers in RUNS.items() if readers & self.questions]
        if "email" in wanted:
            email = self.run("email_block")
            if not email.ok:
                ran.runs["email"] = FlowRun("email", {}, problem=f"the email block was not saved: {email.reason}",
                                            not_attempted=email.outcome == "not attempted")
                wanted.remove("email")
        if "Q6" in self.questions and deployed.used is not None:
            self.run("automation")
            self._mark("automation")
        months = {"train_path": str(self.data_path(TRAIN)), "val_path": str(self.data_path(VAL))}
        for name in wanted:
            parameters = dict(months)
            if name == "email":
                parameters["notify_to"] = self.notify_to
            if name == "retries":
                ran.flaky = FlakyFile(self.deploy_sandbox.data_dir / "retry" / self.month(TRAIN), self.data_path(TRAIN)).prepare()
                parameters["train_path"] = str(ran.flaky.path)
            ran.runs[name] = FlowRun(name, parameters)
        if deployed.used is None or self.worker is None:
            why = deployed.harness_problem or "no worker could be started"
            for run in ran.runs.values():
                run.problem = run.problem or why
            return ran
        for name, run in ran.runs.items():
            if run.problem:
                continue
            try:
                run_id = api.run_deployment(self.api_url, deployed.used.id, run.parameters, name=f"hw3-{name}-{self.token}")
            except Exception as exc:
                run.problem = f"the server refused the run of {self.deployment_described()} with {describe_parameters(run.parameters)}: {exc}"
                continue
            run.record = api.RunRecord(run_id, "", None, None, None, False, None, None, None, {}, deployed.used.id)
            if name == "retries":
                ran.flaky.watch(retrying=lambda run_id=run_id: any(
                    t.state_name in ("AwaitingRetry", "Retrying") for t in api.task_runs(self.api_url, run_id)))
        self._mark("triggered")
        ids = [run.record.id for run in ran.runs.values() if run.record]
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while ids:  # until every run ended, the time is up, or the worker is gone
            records = api.read_flow_runs(self.api_url, ids)
            for run in ran.runs.values():
                if run.record:
                    run.record = records[run.record.id]
            if all(r.final for r in records.values()) or time.monotonic() > deadline or not self.worker.running:
                break
            time.sleep(1.0)
        self._mark("runs ended")
        ended = [run for run in ran.runs.values() if run.record and run.record.final]
        with ThreadPoolExecutor(max_workers=max(len(ended), 1)) as waiting:  # each run's records, once they arrived
            for run, found in zip(ended, waiting.map(lambda r: api.evidence(self.api_url, r.record.id, by_worker=True), ended)):
                run.evidence, run.record = found, found.run
        self._mark("evidence arrived")
        if ran.flaky:
            ran.flaky.stop()
        ran.worker_output = "\n".join(self.worker.output())
        return ran

    # -- what the checks read ---------------------------------------------------------

    def flow_run(self, name: str, *, own_part: bool = True) -> api.RunRecord:
        """The record of the run `name`, which must have completed; the check ends here
        otherwise (with the reason, or, for a check of another part, with a pointer)."""
        run = self.ran().runs.get(name)
        if run is None:
            fail(f"the checks did not run the flow for {name} (an error in the checks; please report it)")
        if run.problem:
            (not_attempted if run.not_attempted else fail)(run.problem if own_part else f"not seen: {run.problem}")
        record = run.record
        what = f"the flow run of {self.deployment_described()} with {describe_parameters(run.parameters)}"
        if not record.final:
            fail(f"{what} did not end within {RUN_TIMEOUT_S:g} s (it is {record.state_name or 'not even scheduled'})"
                 + self.worker_hint(record))
        if record.state_type != "COMPLETED":
            message = " ".join(str(record.state_message or "").split())
            if "NotImplementedError" in message:
                not_attempted(f"the flow run ended {record.state_name}: main_flow (or a task it calls) still raises NotImplementedError")
            reason = f"{what} ended {record.state_name}" + (f": {message}" if message else "")
            fail(reason if own_part else f"not seen: {reason}")
        return record

    def deployment_described(self) -> str:
        """The deployment the runs use, as a reason names it."""
        deployed = self.deployed()
        if deployed.used is deployed.student:
            return deployed.used.full_name
        return "your flow (deployed by the checks themselves: prefect deploy gave no deployment that a worker can run, see Q2)"

    def worker_hint(self, record: api.RunRecord) -> str:
        if self.worker is not None and not self.worker.running:
            tail = [line for line in self.ran().worker_output.splitlines() if line.strip()][-1:]
            return "; the worker stopped" + (f": {tail[0].strip()[:300]}" if tail else "")
        if record.state_type in (None, "SCHEDULED"):
            return f"; no worker of pool {POOL!r} picked it up"
        return ""

    @cached_property
    def oracle_rmse(self) -> float:
        future = self._oracle or self._steps.submit(self._compute_oracle)
        return future.result()

    def evidence(self, name: str) -> api.Evidence:
        """What the run `name` sent to the server (its logs, task runs, artifacts), read once it
        had all arrived; the check ends here when the run did not complete, as flow_run says."""
        self.flow_run(name, own_part=False)
        return self.ran().runs[name].evidence

    def reported_rmse(self, found: api.Evidence) -> measure.Reading | None:
        return measure.validation_mse(list(found.logs))

    def figure_lines(self) -> list[str]:
        """The validation RMSE the worker's run logged, and whether it is the course
        pipeline's on the same sample months."""
        if not self._ran.done() or self._ran.exception() or "worker" not in self.ran().runs:
            return []
        found = self.ran().runs["worker"].evidence
        if found is None or found.run.state_type != "COMPLETED":
            return []
        reading = self.reported_rmse(found)
        same = reading.matches(self.oracle_rmse) if reading else None
        where = f"synthetic sample, {self.month(TRAIN)} -> {self.month(VAL)}"
        return [figure_line("validation RMSE", reading and reading.value, same, self.course["Q3"], where=where)]

    def close(self) -> None:
        ran = self._ran.result() if self._ran.done() and not self._ran.exception() else None
        if ran and ran.flaky:
            ran.flaky.stop()
        self._mark("closed")
        self.write_diary(ran)
        self._stack.close()
        self._steps.shutdown(wait=True, cancel_futures=True)
        super().close()


    def write_diary(self, ran: Ran | None) -> None:
        """What the session did and when (seconds from its start), for whoever looks into a
        grading: `diary.json` in the session's folder."""
        import json

        diary = {"timings": self.timings, "worker": self.worker_name, "runs": {}}
        for name, run in (ran.runs if ran else {}).items():
            record = run.record
            diary["runs"][name] = {"problem": run.problem, "state": record and record.state_name,
                                   "seconds": record and record.start_time and record.end_time and round(record.end_time - record.start_time, 1)}
        if ran and ran.flaky:
            diary["flaky"] = {"opened": ran.flaky.opened_at is not None, "swapped_because": ran.flaky.swapped_because}
        try:
            (self.folder / "diary.json").write_text(json.dumps(diary, indent=1, default=str), encoding="utf-8")
        except OSError:
            pass


def normal_entrypoint(entrypoint: str | None) -> str | None:
    """"./orchestrate.py:main_flow" -> "orchestrate.py:main_flow"."""
    if not entrypoint or ":" not in entrypoint:
        return entrypoint
    path, function = entrypoint.rsplit(":", 1)
    return f"{Path(path).as_posix().removeprefix('./')}:{function.strip()}"


def describe_parameters(parameters: dict) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in parameters.items())
