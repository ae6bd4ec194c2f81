"""Grading on many machines, as an instructor sets it up: the engine's wheel installed (not
editable, no checkout) into a fresh virtualenv per "machine", each with its own HOME and an
empty working folder, sharing no folder with the instructor; the instructor's Prefect server
on PostgreSQL (`hw3 server start --database`); `prefect worker start --pool` on each machine;
`hw3 grade --cohort --work-pool --prefect-api-url` on the instructor's. One machine is killed
(SIGKILL, every process it has) while it grades: its submission is graded by the other.

The virtualenvs take the wheel's dependencies from this test environment (a .pth line; `pip
check` proves the wheel's requirements are met there): installing them from the registry is
what tests/test_answers_hidden.py measures, and costs a minute per machine.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from instructor import instructor_server
from postgres import postgres_database
from submissions import PROJECT_ROOT, make_submission, reference_key_file

from hw3 import catalogue
from hw3.cohort import heartbeat
from hw3.grading import prefect_api as api

COURSE = catalogue.load()
SUBMITTED = re.compile(r"submitting flow run '([0-9a-f-]{36})'")
# Two workers may both take a scheduled run: the server lets one have it, the other aborts.
ABORTED = re.compile(r"Aborted submission of flow run '([0-9a-f-]{36})'")
LOST_S = "30"  # HW3_COHORT_LOST_S of the instructor's run: a killed machine's run is graded again after it


def build_wheel(folder: Path) -> Path:
    """The project's wheel, built from a copy of the checkout (no build files left in it)."""
    source = folder / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".tox", ".venv", "build", "*.egg-info", "__pycache__", "results", "models", "*.parquet"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(folder), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return next(folder.glob("mlops_hw3-*.whl"))


@dataclass
class Machine:
    folder: Path

    @property
    def home(self) -> Path:
        return self.folder / "home"

    @property
    def python(self) -> Path:
        return self.folder / "venv" / "bin" / "python"

    @property
    def log(self) -> Path:
        return self.folder / "worker.log"

    def install(self, wheel: Path) -> None:
        """A fresh virtualenv with the wheel in it; an empty HOME and working folder."""
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.folder / "venv")], check=True, timeout=120)
        purelib = subprocess.run([str(self.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        pip = [sys.executable, "-m", "pip", "--python", str(self.python)]
        for step in (["install", "--no-deps", "--no-index", str(wheel)], ["check"]):
            done = subprocess.run([*pip, *step], capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"pip {step[0]}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
            # after the wheel, so that pip does not take this environment's editable install for it
            Path(purelib, "test-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
        for name in ("home", "work"):
            (self.folder / name).mkdir()

    def env(self, api_url: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items()
               if not name.startswith(("PREFECT_", "HW3_", "PYTHON", "VIRTUAL_ENV"))}
        env |= {"HOME": str(self.home), "PATH": f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}",
                "PREFECT_API_URL": api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1"}
        if os.environ.get("HW3_DATA_MIRROR"):  # where this machine fetches the trip months from
            env["HW3_DATA_MIRROR"] = os.environ["HW3_DATA_MIRROR"]
        return env

    def start_worker(self, api_url: str, pool: str) -> subprocess.Popen:
        with open(self.log, "wb") as log:
            return subprocess.Popen([str(self.python), "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process",
                                     "--limit", "1"], env=self.env(api_url), cwd=self.folder / "work",
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def submitted(self) -> list[str]:
        """The flow runs this machine's worker took, in order (not those another worker got first)."""
        log = self.log.read_text(errors="replace") if self.log.is_file() else ""
        aborted = set(ABORTED.findall(log))
        return [run for run in SUBMITTED.findall(log) if run not in aborted]

    def processes(self) -> list[int]:
        """Every process of this machine: those whose HOME is its own."""
        mark, found = f"HOME={self.home}".encode(), []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and mark in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
        return found

    def kill(self, sig: int = signal.SIGKILL) -> None:
        for pid in self.processes():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """End all this machine started: SIGTERM, then SIGKILL what is left after 20 s."""
        self.kill(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.5)
        self.kill(signal.SIGKILL)


def state(url: str, run_id: str) -> str | None:
    return api.read_flow_runs(url, [run_id])[run_id].state_type


@pytest.mark.slow
def test_two_machines_from_the_wheel_grade_a_cohort_on_postgresql_and_one_killed_loses_nothing(tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    machines = {name: Machine(tmp_path / f"machine-{name}") for name in ("a", "b")}
    for machine in machines.values():
        machine.install(wheel)
    # The stub first: its grading takes seconds, and the run machine a is killed in must last.
    make_submission(tmp_path / "cohort" / "0-stub", source=PROJECT_ROOT / "homework")
    expected = {"0-stub": 0} | {f"right-{n}": COURSE.max_score for n in range(3)}
    for n in range(3):
        make_submission(tmp_path / "cohort" / f"right-{n}")
    out = tmp_path / "instructor" / "grades.csv"
    out.parent.mkdir()
    with postgres_database() as database, instructor_server(tmp_path / "server" / "home", database) as url:
        a, b = machines["a"], machines["b"]
        try:
            for machine in (a, b):
                machine.start_worker(url, "graders")
            env = {**os.environ, "HW3_COHORT_LOST_S": LOST_S}
            with open(out.parent / "grade.out", "wb") as said:
                grading = subprocess.Popen([sys.executable, "-m", "hw3.cli", "grade", "--cohort", str(tmp_path / "cohort"),
                                            "--out", str(out), "--work-pool", "graders", "--prefect-api-url", url,
                                            "--answer-key", str(reference_key_file())],
                                           cwd=out.parent, env=env, stdout=said, stderr=subprocess.STDOUT)
            # Machine a finishes one submission and starts grading another: then it dies, all of it at once.
            killed, deadline = None, time.monotonic() + 600
            while killed is None and grading.poll() is None and time.monotonic() < deadline:
                taken = a.submitted()
                if len(taken) >= 2 and state(url, taken[0]) == "COMPLETED" and api.variables(url, [heartbeat.variable(taken[1])]):
                    a.kill()
                    killed = taken[1]
                time.sleep(0.5)
            grading.wait(timeout=900)
            output = (out.parent / "grade.out").read_text(errors="replace")
            logs = {name: m.log.read_text(errors="replace")[-3000:] for name, m in machines.items()}
            assert killed, f"machine a never had a second submission running: {output[-3000:]}\n{logs}"
            with open(out, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            assert sorted(row["student"] for row in rows) == sorted(expected), output[-3000:]  # one row each
            assert {row["student"]: int(row["total"] or -1) for row in rows} == expected, f"{output[-4000:]}\n{logs}"
            assert grading.returncode == 0, output[-3000:]

            crashed = api.read_flow_runs(url, [killed])[killed]
            assert crashed.state_type == "CRASHED" and "no heartbeat" in (crashed.state_message or ""), crashed
            assert f"{crashed.name}: its worker stopped answering; graded again" in output, output[-3000:]
            completed = {name: [run for run in m.submitted() if state(url, run) == "COMPLETED"] for name, m in machines.items()}
            assert completed["a"] and completed["b"], completed  # both machines graded
            assert len(completed["a"]) + len(completed["b"]) == len(expected), completed  # each submission once
            assert (b.home / ".cache" / "hw3").is_dir() and not (tmp_path / "instructor" / ".cache").exists()
        finally:
            for machine in machines.values():
                machine.stop()
