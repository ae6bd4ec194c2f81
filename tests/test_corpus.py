"""The corpus (tests/corpus): every realistic wrong submission loses exactly the questions it
declares, every correct one gets full marks. Each is graded as a cohort's flow run grades it
(`pytest checks/` by a grading slot's warm checker, hw3/cohort/checker.py: the slot's server
emptied and its zygote cleaned between two submissions), two at a time; prints a table. What a cohort adds (workers, kept grades,
the CSV) is tested on the real-shaped corpus, the hostile cohort and tests/test_cohort.py.

`grade_cohort` grades variants as an instructor grades a cohort, for those tests."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from corpus import CORRECT, WRONG, Variant
from submissions import MISTAKES, PROJECT_ROOT, CheckRun, grade_on_slot, make_submission, reference_key_file

from hw3 import catalogue

COURSE = catalogue.load()


def grade_cohort(variants: dict[str, Variant], folder: Path, api_url: str, workers: int = 2) -> tuple[dict[str, dict], float, str]:
    """Make each variant a sub-folder of a cohort, grade it with `hw3 grade --cohort`; return
    the CSV rows by folder name, the seconds it took and the command's output."""
    for name, variant in variants.items():
        make_submission(folder / "cohort" / name, variant.edits)
    return grade_cohort_folder(folder, api_url, workers)


def grade_cohort_folder(folder: Path, api_url: str, workers: int = 2) -> tuple[dict[str, dict], float, str]:
    """Grade `folder`/cohort with `hw3 grade --cohort` (results in `folder`); as grade_cohort."""
    cohort = folder / "cohort"
    out = folder / "grades.csv"
    argv = [sys.executable, "-m", "hw3.cli", "grade", "--cohort", str(cohort), "--workers", str(workers), "--out", str(out),
            "--prefect-api-url", api_url, "--", "--answer-key", str(reference_key_file())]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - started
    assert out.is_file(), done.stdout + done.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    return rows, seconds, done.stdout + done.stderr


def lost(run: CheckRun) -> set[str]:
    """The questions a graded submission did not get full marks on."""
    scores = run.scores()
    return {q.id for q in COURSE.questions if scores.get(q.id) != q.points}


def grade_each(variants: dict[str, Variant], folder: Path, at_once: int = 2) -> dict[str, CheckRun]:
    """Grade each variant with `pytest checks/`, `at_once` at a time, each by a free slot's
    warm checker (its zygote kept from one submission to the next)."""
    from hw3.cohort import slots

    def graded(name: str) -> CheckRun:
        source = make_submission(folder / "submissions" / name, variants[name].edits)
        with slots.grading_server() as slot:
            return grade_on_slot(source, folder / "graded" / name, slot)[0]

    with ThreadPoolExecutor(at_once) as pool:
        return dict(zip(variants, pool.map(graded, variants)))


MISTAKE_NAMES = {m.name for m in MISTAKES}


def mistake_told_badly(run: CheckRun, variant: Variant) -> str | None:
    """What is wrong with how a graded single mistake (submissions.MISTAKES) is told: its
    question must say "failed: " and why, and nothing may print a traceback."""
    [question] = variant.lost
    told = run.question(question)
    if told["status"] != "failed" or not told["output"].startswith("failed: "):
        return f"{question} is told as {told['status']}: {told['output'][:300]!r}"
    if "Traceback" in run.output or "error in the checks" in run.output:
        return "a traceback or an error of the checks in the output"
    return None


def test_a_mistake_told_as_an_error_or_beside_a_traceback_is_caught():
    mistake = MISTAKES[0]
    variant = Variant(mistake.name, mistake.edits, frozenset({mistake.question}))

    def told(status: str, text: str, output: str = "") -> str | None:
        results = {"tests": [{"name": f"{mistake.question} flow", "status": status, "output": text, "score": 0}]}
        return mistake_told_badly(CheckRun(1, output, results), variant)

    assert told("failed", "failed: your flow printed 1 line(s)") is None
    assert "told as error" in told("error", "error in the checks: KeyError")
    assert "told as failed" in told("failed", "your flow printed 1 line(s)")
    assert "traceback" in told("failed", "failed: why", "Traceback (most recent call last):")


@pytest.mark.slow
def test_corpus(tmp_path):
    variants = {f"wrong-{n:02d}-{v.slug}": v for n, v in enumerate(WRONG, 1)}
    variants |= {f"right-{n:02d}-{v.slug}": v for n, v in enumerate(CORRECT, 1)}
    assert len(WRONG) >= 30 and len(CORRECT) >= 10
    started = time.monotonic()
    runs = grade_each(variants, tmp_path)
    seconds = time.monotonic() - started

    table, misses = [], []
    for name, variant in variants.items():
        got = lost(runs[name])
        ok = got == set(variant.lost)
        table.append(f"{'ok ' if ok else 'BAD'} {name:<72} expected to lose {','.join(sorted(variant.lost)) or '-':<9} lost {','.join(sorted(got)) or '-'}")
        if not ok:
            misses.append(f"{name}: expected {sorted(variant.lost)}, lost {sorted(got)}\n{runs[name].output[-2000:]}")
        elif variant.name in MISTAKE_NAMES and (problem := mistake_told_badly(runs[name], variant)):
            misses.append(f"{name}: {problem}\n{runs[name].output[-2000:]}")
    caught = sum(1 for n, v in variants.items() if v.lost and lost(runs[n]) == set(v.lost))
    full = sum(1 for n, v in variants.items() if not v.lost and runs[n].results["score"] == COURSE.max_score)
    summary = (f"corpus: wrong submissions caught on the right questions {caught}/{len(WRONG)}, "
               f"correct submissions at full marks {full}/{len(CORRECT)}, graded in {seconds:.0f} s (2 at a time)")
    print("\n".join(["", *table, summary]))
    assert not misses, "\n".join(misses)


def hw3_grade(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hw3.cli", "grade", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cohort", "nowhere"], "hw3: --cohort nowhere: no such folder; give the folder that holds one sub-folder per student\n"),
        (["--cohort", "empty"], "hw3: --cohort empty: no sub-folders; put each student's submission in a folder of its own\n"),
        (["--cohort", "empty", "--target", "x"],
         "hw3: --cohort grades every sub-folder of its folder: leave out --target, --results-json, --watch and --full\n"),
        (["--full"], "hw3: --full is for --watch (every save grades everything); a grade without --watch is always full\n"),
        (["--cohort", "one", "--workers", "0"], "hw3: --workers 0: give at least 1\n"),
        (["--cohort", "one", "--work-pool", "gpu"], "hw3: --work-pool gpu: give the server of that pool too, with --prefect-api-url URL\n"),
    ],
)
def test_cohort_refuses_clearly(tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "one" / "alice").mkdir(parents=True)
    done = hw3_grade(*args, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, message)
    assert not (tmp_path / "grades.csv").exists()


def test_grade_takes_a_notebook(tmp_path):
    notebook = tmp_path / "homework.ipynb"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    done = hw3_grade("--target", str(notebook), "--", "--collect-only", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_q1_flow_runs" in done.stdout
