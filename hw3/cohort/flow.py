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
import tempfile
import time
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from hw3 import settings
from hw3.cohort import members, slots

FLOW_NAME = "hw3-grade-submission"
RESULT_ARTIFACT = "hw3-grade"  # the type of the artifact that carries a submission's result
OUTPUT_TAIL = 20_000  # characters of the checks' output kept


def _cpu_seconds() -> float:
    """CPU time of this process and of the children it waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def grade_files(student: str, assignment: str, archive: str, notebook: str | None, answer_key: str,
                pytest_args: list[str]) -> dict:
    """Grade a submission's archive with `pytest checks/` on a free grading server; the
    checks' results.json (None if they wrote none), their output's end, the problem that
    stopped them (if any), and the wall and CPU seconds it took."""
    from hw3.grade import pytest_argv

    started, cpu = time.monotonic(), _cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="hw3-graded-") as scratch:
        scratch = Path(scratch)
        folder = members.unpack(archive, scratch / "submission" / student)
        key_file = scratch / "key.json"
        key_file.write_text(answer_key, encoding="utf-8")
        results_json, output_file = scratch / "results.json", scratch / "output.txt"
        env = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL" and not name.startswith("PREFECT__")}
        env.update(HW3_COHORT="1", HW3_CHECK_PROTECT=str(key_file))  # the checks get their server as --prefect-api-url
        timeout = settings.current().cohort_timeout_s
        problem = None
        with slots.grading_server() as url:
            argv = pytest_argv(folder / notebook if notebook else folder, results_json, url,
                               ["--basetemp", str(scratch / "basetemp"), "--assignment", assignment, "--answer-key", str(key_file),
                                *pytest_args])
            with open(output_file, "wb") as output:
                try:
                    subprocess.run(argv, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   timeout=timeout, check=False)
                except subprocess.TimeoutExpired:
                    problem = f"the checks did not finish within {timeout:g} s (HW3_COHORT_TIMEOUT_S)"
        try:
            results = json.loads(results_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            results = None
            problem = problem or "the checks wrote no results.json; see output.txt"
        output_text = output_file.read_text(encoding="utf-8", errors="replace")[-OUTPUT_TAIL:]
    return {"results": results, "output": output_text, "problem": problem, "seconds": time.monotonic() - started,
            "cpu_seconds": _cpu_seconds() - cpu}


@flow(name=FLOW_NAME, log_prints=False, persist_result=False)
def grade_submission(student: str, assignment: str, archive: str, notebook: str | None, answer_key: str,
                     pytest_args: list[str], fingerprint: str) -> str:
    """Grade one submission of a cohort; its result becomes an artifact of this flow run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.context import get_run_context

    graded = grade_files(student, assignment, archive, notebook, answer_key, pytest_args)
    graded["fingerprint"] = fingerprint
    run_id = get_run_context().flow_run.id
    with get_client(sync_client=True) as client:
        client.create_artifact(ArtifactCreate(flow_run_id=run_id, type=RESULT_ARTIFACT, data=graded, description=student))
    results = graded["results"]
    summary = f"**{student}**: " + (f"{results['score']} points" if results else f"not graded: {graded['problem']}")
    create_markdown_artifact(summary, description=f"the grade of {student}")
    return summary
