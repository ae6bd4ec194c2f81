"""The flow a Prefect worker runs for one submission of a cohort: unpack it, grade it with the
checks on a grading server of this machine (slots.py), and leave the result on the cohort's
server as an artifact of the flow run (the instructor's machine reads it from there, so a
worker on another machine needs no shared folder).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from hw3 import settings
from hw3.cohort import checker, course as course_module, heartbeat, members, slots
from hw3.cohort.report import RESULT_ARTIFACT
from hw3.grading.invocation import WARM_ARGS, pytest_argv

FLOW_NAME = "hw3-grade-submission"
OUTPUT_TAIL = 20_000  # characters of the checks' output kept


def _cpu_seconds() -> float:
    """CPU time of this process (the flow run's, from its start) and of the children it
    waited for (the slot's checker counts its own: checker.py)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _run_checks(pytest_args: list[str], output_file: Path, env: dict[str, str]) -> None:
    """`pytest checks/ ...` in this process (a flow run's, one per submission, with Prefect
    imported already), its output going to `output_file`; the checks get their server as
    --prefect-api-url, not from the environment."""
    import pytest

    os.environ.update(env)
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(output_file, "wb") as output:
        os.dup2(output.fileno(), 1), os.dup2(output.fileno(), 2)
        try:
            pytest.main([*WARM_ARGS, *pytest_args])
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def _run_course_checks(argv: list[str], output_file: Path, env: dict[str, str], course_folder: Path) -> None:
    """`pytest` of checks unpacked from the instructor's course (course.py) in a child
    process: the installed checks, which this process may hold imported, are not theirs."""
    environment = {**os.environ, **env, "PYTHONPATH": os.pathsep.join(filter(None, [str(course_folder), os.environ.get("PYTHONPATH")]))}
    with open(output_file, "wb") as output:
        subprocess.run([sys.executable, "-m", "pytest", *argv], env=environment, stdin=subprocess.DEVNULL, stdout=output,
                       stderr=subprocess.STDOUT, check=False)


def grade_files(student: str, assignment: str, archive: str, notebook: str | None, answer_key: str,
                pytest_args: list[str], packed_course: str | None = None) -> dict:
    """Grade a submission's archive with `pytest checks/` on a grading slot: here, when this
    flow run runs in the slot's checker (handoff.py), else on a free slot, by its checker
    (else here); with the instructor's checks (`packed_course`, course.py) when the installed
    ones are not those, in a child process. Returns the checks' results.json (None if they
    wrote none), their output's end, the problem that stopped them (if any), the wall and CPU
    seconds it took, and the CPU seconds of the checks and their runs alone (not what the
    flow run spent before them)."""
    from hw3.grading.prefect_api import empty_server
    from hw3.sandbox import warm

    checks_for = course_module.assignment_for(packed_course, assignment) if packed_course else assignment
    unpacked = checks_for != assignment
    started, held = time.monotonic(), checker.held()
    zygote = warm.ahead() if held else None  # its runs' CPU is counted where it runs
    zygote_before = zygote.cpu_seconds() if zygote else 0.0
    with tempfile.TemporaryDirectory(prefix="hw3-graded-") as scratch:
        scratch = Path(scratch)
        key_file = scratch / "key.json"
        key_file.write_text(answer_key, encoding="utf-8")
        results_json, output_file = scratch / "results.json", scratch / "output.txt"
        problem, checked_cpu = None, 0.0
        with nullcontext(held) if held else slots.grading_server(assignment=assignment) as slot:
            if held:
                empty_server(slot.url)
            folder = checker.submission_folder(slot.folder)
            checker.empty(folder)
            members.unpack(archive, folder)
            argv = pytest_argv(folder / notebook if notebook else folder, results_json, slot.url,
                               ["--basetemp", str(scratch / "basetemp"), "--assignment", checks_for, "--answer-key", str(key_file),
                                *pytest_args], checks_dir=course_module.checks_root(checks_for))[3:]
            protect = os.pathsep.join(filter(None, [settings.current().check_protect, str(key_file)]))
            env = {"HW3_COHORT": "1", "HW3_CHECK_PROTECT": protect}
            before = _cpu_seconds()
            try:
                ran = None if held or unpacked else checker.grade(slot.folder, argv, output_file, {**os.environ, **env}, assignment)
                if unpacked:
                    _run_course_checks(argv, output_file, env, Path(checks_for).parents[1])
                elif ran is None:
                    _run_checks(argv, output_file, env)
                else:
                    checked_cpu = ran["cpu_seconds"]
            except Exception as exc:  # the checks broke: this submission's problem, not the cohort's
                problem = f"the checks stopped: {type(exc).__name__}: {exc}"
            checked_cpu += max(zygote.cpu_seconds() - zygote_before, 0.0) if zygote else 0.0
            checks_cpu = _cpu_seconds() - before + checked_cpu
            checker.empty(folder)
        try:
            results = json.loads(results_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            results = None
            problem = problem or "the checks wrote no results.json; see output.txt"
        output_text = output_file.read_text(encoding="utf-8", errors="replace")[-OUTPUT_TAIL:]
    return {"results": results, "output": output_text, "problem": problem, "seconds": time.monotonic() - started,
            "cpu_seconds": _cpu_seconds() + checked_cpu, "checks_cpu_seconds": checks_cpu}


@flow(name=FLOW_NAME, log_prints=False, persist_result=False)
def grade_submission(student: str, assignment: str, archive: str, notebook: str | None, answer_key: str,
                     pytest_args: list[str], fingerprint: str, course: str | None = None) -> str:
    """Grade one submission of a cohort (with the instructor's packed `course`, course.py);
    its result becomes an artifact of this flow run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.context import get_run_context

    run_id = get_run_context().flow_run.id
    with heartbeat.beating(str(run_id)):  # the cohort's run sees this machine is still grading
        graded = grade_files(student, assignment, archive, notebook, answer_key, pytest_args, course)
    graded["fingerprint"] = fingerprint
    with get_client(sync_client=True) as client:
        client.create_artifact(ArtifactCreate(flow_run_id=run_id, type=RESULT_ARTIFACT, data=graded, description=student))
    results = graded["results"]
    summary = f"**{student}**: " + (f"{results['score']} points" if results else f"not graded: {graded['problem']}")
    create_markdown_artifact(summary, description=f"the grade of {student}")
    return summary
