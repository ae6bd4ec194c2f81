"""The checks give the reference solution full marks: on the session's server, with real
trip files present, and as a user runs them (own server, key built in memory)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from submissions import PROJECT_ROOT, SOLUTIONS, grade, reference_key_file, run_checks

from hw3 import catalogue
from hw3.trips.sample import is_sample, sample_month

COURSE = catalogue.load()
COURSE_MONTHS = ((2021, 6), (2021, 7))  # what main(date="2021-08-15") reads


def assert_full_marks(run) -> None:
    assert run.returncode == 0, run.output[-4000:]
    assert run.results["score"] == run.results["max_score"] == COURSE.max_score
    assert [t["name"] for t in run.results["tests"]] == [f"{q.id} {q.title}" for q in COURSE.questions]
    for test in run.results["tests"]:
        assert (test["status"], test["score"]) == ("passed", test["max_score"]), test["output"]
    assert f"Total {COURSE.max_score}/{COURSE.max_score}" in " ".join(run.output.split())


def test_reference_gets_full_marks(prefect_api_url, tmp_path):
    run = grade(SOLUTIONS, tmp_path, prefect_api_url, "--junitxml", str(tmp_path / "junit.xml"))
    assert_full_marks(run)
    figures = " ".join(run.output.split())
    mse = re.search(r"validation MSE \(synthetic sample\): yours ([0-9.]+), the same as the reference pipeline's on these "
                    r"data: (yes|no); the Q2 option closest to yours: ([0-9.]+)", figures)
    assert mse and mse.group(2) == "yes" and mse.group(3) in COURSE["Q2"].options
    assert "real trip files for 2021-08-15 not found" in run.results["output"]
    assert "test_q2_mse_on_real_data: skipped" in run.question("Q2")["output"]
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("tests")) >= 2 * len(COURSE.questions) and suite.get("failures") == suite.get("errors") == "0"


def test_real_trip_files_are_measured_too(prefect_api_url, tmp_path):
    data = tmp_path / "data"  # the user's data folder: their working directory's data/
    data.mkdir()
    for year, month in COURSE_MONTHS:  # FHV-shaped trips without the sample mark count as real
        path = data / f"fhv_tripdata_{year}-{month:02d}.parquet"
        pq.write_table(pa.Table.from_pandas(sample_month(year, month), preserve_index=False), path)
        assert not is_sample(path)
    run = grade(SOLUTIONS, tmp_path, prefect_api_url)
    assert_full_marks(run)
    assert "test_q2_mse_on_real_data: passed" in run.question("Q2")["output"]
    assert "test_q3_answer_dv_size_on_real_data: passed" in run.question("Q3")["output"]
    assert "validation MSE (your real files): yours " in run.results["output"]


def server_processes(prefect_home: Path) -> list[int]:
    """Our processes whose PREFECT_HOME is `prefect_home`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if f"PREFECT_HOME={prefect_home}".encode() in environ:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_checks_as_a_user_runs_them(tmp_path):
    """No --prefect-api-url, no --answer-key: own server, key built from solutions/."""
    basetemp = tmp_path / "basetemp"
    started = time.monotonic()
    run = run_checks(SOLUTIONS, tmp_path / "work", "--basetemp", str(basetemp))
    seconds = time.monotonic() - started
    assert_full_marks(run)
    home = basetemp / "prefect-server0"  # the server's PREFECT_HOME
    assert (home / "server.log").is_file() and (home / "prefect.db").is_file()
    assert server_processes(home) == [], "the checks' Prefect server outlived the session"
    print(f"a whole `pytest checks --target solutions` took {seconds:.0f} s")
    assert seconds < 300


def hw3_grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hw3.cli", "grade", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)


def test_hw3_grade_runs_the_checks(prefect_api_url, tmp_path):
    results = tmp_path / "results.json"
    done = hw3_grade(
        "--target", str(SOLUTIONS), "--results-json", str(results), "--prefect-api-url", prefect_api_url,
        "--", "-k", "q4 or q6", "--answer-key", str(reference_key_file()),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    scores = {t["name"].split()[0]: t["score"] for t in json.loads(results.read_text())["tests"]}
    assert scores == {"Q1": 0, "Q2": 0, "Q3": 0, "Q4": 2, "Q5": 0, "Q6": 1}
    assert re.search(r"^Q1 .* 0/2  not run: no check of it was selected$", done.stdout, re.MULTILINE)


def test_hw3_grade_refuses_a_missing_target(tmp_path):
    done = hw3_grade("--target", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr == (
        f"hw3: --target {tmp_path / 'nowhere'}: no such folder or .ipynb notebook; "
        "give the folder that holds homework.py (or the notebook)\n"
    )
