"""What cohort grading and the student loop cost, side by side in one run.

    python benchmarks/cohort.py

On one cohort of six submissions (4 correct, of two shapes, and 2 untouched stubs), each run
as an instructor runs it (no --answer-key): `hw3 grade --cohort --workers 1`, then
`--workers 2` (each from scratch: its grading servers start), a re-run with nothing changed,
both again with --force on the grading slots they left running, and `--workers 2 --force` on
the server of `hw3 server start` with SQLite, then with PostgreSQL (started for it); the CPU seconds of each right submission's flow run (the fork of a slot's
checker that ran it, its runs and their zygote's share), with 1 worker and with 2 sharing the
two cores; the machine's CPU seconds in each cohort run (every process: servers, workers,
checkers, runs) and the cores it kept busy on average (a bound on what a second worker can
gain on two cores); and for one student, a cold `hw3 grade` (server start included) against
a warm re-grade under `hw3 grade --watch` after a save. Prints the figures and their ratios,
and exits non-zero if the marks differ between the runs.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext, suppress
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from corpus import CORRECT  # noqa: E402
from instructor import instructor_server  # noqa: E402
from postgres import postgres_database  # noqa: E402
from submissions import make_submission, reference_key_file  # noqa: E402

from hw3.cohort import slots  # noqa: E402

EDIT_S = 20  # how long a student edits between two saves (the warm checks and their zygote get ready meanwhile)
SHAPES = [None, next(v.edits for v in CORRECT if v.name == "sequential calls instead of submit")]  # two shapes of right code


def cohort(folder: Path) -> None:
    for n in range(4):
        make_submission(folder / f"right-{n}", SHAPES[n % 2])
    for n in range(2):
        make_submission(folder / f"stub-{n}", source=ROOT / "homework")


def machine_cpu_seconds() -> float:
    """CPU seconds this machine has spent busy since it started (all processes, /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


class Run(NamedTuple):
    seconds: float
    cpu_seconds: float  # the machine's, during the run
    marks: dict
    kept: dict  # the kept grades, by student
    graded_now: int  # submissions graded by this run (not kept from an earlier one)

    @property
    def cores(self) -> float:
        return self.cpu_seconds / self.seconds


def grade_cohort(folder: Path, out: Path, workers: int, servers: Path, *more: str) -> Run:
    """One cohort run as an instructor runs it (no --answer-key: the key is built from the
    reference, with a salt of its own each run); the grading servers are those of `servers`
    (a new folder: started by this run)."""
    argv = [sys.executable, "-m", "hw3.cli", "grade", "--cohort", str(folder), "--workers", str(workers), "--out", str(out),
            *more]
    out.parent.mkdir(parents=True, exist_ok=True)
    started, cpu = time.monotonic(), machine_cpu_seconds()
    done = subprocess.run(argv, cwd=out.parent, capture_output=True, text=True,
                          env={**os.environ, "HW3_GRADING_SERVERS_DIR": str(servers)})
    seconds, cpu = time.monotonic() - started, machine_cpu_seconds() - cpu
    if not out.is_file():
        raise SystemExit(f"no grades from {' '.join(argv)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    with open(out, newline="", encoding="utf-8") as handle:
        marks = {row["student"]: row["total"] for row in csv.DictReader(handle)}
    kept = {p.parent.name: json.loads(p.read_text()) for p in (out.parent / "results").glob("*/graded.json")}
    now = re.search(r"\((\d+) graded now", done.stdout)
    return Run(seconds, cpu, marks, kept, int(now.group(1)) if now else -1)


def stop_slots(work: Path) -> None:
    """Stop the cohort runs' grading slots, and wait until their processes are gone."""
    watchers = []
    for record in work.glob("servers-*/*/server.json"):
        with suppress(OSError, ValueError, KeyError):
            watchers.append(json.loads(record.read_text())["watcher"])
    for servers in work.glob("servers-*"):
        slots.stop_all(servers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(alive(pid) for pid in watchers):
        time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def cold_grade(target: Path, work: Path) -> float:
    argv = [sys.executable, "-m", "hw3.cli", "grade", "--target", str(target), "--", "--answer-key", str(reference_key_file()),
            "-q", "--basetemp", str(work / "cold")]
    started = time.monotonic()
    subprocess.run(argv, cwd=work, capture_output=True, text=True)
    return time.monotonic() - started


def warm_regrade(target: Path, work: Path) -> float:
    """Seconds of the full grade `hw3 grade --watch --full` reports after a save (its second)."""
    argv = [sys.executable, "-m", "hw3.cli", "grade", "--watch", "--full", "--target", str(target), "--", "--answer-key",
            str(reference_key_file()), "-q"]
    watcher = subprocess.Popen(argv, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    times = []
    try:
        for line in watcher.stdout:
            found = re.search(r"\[hw3\] re-checked everything in ([\d.]+) s", line)
            if found:
                times.append(float(found.group(1)))
                if len(times) == 2:
                    return times[1]
                time.sleep(EDIT_S)  # the student edits; meanwhile the next checks get ready
                answers = target / "answers.toml"
                answers.write_text(answers.read_text() + "\n")
        raise SystemExit("hw3 grade --watch stopped before its second grade")
    finally:
        watcher.terminate()  # it stops its server on the way out
        watcher.wait(timeout=60)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="hw3-bench-cohort-"))
    try:
        cohort(work / "cohort")
        one = grade_cohort(work / "cohort", work / "one" / "grades.csv", 1, work / "servers-one")
        two = grade_cohort(work / "cohort", work / "two" / "grades.csv", 2, work / "servers-two")
        again = grade_cohort(work / "cohort", work / "two" / "grades.csv", 2, work / "servers-two")
        warm_one = grade_cohort(work / "cohort", work / "one" / "grades.csv", 1, work / "servers-one", "--force")
        warm_two = grade_cohort(work / "cohort", work / "two" / "grades.csv", 2, work / "servers-two", "--force")
        on = {}  # the same, on `hw3 server start` with its SQLite database, then with PostgreSQL
        for name, database in (("SQLite", None), ("PostgreSQL", "postgres")):
            with (postgres_database() if database else nullcontext()) as url, instructor_server(work / name / "home", url) as api:
                on[name] = grade_cohort(work / "cohort", work / name / "grades.csv", 2, work / "servers-two", "--force",
                                        "--prefect-api-url", api)
        cpu = {run: [g["cpu_seconds"] for name, g in grades.items() if name.startswith("right")]
               for run, grades in (("1 worker", warm_one.kept), ("2 workers", two.kept))}
        checks_cpu = [g["checks_cpu_seconds"] for name, g in warm_one.kept.items() if name.startswith("right")]
        stop_slots(work)  # a student's machine runs no cohort's grading slots
        cold = cold_grade(work / "cohort" / "right-0", work)
        warm = warm_regrade(work / "cohort" / "right-1", work)
    finally:
        stop_slots(work)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'6 submissions (4 right, 2 stubs)':<48}{'seconds':>10}{'ratio':>10}{'CPU-s':>10}{'cores':>8}")
    rows = [("  --workers 1", one, 1.0, ""), ("  --workers 2", two, one.seconds / two.seconds, "(speed-up)"),
            ("  re-run, nothing changed", again, again.seconds / two.seconds, "(of a run)"),
            ("  --workers 1 --force, its grading servers up", warm_one, 1.0, ""),
            ("  --workers 2 --force, its grading servers up", warm_two, warm_one.seconds / warm_two.seconds, "(speed-up)"),
            ("  the same on hw3 server start, SQLite", on["SQLite"], 1.0, ""),
            ("  the same on hw3 server start, PostgreSQL", on["PostgreSQL"], on["SQLite"].seconds / on["PostgreSQL"].seconds,
             "(speed-up)")]
    for label, run, ratio, what in rows:
        print(f"{label:<48}{run.seconds:>10.1f}{ratio:>10.2f}{run.cpu_seconds:>10.1f}{run.cores:>8.2f}  {what}")
    for run, figures in cpu.items():
        print(f"{f'CPU-s per correct submission, {run} (median)':<48}{statistics.median(figures):>10.1f}")
    print(f"{'  of which the checks and their probes (1 worker)':<48}{statistics.median(checks_cpu):>10.1f}")
    print(f"{'one student: cold hw3 grade':<48}{cold:>10.1f}{1:>10.2f}")
    print(f"{'  warm re-grade under --watch':<48}{warm:>10.1f}{warm / cold:>10.2f}  (of cold)")
    marks = [run.marks for run in (one, two, again, warm_one, warm_two, *on.values())]
    same = all(m == marks[0] for m in marks)
    print(f"marks: {two.marks} (the same in all {len(marks)} runs: {same}); the re-run graded {again.graded_now} again")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    main()
