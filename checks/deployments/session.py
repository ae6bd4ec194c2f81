"""One grading session of the 2023 homework: the student's folder deployed with `prefect
deploy`, their flow run by a real worker, with the grader's mail server and webhook receiver
listening. The checks read the submission by its meaning (code.py): any deployment and pool
name, the flow that trains under any function name, its month parameters under any names.

The session does, once, in a thread of its own as soon as it opens (`start`):

1. copies the submission into `runs/deploy/work/` (hw3/submission.py's rule), bridges what
   cannot run here at no cost (a git_clone pull step of the student's repository becomes a
   local one; an entrypoint whose folder was the student's repository's is pointed at the
   file of that name), makes the pools prefect.yaml names (type process) and the checks' own
   pool `taxi-pool`, starts a worker of it, and runs `prefect --no-prompt deploy --all` (Q2);
2. meanwhile saves the email block: with the stub's `save_email_block`, else by running the
   student's own script that saves one (any name), then points every email block at the
   checks' mail server (Q5); then creates the automation with their `create_automation`
   (Q6);
3. deploys the student's flow once per run (the flow their deployment names, else the one of
   orchestrate.py that trains), each from a folder of its own (a copy of the submission with
   `data/` holding the sample months: the course's relative paths resolve there), and
   triggers at once the runs that the selected checks read (RUNS): `worker` (Q3, Q4, Q6, and
   Q5: given the checks' address), `retries` (Q1: its training file fails its first read,
   services.FlakyFile; the worker's run is this run too, and goes again on the whole file
   only if the cut read may have ended it) and, when the run's flow makes no artifact but a
   copy of the script does, `artifact` (Q4); then waits for them to end and for what they
   sent to arrive (prefect_api.evidence).

A mistake in one part thus costs that part. What the session did and when is in
`diary.json` in its folder (for whoever looks into a grading).
"""

from __future__ import annotations

import ast
import re
import secrets
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from checks.deployments import code as code_module
from checks.deployments import reuse
from checks.deployments.commands import TRAIN, VAL  # the months the runs read (as samples)
from checks.deployments.services import FlakyFile, MailSink, WebhookReceiver
from hw3.grading.answer_key import AnswerKey
from hw3 import submission
from hw3.catalogue import Catalogue
from hw3.grading import measure, tracebacks
from hw3.grading import prefect_api as api
from hw3.grading.gradebook import fail, figure_line, not_attempted
from hw3.grading.session import Session
from hw3.sandbox import drift
from hw3.sandbox.runner import (
    CommandResult,
    Sandbox,
    background,
    prefect_command,
    run_command,
)
from hw3.trips.tripdata import month_file

POOL = "taxi-pool"  # the checks' own pool, whose worker runs the flow
POOL_TYPE = "process"
PREFECT_FILE = "prefect.yaml"
OLD_DEPLOYMENT_FILES = ("deployment.yaml", "deployment.yml", "*-deployment.yaml")  # Prefect 2.10's, and `prefect deployment build`'s
EMAIL_BLOCK_TYPE = "email-server-credentials"
NOTIFY_DOMAIN = "@hw3-checks.example.com"
NOTIFY_TO = "student-{token}" + NOTIFY_DOMAIN  # the address the worker run mails, of this session only
WORKER_PROCESSES = 512  # the worker, a process per flow run and their threads
RUN_TIMEOUT_S = 300.0  # from the runs' creation to their end (about 30 s on a quiet machine; under a loaded CI 150 s was too short)
MAIL_WAIT_S = 5.0  # after the worker run ended, for its message
AUTOMATION_WAIT_S = 30.0  # after the first run completed, for the automation to act (events are persisted every few seconds)
DEPLOY_TIMEOUT_S = 120.0
# The worker polls every 2 s (each poll is a few queries of the server; at 1 s a worker cost the
# server 2.7 core-s a minute); one thread per numeric library per flow run (2 cores, and
# xgboost's exact trees slow down by 10 times or more with threads that wait on each other).
WORKER_ENV = {
    "PREFECT_WORKER_QUERY_SECONDS": "2",
    "PREFECT_WORKER_PREFETCH_SECONDS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONUNBUFFERED": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",  # the student's MLflow sends nothing from the checks' runs
}

# A flow's return value is kept, as JSON, in its run's folder (RESULTS_FOLDER), for a flow that
# returns its RMSE; tasks' results stay unkept (a DataFrame is not JSON). A value JSON cannot
# hold is not kept: Prefect logs a warning, and the run goes on.
RESULTS_ENV = {
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    "PREFECT_TASKS_DEFAULT_PERSIST_RESULT": "false",
    "PREFECT_RESULTS_DEFAULT_SERIALIZER": "json",
}
RESULTS_FOLDER = "results"

# The probe runs, and the questions whose checks read them.
READERS = {
    "email_block": {"Q5"},  # save_email_block(host, port), or the student's script that saves the block
    "automation": {"Q6"},  # create_automation("FLOW/DEPLOYMENT", url)
}
# The flow runs, and the questions whose checks read them. When the checks of the worker's run
# and of the retries run are both selected, one run is both: the worker's, with the training
# file whose first read fails (a task with retries reads it again). Only when the cut read may
# be what ended that run (_read_failed_unretried) does the worker's run go again, on the whole
# file; the first stays the retries run.
RUNS = {
    "worker": {"Q3", "Q4", "Q5", "Q6"},  # given the checks' address when the flow takes one (Q5)
    "retries": {"Q1"},
    "artifact": {"Q4"},  # only when the flow run makes no artifact and a copy of the script does
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
    student: api.DeploymentRecord | None  # the first one registered
    old_format: str | None = None  # the Prefect 2 file that holds the deployments prefect.yaml lacks
    bridges: list[str] = field(default_factory=list)  # what the checks bridged to deploy it, at no cost (_bridge)
    used: api.DeploymentRecord | None = None  # the deployment of the worker's run (the checks' own)


@dataclass
class FlowRun:
    """One flow run of the deployment, as the checks triggered it."""

    name: str
    parameters: dict
    record: api.RunRecord | None = None
    problem: str | None = None  # why it was not triggered
    not_attempted: bool = False
    evidence: api.Evidence | None = None  # what the run sent to the server, once it has all arrived
    flow: code_module.FlowFunction | None = None  # the flow it runs
    deployment_id: str | None = None  # the checks' deployment of it
    flaky: bool = False  # its training file's first read fails (services.FlakyFile)
    again: bool = False  # the shared run again, on the whole file (its first ended on the cut read)


@dataclass
class Ran:
    runs: dict[str, FlowRun] = field(default_factory=dict)
    flaky: FlakyFile | None = None
    worker_output: str = ""
    email_blocks: list[str] = field(default_factory=list)  # the names of the email blocks the checks pointed at their server

    def output_of(self, name: str) -> str:
        """The tracebacks the worker printed of the run `name`'s process: those whose frames
        name the run's own folder (the runs share the worker, and its output)."""
        blocks = self.worker_output.split(tracebacks.TRACEBACK)
        folder = self.runs[name].name
        return "".join(tracebacks.TRACEBACK + block for block in blocks[1:] if f"/flows/{folder}/work/" in block)

    def distinct(self) -> list[FlowRun]:
        """Each run once (the worker's run may also be the retries run)."""
        return list({id(run): run for run in self.runs.values()}.values())


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
        self.code = code_module.read(self.target)
        self.flow: code_module.FlowFunction | None = None  # the flow the runs run

    # -- data and sandboxes -----------------------------------------------------------

    @cached_property
    def sample_dir(self) -> Path:
        from hw3.trips.sample import ensure_sample_month  # pandas: not for a grade that re-checks answers only

        folder = self.folder / "data"
        for year, month in (TRAIN, VAL):
            ensure_sample_month(folder, year, month, taxi=self.key.taxi)
        return folder

    @cached_property
    def mlflow_template(self) -> Path | None:
        return reuse.mlflow_template()

    def month(self, year_month: tuple[int, int]) -> str:
        return month_file(self.key.taxi, *year_month)

    @cached_property
    def deploy_sandbox(self) -> Sandbox:
        """Where `prefect deploy` and the worker run: the submission's copy in work/."""
        files = tuple(self.sample_dir / self.month(m) for m in (TRAIN, VAL))
        return Sandbox(self.folder / "runs" / "deploy", self.api_url, files, self.key.taxi, relayed_ports=(self.mail.port,))

    def sandboxes(self) -> list[Sandbox]:
        """The folders whose paths a reason names relative: prefect deploy's, each run's, each probe's."""
        runs = [Sandbox(self.deploy_sandbox.folder / "flows" / name, self.api_url) for name in RUNS]
        return [*runs, self.deploy_sandbox, *(self.sandbox(name) for name in READERS)]

    def spec(self, name: str) -> tuple[str, Sandbox, dict]:
        if name == "email_block":
            script = self.email_script()
            return name, self.sandbox(name), {"smtp_server": "127.0.0.1", "smtp_port": self.mail.port,
                                              "script": script.removesuffix(".py"), "function": self.saves_by_function(script)}
        if name == "automation":
            return name, self.sandbox(name), {"deployment": self.deployed().used.full_name, "url": self.webhook.url}
        raise KeyError(name)

    def email_script(self) -> str:
        """The file that saves the email block: email_block.py (the stub's), else the first of
        the student's own scripts that saves an EmailServerCredentials block."""
        scripts = [f for f in self.code.email_scripts if f != code_module.MAIN_FILE]
        return "email_block.py" if (self.target / "email_block.py").is_file() and (
            not scripts or "email_block.py" in scripts or self.saves_by_function("email_block.py")) else (scripts or ["email_block.py"])[0]

    def email_blocks(self) -> list[str]:
        """The names of the email blocks on the server (those the student's code saved), once
        the checks have pointed them at their mail server."""
        return self.ran().email_blocks

    def saves_by_function(self, script: str) -> bool:
        path = self.target / script
        return path.is_file() and "def save_email_block" in path.read_text(encoding="utf-8", errors="replace")

    def report_code(self, gradebook) -> None:
        gradebook.notes += code_module.idioms(self.target)

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

    def _compute_oracle(self) -> tuple[float, float]:
        """The course pipeline's RMSE on the sample months, with xgboost's 2023 defaults and
        with today's (a student's unchanged 2023 script): both count."""
        months = self.sample_dir / self.month(TRAIN), self.sample_dir / self.month(VAL)
        return reuse.oracle_rmse(*months), reuse.oracle_rmse(*months, todays_defaults=True)

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
        declared, yaml_problem = self._declared()
        old_format = None if declared or yaml_problem else self._old_format()
        pools = {POOL} | {str(d["work_pool"]["name"]) for d in declared
                          if isinstance(d.get("work_pool"), dict) and d["work_pool"].get("name")}
        pool_type = api.ensure_work_pool(self.api_url, POOL, POOL_TYPE)
        for pool in pools - {POOL}:
            api.ensure_work_pool(self.api_url, pool, POOL_TYPE)
        if self.questions & (DEPLOY_READERS - {"Q2"}) and pool_type == POOL_TYPE:
            bridge = sandbox.folder / "drift"  # the course's lines that newer libraries broke, bridged in each flow run
            bridge.mkdir(exist_ok=True)
            shutil.copyfile(drift.__file__, bridge / "sitecustomize.py")
            argv = prefect_command(["prefect", "worker", "start", "--pool", POOL, "--name", self.worker_name, "--type", POOL_TYPE])
            self.worker = self._stack.enter_context(background(argv, sandbox, name="worker", env={**WORKER_ENV, "PYTHONPATH": str(bridge)},
                                                               processes=WORKER_PROCESSES))
        command, registered, bridges = None, [], []
        if not yaml_problem and declared:
            bridges = self._bridge(sandbox.work)
            started = time.time()
            command = run_command(prefect_command(["prefect", "--no-prompt", "deploy", "--all"]), sandbox, timeout=DEPLOY_TIMEOUT_S)
            self._mark("deployed")
            registered = self._registered(command, declared, started)
        student = next((d for d in registered if self.code.flow_at(d.entrypoint)), registered[0] if registered else None)
        self.flow = self.code.trainer(self.code.flow_at(student.entrypoint) if student else None)
        return Deployed(command, yaml_problem, declared, registered, student, old_format, bridges)

    def _old_format(self) -> str | None:
        """The Prefect 2 file that declares the deployments, when prefect.yaml does not."""
        import yaml

        for pattern in OLD_DEPLOYMENT_FILES:
            for path in sorted(self.target.glob(pattern)):
                try:
                    content = yaml.safe_load(path.read_text(encoding="utf-8"))
                except (yaml.YAMLError, UnicodeDecodeError, OSError):
                    continue
                if isinstance(content, dict) and (content.get("deployments") or content.get("flow_name") or content.get("entrypoint")):
                    return path.name
        return None

    def _bridge(self, work: Path) -> list[str]:
        """Make the copy's prefect.yaml deployable here, at no cost: a git_clone pull step (the
        student's repository, out of reach offline) becomes set_working_directory to this
        folder, and an entrypoint whose path was the student's repository's points at the
        file of that name in the submission. Returns what it did, in the student's words."""
        import yaml

        path = work / PREFECT_FILE
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        notes = []
        local = {"prefect.deployments.steps.set_working_directory": {"directory": str(work)}}
        sections = [content] + [d for d in content.get("deployments") or [] if isinstance(d, dict)]
        for section in sections:
            steps = section.get("pull")
            if not isinstance(steps, list):
                continue
            for number, step in enumerate(steps):
                name = next(iter(step), "") if isinstance(step, dict) else ""
                if name.rsplit(".", 1)[-1] in ("git_clone", "git_clone_project"):
                    steps[number] = local
                    notes.append(f"{PREFECT_FILE}: the pull step `{name}` clones your repository, which the checks cannot "
                                 "reach offline: they ran your deployment from your uploaded files instead, at no cost")
        for deployment in content.get("deployments") or []:
            entrypoint = deployment.get("entrypoint") if isinstance(deployment, dict) else None
            if isinstance(entrypoint, str) and ":" in entrypoint:
                file, function = entrypoint.rsplit(":", 1)
                if not (work / file).is_file() and (work / Path(file).name).is_file():
                    deployment["entrypoint"] = f"{Path(file).name}:{function}"
                    notes.append(f"{PREFECT_FILE}: the entrypoint {entrypoint!r} names a folder of your repository; the "
                                 f"checks used {Path(file).name} of your submission, at no cost")
        if notes:
            path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        return notes

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

    def pull_problem(self, deployment: api.DeploymentRecord) -> str | None:
        """Why the pull steps do not set the working directory to the folder of prefect.yaml
        (a git_clone step was replaced by one that does: _bridge)."""
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
        wanted = [name for name, readers in RUNS.items() if readers & self.questions and name != "artifact"]
        second = self.code.artifact_flow(self.flow) if "Q4" in self.questions else None
        wanted += ["artifact"] if second else []
        shared = {"worker", "retries"} <= set(wanted)  # one run is both (see RUNS)
        if "Q5" in self.questions and self.run("email_block").ok:
            # the student's block, whatever its name, sends to the checks' mail server
            ran.email_blocks = api.repoint_blocks(self.api_url, EMAIL_BLOCK_TYPE, {"smtp_server": "127.0.0.1", "smtp_port": self.mail.port,
                                                                                "smtp_type": "INSECURE"})
        for name in wanted:
            if not (shared and name == "retries"):
                flaky = name == "retries" or shared and name == "worker"
                ran.runs[name] = self._prepared(name, second if name == "artifact" else self.flow, ran, flaky=flaky)
        if shared:
            ran.runs["retries"] = ran.runs["worker"]
        worker = ran.runs.get("worker")
        if worker and worker.deployment_id:
            deployed.used = api.read_deployment(self.api_url, worker.deployment_id)
        if "Q6" in self.questions and deployed.used is not None:
            self.run("automation")
            self._mark("automation")
        self._finish(ran, ran.distinct())
        if shared and self._read_failed_unretried(ran):  # the worker's run again, on the whole file
            run = ran.runs["worker"]
            ran.runs["worker"] = FlowRun(run.name, run.parameters, flow=run.flow, deployment_id=run.deployment_id, again=True)
            self._finish(ran, [ran.runs["worker"]])
        if ran.flaky:
            ran.flaky.stop()
        ran.worker_output = "\n".join(self.worker.output()) if self.worker else ""
        return ran

    def _finish(self, ran: Ran, runs: list[FlowRun]) -> None:
        """Trigger `runs`, wait until they ended, then for their records to arrive."""
        for run in runs:
            if run.problem:
                continue
            if self.worker is None:
                run.problem = "no worker could be started"
                continue
            try:
                run_id = api.run_deployment(self.api_url, run.deployment_id, run.parameters,
                                            name=f"hw3-{run.name}-{'again-' if run.again else ''}{self.token}")
            except Exception as exc:
                run.problem = f"the server refused the run of {self.flow_described(run.name)} with {describe_parameters(run.parameters)}: {exc}"
                continue
            run.record = api.RunRecord(run_id, "", None, None, None, False, None, None, None, {}, run.deployment_id)
            if run.flaky and not run.again:
                ran.flaky.watch(retrying=lambda run_id=run_id: any(
                    t.state_name in ("AwaitingRetry", "Retrying") for t in api.task_runs(self.api_url, run_id)))
        again = " again" if any(run.again for run in runs) else ""
        self._mark("triggered" + again)
        ids = [run.record.id for run in runs if run.record]
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while ids:  # until every run ended, the time is up, or the worker is gone
            records = api.read_flow_runs(self.api_url, ids)
            for run in runs:
                if run.record:
                    run.record = records[run.record.id]
            if all(r.final for r in records.values()) or time.monotonic() > deadline or not self.worker.running:
                break
            time.sleep(1.0)
        self._mark("runs ended" + again)
        ended = [run for run in runs if run.record and run.record.final]
        with ThreadPoolExecutor(max_workers=max(len(ended), 1)) as waiting:  # each run's records, once they arrived
            for run, found in zip(ended, waiting.map(lambda r: api.evidence(self.api_url, r.record.id), ended)):
                run.evidence, run.record = found, found.run
        self._mark("evidence arrived" + again)

    @staticmethod
    def _read_failed_unretried(ran: Ran) -> bool:
        """Whether the cut read may be what ended the shared run: it ended otherwise than
        completed after the cut file was read, and a task failed on its only attempt (or none
        failed and none completed on a retry: the read was no task). A task that failed after
        a retry failed on the whole file, every read after the first gets it; a task that
        completed on a retry read the whole file and the run went on past the cut (it ended
        later, e.g. sending its mail): either run goes on as it is."""
        run = ran.runs["worker"]
        if run.record is None or not run.record.final or run.record.state_type == "COMPLETED":
            return False
        if ran.flaky is None or ran.flaky.swapped_at is None:
            return False
        tasks = run.evidence.tasks if run.evidence else ()
        failed = [t for t in tasks if t.state_type in ("FAILED", "CRASHED")]
        recovered = any(t.state_type == "COMPLETED" and t.run_count >= 2 for t in tasks)
        return any(t.run_count < 2 for t in failed) or not (failed or recovered)

    def _prepared(self, name: str, flow: code_module.FlowFunction | None, ran: Ran, flaky: bool = False) -> FlowRun:
        """The run `name` of `flow`, deployed by the checks from a folder of its own: a copy of
        the submission whose data/ (and ../data/) holds the sample months; its parameters are
        the months' paths when the flow takes them (else its defaults find them there), and the
        checks' address for a parameter that takes one (the worker run)."""
        if flow is None:
            main = self.target / code_module.MAIN_FILE
            if main.is_file() and "NotImplementedError" in main.read_text(encoding="utf-8", errors="replace"):
                return FlowRun(name, {}, problem=f"{code_module.MAIN_FILE} has no @flow yet: main_flow still raises "
                                                 "NotImplementedError", not_attempted=True)
            files = ", ".join(sorted({f.file for f in self.code.flows})) or "none of your files"
            return FlowRun(name, {}, problem=f"no @flow of your code trains the model (flows found in: {files}): "
                                             f"make the training script's main function a flow in {code_module.MAIN_FILE}")
        folder = self.deploy_sandbox.folder / "flows" / name
        work = folder / "work"
        submission.copy(self.target, work)
        reuse.provide_store(work, self.mlflow_template)
        (work / "data").mkdir(parents=True, exist_ok=True)
        (work / "models").mkdir(exist_ok=True)
        if not (folder / "data").exists():
            (folder / "data").symlink_to("work/data", target_is_directory=True)
        train, val = (work / "data" / self.month(m) for m in (TRAIN, VAL))
        shutil.copyfile(self.sample_dir / self.month(VAL), val)
        if flaky:
            ran.flaky = FlakyFile(train, self.sample_dir / self.month(TRAIN)).prepare()
        else:
            shutil.copyfile(self.sample_dir / self.month(TRAIN), train)
        parameters = {}
        months = flow.month_parameters()
        if months:
            parameters = {months[0]: str(train), months[1]: str(val)}
        if name == "worker" and flow.notify_parameter():
            parameters[flow.notify_parameter()] = self.notify_to
        run = FlowRun(name, parameters, flow=flow, flaky=flaky)
        try:
            env = {**RESULTS_ENV, "PREFECT_LOCAL_STORAGE_PATH": str(folder / RESULTS_FOLDER)}
            run.deployment_id = api.create_code_deployment(self.api_url, flow.name, f"hw3-{name}-{self.token}", work_pool=POOL,
                                                           entrypoint=flow.entrypoint, directory=str(work), env=env)
        except Exception as exc:
            run.problem = f"the checks could not deploy your flow {flow.function} ({type(exc).__name__}: {exc})"
        return run

    def flow_described(self, name: str) -> str:
        run = self.ran().runs.get(name) if self._ran.done() else None
        flow = run.flow if run and run.flow else self.flow
        return f"your flow {flow.function} ({flow.file})" if flow else "your flow"

    # -- what the checks read ---------------------------------------------------------

    def flow_run(self, name: str, *, own_part: bool = True, ended: bool = False) -> api.RunRecord:
        """The record of the run `name`, which must have completed (`ended`: ended in any
        state, for a part whose evidence a run may leave before it fails later, in another
        part's code); the check ends here otherwise (with the reason, or, for a check of
        another part, with a pointer)."""
        run = self.ran().runs.get(name)
        if run is None:
            fail(f"the checks did not run the flow for {name} (an error in the checks; please report it)")
        if run.problem:
            (not_attempted if run.not_attempted else fail)(run.problem if own_part else f"not seen: {run.problem}")
        record = run.record
        given = describe_parameters(run.parameters)
        what = f"the flow run of {self.flow_described(name)}" + (f" with {given}" if given else " with its defaults")
        if not record.final:
            fail(f"{what} did not end within {RUN_TIMEOUT_S:g} s (it is {record.state_name or 'not even scheduled'})"
                 + self.worker_hint(record))
        message = " ".join(str(record.state_message or "").split())
        if record.state_type != "COMPLETED" and "NotImplementedError" in message:
            not_attempted(f"the flow run ended {record.state_name}: main_flow (or a task it calls) still raises NotImplementedError")
        if record.state_type != "COMPLETED" and not ended:
            reason = f"{what} ended {record.state_name}: {self.cause(name) or message or 'no cause was recorded'}"
            absolute = [(f, n) for f, n in self.code.absolute_paths if run.flow and f == run.flow.file]
            if absolute and "FileNotFoundError" in reason:
                reason += (f"; {absolute[0][0]}, line {absolute[0][1]} names a data file by a path of your own machine: give "
                           "the flow the months' paths as parameters, or use the course's relative paths (./data/...)")
            fail(reason if own_part else f"not seen: {reason}")
        return record

    def cause(self, name: str) -> str | None:
        """The exception that ended the run `name`, with the student's file and line: from the
        run's logs on the server, else from what the worker printed of the run's process."""
        run = self.ran().runs[name]
        own = {path.name for path in self.target.rglob("*.py")}
        logs = "\n".join(run.evidence.logs) if run.evidence else ""
        output = self.ran().output_of(name)
        return (tracebacks.cause(logs, own, own_only=True) or tracebacks.cause(output, own, own_only=True)
                or tracebacks.cause(output, own) or tracebacks.cause(logs, own))

    def worker_hint(self, record: api.RunRecord) -> str:
        if self.worker is not None and not self.worker.running:
            tail = [line for line in self.ran().worker_output.splitlines() if line.strip()][-1:]
            return "; the worker stopped" + (f": {tail[0].strip()[:300]}" if tail else "")
        if record.state_type in (None, "SCHEDULED"):
            return f"; no worker of pool {POOL!r} picked it up"
        return ""

    @cached_property
    def oracle_rmse(self) -> tuple[float, float]:
        """(with xgboost's 2023 defaults, with today's): see _compute_oracle."""
        future = self._oracle or self._steps.submit(self._compute_oracle)
        return future.result()

    def evidence(self, name: str) -> api.Evidence:
        """What the run `name` sent to the server (its logs, task runs, artifacts), read once it
        had all arrived, whether the run completed or failed later; the check ends here when
        the run did not end, as flow_run says."""
        self.flow_run(name, own_part=False, ended=True)
        return self.ran().runs[name].evidence

    def reported_rmse(self, name: str) -> list[measure.Reading]:
        """Every RMSE the run `name` reported, wherever the student left it: its log lines (and
        printed lines, with log_prints), its markdown artifacts, the metrics of the MLflow
        stores in its folder (a SQLite file, read only) and the value its flow returned."""
        found = self.ran().runs[name].evidence
        readings = measure.reported_errors(found.logs)
        for artifact in found.artifacts:
            if artifact.type == "markdown":
                readings += [measure.reading(n, f"the markdown artifact shows {n}") for n in measure.NUMBER.findall(str(artifact.data)) if "." in n]
        folder = self.deploy_sandbox.folder / "flows" / self.ran().runs[name].name
        return readings + self.mlflow_metrics(folder / "work") + self.returned(folder / RESULTS_FOLDER)

    @staticmethod
    def mlflow_metrics(folder: Path) -> list[measure.Reading]:
        """The rmse-like metrics of the MLflow SQLite stores under `folder` (read by the
        submission's rule: no link out of the folder is followed)."""
        import sqlite3

        readings = []
        stores = submission.scan(folder, skip_patterns=(), keep=lambda relative: relative.suffix == ".db")
        for path in list(stores.kept.values())[:5]:
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                    rows = db.execute("SELECT key, value FROM metrics WHERE lower(key) LIKE '%rmse%' LIMIT 20").fetchall()
            except sqlite3.Error:
                continue
            readings += [measure.Reading(float(value), measure.TOLERANCE, f"MLflow metric {key} = {value}") for key, value in rows]
        return readings

    @staticmethod
    def returned(folder: Path) -> list[measure.Reading]:
        """The decimal numbers the flow returned (a number, or one in a list or mapping), from
        its result kept as JSON in `folder` (RESULTS_ENV)."""
        import json

        def numbers(value, depth=0):
            if isinstance(value, float):
                yield value
            elif isinstance(value, (list, dict)) and depth < 3:
                for item in list(value.values() if isinstance(value, dict) else value)[:50]:
                    yield from numbers(item, depth + 1)

        readings = []
        results = submission.scan(folder, skip_patterns=())
        for relative in list(results.kept)[:20]:
            try:
                value = json.loads(results.read_bytes(relative))
            except (OSError, ValueError):
                continue
            if isinstance(value, dict) and "result" in value and "metadata" in value:
                value = value["result"]
            readings += [measure.Reading(n, measure.TOLERANCE, f"your flow returned {n}") for n in numbers(value)]
        return readings

    def matching_rmse(self, name: str) -> measure.Reading | None:
        """The first RMSE the run reported that is the course pipeline's (either defaults)."""
        return next((r for r in self.reported_rmse(name) if any(r.matches(e) for e in self.oracle_rmse)), None)

    def figure_lines(self) -> list[str]:
        """The validation RMSE the worker's run logged, and whether it is the course
        pipeline's on the same sample months."""
        if not self._ran.done() or self._ran.exception() or "worker" not in self.ran().runs:
            return []
        found = self.ran().runs["worker"].evidence
        if found is None or found.run.state_type != "COMPLETED":
            return []
        readings = self.reported_rmse("worker")
        reading = self.matching_rmse("worker") or (readings[-1] if readings else None)
        same = any(reading.matches(e) for e in self.oracle_rmse) if reading else None
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


def describe_parameters(parameters: dict) -> str:
    """The run's parameters as a reason shows them: the same every grading (the checks'
    address of this session is not shown)."""
    return ", ".join(f"{name}={value!r}" if not str(value).endswith(NOTIFY_DOMAIN) else f"{name}=<the checks' address>"
                     for name, value in parameters.items())
