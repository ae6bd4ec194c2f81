"""The checks of the 2023 homework (`pytest checks --assignment deployments`): the reference
gets full marks, the homework's stubs (and a folder decorated but not written) get 0 with
every question "not attempted", and each realistic mistake costs its own question's part only.

Each grading runs the checks in a child process (`--results-json`) against one Prefect server
of this module (started like the checks' own: `prefect server start`, services on, so its
automations act). A grading deploys the folder, starts a worker and runs the flow once or twice, so
it takes 15-45 s; to stay within a few minutes, each mistake folder holds several
mistakes of different questions, and the test asserts every question's marks: a mistake that
leaked into another question would show there.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from submissions import PROJECT_ROOT, Edits, make_submission, run_checks

from hw3 import assignment as assignment_module

ASSIGNMENT = assignment_module.load("deployments")
COURSE = ASSIGNMENT.catalogue
REFERENCE = PROJECT_ROOT / "solutions" / "deployments"
FILES = ("orchestrate.py", "prefect.yaml", "email_block.py", "automation.py", "answers.toml")
STUBBED = {"orchestrate.py": ("read_data", "main_flow"), "email_block.py": ("save_email_block",),
           "automation.py": ("create_automation",)}  # functions whose body a stub leaves to the student
STUB_YAML = """\
# The deployment of main_flow (orchestrate.py): fill in the deployment below.
name: deployments
prefect-version: 3.8.8
build: null
push: null
pull: null
deployments: []
"""


@pytest.fixture(scope="module")
def api_url(tmp_path_factory):
    """One Prefect server for the gradings of this module, as the checks start theirs."""
    from hw3.grading.server import prefect_server

    with prefect_server(None, tmp_path_factory.mktemp("deployments-server")) as url:
        yield url


def submission(dest: Path, edits: Edits | None = None) -> Path:
    """A copy of the reference with `edits` (each must match the reference's text)."""
    return make_submission(dest, edits, REFERENCE, FILES)


def without_bodies(source: str, functions: tuple[str, ...]) -> str:
    """`source` with the bodies of `functions` replaced by `raise NotImplementedError` (their
    docstrings kept), as a stub has them."""
    lines = source.splitlines(keepends=True)
    nodes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name in functions]
    assert {n.name for n in nodes} == set(functions)
    for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
        body = node.body[1:] if ast.get_docstring(node) else node.body
        first, last = body[0].lineno - 1, node.end_lineno
        indent = " " * body[0].col_offset
        lines[first:last] = [f"{indent}raise NotImplementedError\n"]
    return "".join(lines)


def stub_like(dest: Path) -> Path:
    """The reference as a student who decorated the flow and its tasks but wrote none of them
    leaves it: no function body, no deployment, no answer."""
    submission(dest)
    for name, functions in STUBBED.items():
        path = dest / name
        path.write_text(without_bodies(path.read_text(encoding="utf-8"), functions), encoding="utf-8")
    (dest / "prefect.yaml").write_text(STUB_YAML, encoding="utf-8")
    answers = "".join(f'{q.key} = ""\n' for q in COURSE.questions)
    (dest / "answers.toml").write_text(answers, encoding="utf-8")
    return dest


def grade(target: Path, workdir: Path, api_url: str):
    return run_checks(target, workdir, "--assignment", "deployments", "--prefect-api-url", api_url, timeout=600)


def marks(run) -> dict[str, int]:
    return run.scores()


def part_status(run, question: str) -> str:
    return run.question(question)["output"]


def test_a_sandbox_reaches_the_graders_relayed_ports_and_a_background_command_ends_with_its_block(tmp_path):
    """The engine's primitives the assignment needs: more ports of the grader's 127.0.0.1
    relayed into the wall (the mail server), and a command run in the background in a sandbox
    (the worker) whose processes all go when its block ends."""
    import socket
    import sys
    import threading
    import time

    from hw3.sandbox.runner import Sandbox, background, run_command

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                client.sendall(b"hello from the grader")

    threading.Thread(target=answer, daemon=True).start()
    sandbox = Sandbox(tmp_path / "box", "", relayed_ports=(port,))
    reach = f"import socket; s = socket.create_connection(('127.0.0.1', {port})); print(s.recv(100).decode())"
    try:
        done = run_command([sys.executable, "-c", reach], sandbox, timeout=60)
        assert (done.returncode, done.stdout.strip()) == (0, "hello from the grader"), done.stderr
        marker = f"hw3-test-sleeper-{port}"
        forever = (f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', "
                   f"'{marker}']); print('up', flush=True); time.sleep(600)")
        with background([sys.executable, "-c", forever], sandbox, name="sleeper") as job:
            deadline = time.monotonic() + 30
            while "up" not in job.output()[0] and time.monotonic() < deadline:
                time.sleep(0.1)
            assert job.running and "up" in job.output()[0], job.output()
            assert [entry for entry in Path("/proc").glob("[0-9]*/cmdline") if marker.encode() in _read(entry)]
        assert not job.running
        time.sleep(0.5)
        assert not [entry for entry in Path("/proc").glob("[0-9]*/cmdline") if marker.encode() in _read(entry)]
    finally:
        listener.close()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_reference_gets_full_marks(api_url, tmp_path):
    run = grade(REFERENCE, tmp_path, api_url)
    assert run.returncode == 0, run.output[-4000:]
    assert run.results["score"] == run.results["max_score"] == COURSE.max_score == 12, run.output[-4000:]
    assert [t["name"] for t in run.results["tests"]] == [f"{q.id} {q.title}" for q in COURSE.questions]
    assert "the same as the reference pipeline's on these data: yes" in " ".join(run.results["output"].split())


@pytest.mark.parametrize("stub", ["the homework's stubs", "a flow and tasks decorated but not written"])
def test_a_stub_gets_nothing_and_is_not_attempted(api_url, tmp_path, stub):
    target = ASSIGNMENT.homework() if stub == "the homework's stubs" else stub_like(tmp_path / "stub")
    run = grade(target, tmp_path, api_url)
    assert run.results["score"] == 0, run.output[-4000:]
    for test in run.results["tests"]:
        assert test["output"].startswith("not attempted"), test["output"]
    output = {t["name"].split()[0]: t["output"] for t in run.results["tests"]}
    assert "still raises NotImplementedError" in output["Q1"] and "still raises NotImplementedError" in output["Q3"]
    assert "declares no deployment yet" in output["Q2"]
    assert "save_email_block still raises NotImplementedError" in output["Q5"]
    # with no flow yet there is no deployment to automate: Q6 says why; with one, create_automation's stub does
    assert "still raises NotImplementedError" in output["Q6"]


# Each folder: mistakes of different questions, the marks each question must get, and what
# its reason must say (under "notes": what the grade's notes must say).
MISTAKES = {
    "no retries, a weekly cron, a feature missing, the email task called bare": (
        {
            "orchestrate.py": [
                ('@task(name="Read taxi data", retries=3, retry_delay_seconds=2)', '@task(name="Read taxi data")'),
                ('columns = ["PU_DO", "trip_distance"]', 'columns = ["PU_DO"]'),
                ("email_send_message.submit(", "email_send_message("),
                ("        email_to=notify_to,\n    ).result()", "        email_to=notify_to,\n    )"),
            ],
            "prefect.yaml": [('cron: "0 9 3 * *"', 'cron: "0 9 * * 3"')],
        },
        {"Q1": 1, "Q2": 1, "Q3": 1, "Q4": 2, "Q5": 1, "Q6": 2},
        {"Q1": "was not retried", "Q2": "does not fire at the times asked for", "Q3": "the course pipeline gives",
         "Q5": "never awaited"},
    ),
    "another pool's name (any counts), no artifact, the RMSE only returned (not logged nor tracked: Q3 keeps it), "
    "an automation on Running runs, a wrong q1": (
        {
            "prefect.yaml": [("name: taxi-pool", "name: taxi_pool")],
            "orchestrate.py": [
                ('    create_markdown_artifact(key=ARTIFACT_KEY, markdown=markdown, description="Validation RMSE of the duration model")\n', ""),
                ('        mlflow.log_metric("rmse", rmse)\n', ""),
                ('    logger.info(f"validation RMSE: {rmse}")\n', ""),
            ],
            "automation.py": [('expect={"prefect.flow-run.Completed"}', 'expect={"prefect.flow-run.Running"}')],
            "answers.toml": [("q1 = '@task(retries=3, retry_delay_seconds=2, name=\"Read taxi data\")'",
                              "q1 = '@task(retries=3, retry_delay_seconds=2, task_name=\"Read taxi data\")'")],
        },
        {"Q1": 1, "Q2": 2, "Q3": 2, "Q4": 1, "Q5": 2, "Q6": 1},
        {"Q1": "is not the decorator", "Q4": "no markdown artifact", "Q6": "prefect.flow-run.Running"},
    ),
    "a task without its name, the RMSE printed (its MLflow metric and artifact still show it), the port not saved "
    "(the checks point the block at their server), the URL not used, a git_clone pull step of the student's "
    "repository and an entrypoint in its folder (both bridged at no cost, and said)": (
        {
            "prefect.yaml": [('pull:\n  - prefect.deployments.steps.set_working_directory:\n      directory: "{{ here.directory }}"',
                              "pull:\n  - prefect.deployments.steps.git_clone:\n      repository: https://github.com/a-student/mlops-zoomcamp.git\n"
                              "      branch: main"),
                             ("entrypoint: orchestrate.py:main_flow", "entrypoint: 03-orchestration/orchestrate.py:main_flow")],
            "orchestrate.py": [
                ('@task(name="Read taxi data", retries=3, retry_delay_seconds=2)', "@task(retries=3, retry_delay_seconds=2)"),
                ('logger.info(f"validation RMSE: {rmse}")', 'print(f"validation RMSE: {rmse}")'),
            ],
            "email_block.py": [("        smtp_port=int(smtp_port),", "")],
            "automation.py": [("url=url,", 'url="http://127.0.0.1:9/done",')],
        },
        {"Q1": 1, "Q2": 2, "Q3": 2, "Q4": 2, "Q5": 2, "Q6": 1},
        {"Q1": "no task run named 'Read taxi data'", "Q6": "did not call the URL it was given",
         "notes": "the pull step `prefect.deployments.steps.git_clone` clones your repository"},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_costs_its_own_question_only(api_url, tmp_path, name):
    edits, expected, reasons = MISTAKES[name]
    run = grade(submission(tmp_path / "submission", edits), tmp_path, api_url)
    assert marks(run) == expected, run.output[-6000:]
    for question, text in reasons.items():
        output = run.results["output"] if question == "notes" else run.question(question)["output"]
        assert text in output, output


def test_a_crashing_flow_is_told_with_the_students_line_and_no_grader_path(api_url, tmp_path):
    edits = {"orchestrate.py": [("df = pd.read_parquet(filename)", 'df = pd.read_parquet(filename)[["no_such_column"]]')]}
    run = grade(submission(tmp_path / "submission", edits), tmp_path, api_url)
    assert run.scores()["Q1"] == 1  # its answer only
    assert "KeyError" in part_status(run, "Q1") and "orchestrate.py, line 56, in read_data" in part_status(run, "Q1")
    # pytest's failure report shows what a check said as graded, as the table does: no grader path
    leaks = [line for line in run.output.splitlines() if not line.startswith("rootdir:")
             and ("/tmp/" in line or str(tmp_path) in line or "site-packages" in line or ".cache" in line)]
    assert not leaks, leaks[:5]


def shared_run(state: str, *tasks: tuple[str, int], opened: bool = True):
    """A Ran whose worker's run (also its retries run) ended in `state`, with task runs
    (state, attempts), after the cut training file was (or was not) read."""
    from checks.deployments.services import FlakyFile
    from checks.deployments.session import FlowRun, Ran
    from hw3.grading import prefect_api as api

    record = api.RunRecord("r1", "hw3-worker", state, state.title(), None, True, 0.0, 1.0, None, {}, "d1")
    records = tuple(api.TaskRunRecord(f"t{n}", f"Read taxi data-{n}", "read", s, s.title(), None, count, 3, 2)
                    for n, (s, count) in enumerate(tasks))
    run = FlowRun("worker", {}, record=record, evidence=api.Evidence(record, (), records, (), None), flaky=True)
    flaky = FlakyFile(Path("train.parquet"), Path("whole.parquet"), swapped_at=1.0 if opened else None)
    return Ran(runs={"worker": run, "retries": run}, flaky=flaky)


@pytest.mark.parametrize(("ran", "again"), [
    (lambda: shared_run("COMPLETED", ("COMPLETED", 2)), False),  # retried, completed: one run was enough
    (lambda: shared_run("FAILED", ("FAILED", 1)), True),  # no retries: the cut read ended it
    (lambda: shared_run("FAILED"), True),  # the read was no task
    (lambda: shared_run("FAILED", ("COMPLETED", 2), ("FAILED", 4)), False),  # failed after retries: on the whole file
    (lambda: shared_run("FAILED", ("FAILED", 1), opened=False), False),  # the cut file was never read: not the cut
    (lambda: shared_run("FAILED", ("COMPLETED", 2)), False),  # read again on a retry, ended later (its mail): not the cut
    (lambda: shared_run("FAILED", ("COMPLETED", 2), ("FAILED", 1)), True),  # a task with no retries failed: it may have read it
])
def test_the_shared_run_goes_again_only_when_the_cut_read_may_have_ended_it(ran, again):
    from checks.deployments.session import GradingSession

    assert GradingSession._read_failed_unretried(ran()) is again
