"""`hw3 key --assignment deployments` as a subprocess, on the real green files of the mirror:
the reference flow, run on the key's own Prefect server, gives the published Q3 and Q4 answers,
and the figures it measured are the independently computed ones (REAL_FIGURES, which
test_deployments_reference also gets from checks/deployments/oracle.py and from a plain
computation written out in that test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest
from test_deployments_reference import Q3_ANSWER, Q4_ANSWER, REAL_DIR, REAL_FIGURES, needs_real

pytestmark = [pytest.mark.slow, needs_real]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("key")
    env = {**os.environ, "HW3_DATA_MIRROR": str(REAL_DIR), "HW3_DATA_DIR": str(folder / "data")}
    done = subprocess.run([sys.executable, "-m", "hw3.cli", "key", "--assignment", "deployments", "--out", "key.toml",
                           "--student-key", "student.json"], cwd=folder, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return tomllib.loads((folder / "key.toml").read_text()), json.loads((folder / "student.json").read_text()), done.stderr


def test_the_key_gives_the_published_answers(measured):
    key, _, stderr = measured
    questions = key["variant"]["questions"]
    assert (questions["q3"]["answer"], questions["q4"]["answer"]) == (Q3_ANSWER, Q4_ANSWER)
    assert f"{questions['q3']['expected']:.5f}" == Q3_ANSWER and f"{questions['q4']['expected']:.2f}" == Q4_ANSWER
    assert "WARNING" not in stderr and key["assignment"] == "deployments"
    assert set(key["timings"]) == {"data", "server", "q3", "q4"}


def test_the_keys_figures_are_the_independently_computed_ones(measured):
    questions = measured[0]["variant"]["questions"]
    for question, pair in zip(("q3", "q4"), REAL_FIGURES):
        assert questions[question]["expected"] == pytest.approx(REAL_FIGURES[pair]["rmse"], abs=1e-9), question


def test_the_student_key_holds_digests_only(measured):
    _, student, _ = measured
    text = json.dumps(student)
    assert student["answers"] and Q3_ANSWER not in text and "email_send_message" not in text
