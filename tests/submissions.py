"""Submissions for testing the checks: the reference solution with realistic mistakes.

`make_submission(dest, edits)` copies solutions/ to `dest` and applies text edits, each of
which must match the reference (so a test notices when the reference changes under it).
`MISTAKES` lists, per question, mistakes students make that must cost that question only.
`run_checks(target, workdir, ...)` grades a folder with the checks in a child process, as a
user would from `workdir` (where data/ would hold their real trip files), and returns the
results.json they wrote.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = PROJECT_ROOT / "solutions"
SUBMISSION_FILES = ("homework.py", "deployment.py", "answers.toml")
FLOWS_JOBS = PROJECT_ROOT / "checks" / "flows" / "jobs.py"  # what the probe runs for the 2022 homework

Edits = dict[str, list[tuple[str, str]]]  # file name -> [(old text, new text)], all occurrences


@dataclass(frozen=True)
class Mistake:
    question: str  # the only question it may cost
    name: str
    edits: Edits


MISTAKES = (
    Mistake("Q1", "prints the validation MSE instead of logging it", {
        "homework.py": [('logger.info(f"validation MSE: {mse}")', 'print(f"validation MSE: {mse}")')],
    }),
    Mistake("Q1", "read_data is a plain function, not a task", {
        "homework.py": [("@task\ndef read_data(", "def read_data("), ("read_data.submit(", "read_data(")],
    }),
    Mistake("Q1", "answers run_model", {"answers.toml": [('q1 = "train_model"', 'q1 = "run_model"')]}),
    Mistake("Q2", "the year does not roll back in January and February", {
        "homework.py": [(
            "(first_of_month - relativedelta(months=n) for n in (2, 1))",
            "(first_of_month.replace(month=(first_of_month.month - n - 1) % 12 + 1) for n in (2, 1))",
        )],
    }),
    Mistake("Q2", "keeps trips of 0 to 60 minutes", {"homework.py": [(".between(1, 60)", ".between(0, 60)")]}),
    Mistake("Q3", "saves the model as model-{date}.pkl", {"homework.py": [('f"model-{day}.bin"', 'f"model-{day}.pkl"')]}),
    Mistake("Q3", "saves the DictVectorizer in place of the model", {
        "homework.py": [('((lr, f"model-{day}.bin")', '((dv, f"model-{day}.bin")')],
    }),
    Mistake("Q4", "cron 9 15 * * * (every day at 15:09)", {"deployment.py": [('CRON = "0 9 15 * *"', 'CRON = "9 15 * * *"')]}),
    Mistake("Q4", "cron with minute and hour swapped", {"deployment.py": [('CRON = "0 9 15 * *"', 'CRON = "9 0 15 * *"')]}),
    Mistake("Q5", "answers 0", {"answers.toml": [("q5 = 3", "q5 = 0")]}),
    Mistake("Q5", "answers 10", {"answers.toml": [("q5 = 3", "q5 = 10")]}),
    Mistake("Q6", "prefect work-queue list", {"answers.toml": [('"prefect work-queue ls"', '"prefect work-queue list"')]}),
    Mistake("Q6", "prefect work-queue inspect", {"answers.toml": [('"prefect work-queue ls"', '"prefect work-queue inspect"')]}),
)  # fmt: skip


def make_submission(dest: Path, edits: Edits | None = None, source: Path = SOLUTIONS,
                    files: tuple[str, ...] = SUBMISSION_FILES) -> Path:
    """A copy of the submission `files` of `source` in `dest`, with `edits` applied."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy(source / name, dest / name)
    return edit(dest, edits or {})


def edit(folder: Path, edits: Edits) -> Path:
    """Apply `edits` to the files of `folder`, in place (as a save would)."""
    for name, replacements in edits.items():
        path = folder / name
        text = path.read_text(encoding="utf-8")
        for old, new in replacements:
            if old not in text:
                raise ValueError(f"{path} no longer contains {old!r}: update the edit")
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
    return folder


@dataclass(frozen=True)
class CheckRun:
    returncode: int
    output: str  # pytest's stdout and stderr
    results: dict  # results.json

    def question(self, qid: str) -> dict:
        return next(t for t in self.results["tests"] if t["name"].split()[0] == qid)

    def scores(self) -> dict[str, int]:
        return {t["name"].split()[0]: t["score"] for t in self.results["tests"]}


def _checks_argv(target: Path, results_json: Path, *args: str) -> list[str]:
    """`pytest checks --target TARGET --results-json FILE ARGS`, after `python -m pytest`."""
    return [str(PROJECT_ROOT / "checks"), "-p", "no:cacheprovider", "--rootdir", str(PROJECT_ROOT), "--target", str(target),
            "--results-json", str(results_json), *args]


def _checks_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith(("HW3_DATA", "HW3_MODELS"))}


def _check_run(returncode: int, output: str, results_json: Path) -> CheckRun:
    assert results_json.is_file(), f"the checks wrote no {results_json.name}:\n{output[-4000:]}"
    return CheckRun(returncode, output, json.loads(results_json.read_text(encoding="utf-8")))


def run_checks(target: Path, workdir: Path, *args: str, timeout: float = 900) -> CheckRun:
    """`python -m pytest checks --target TARGET --results-json FILE ARGS`, run in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pytest", *_checks_argv(target, workdir / "results.json", *args)]
    done = subprocess.run(argv, cwd=workdir, env=_checks_env(), capture_output=True, text=True, timeout=timeout)
    return _check_run(done.returncode, done.stdout + done.stderr, workdir / "results.json")


def grade_on_slot(source: Path, workdir: Path, slot, *args: str) -> tuple[CheckRun, dict]:
    """Grade a copy of the submission in `source` as a cohort's flow run grades it: from
    the slot's submission folder, by the slot's warm checker (hw3/cohort/checker.py), with
    the reference's key, from `workdir`; (the run, the checker's reply)."""
    from hw3.cohort import checker

    workdir.mkdir(parents=True, exist_ok=True)
    folder = checker.submission_folder(slot.folder)
    checker.empty(folder)
    shutil.copytree(source, folder, dirs_exist_ok=True)
    argv = _checks_argv(folder, workdir / "results.json", "--prefect-api-url", slot.url, "--answer-key", str(reference_key_file()), *args)
    reply = checker.grade(slot.folder, argv, workdir / "output.txt", _checks_env(), "flows", cwd=workdir)
    assert reply is not None, f"{slot.folder} has no checker"
    return _check_run(reply["returncode"], (workdir / "output.txt").read_text(encoding="utf-8"), workdir / "results.json"), reply


@functools.cache
def reference_key_file() -> Path:
    """The reference's answer key, built once per test session and saved to a temporary file."""
    from hw3.grading import answer_key

    folder = Path(tempfile.mkdtemp(prefix="hw3-test-key-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return answer_key.build_from_reference(PROJECT_ROOT).save(folder / "key.json")


def grade(target: Path, workdir: Path, api_url: str, *args: str) -> CheckRun:
    """Grade `target` on the session's Prefect server with the reference's key."""
    return run_checks(target, workdir, "--prefect-api-url", api_url, "--answer-key", str(reference_key_file()), *args)
