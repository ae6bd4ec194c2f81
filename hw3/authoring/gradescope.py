"""`hw3 release --gradescope autograder.zip`: the bundle Gradescope runs, with the answer key.

Gradescope unpacks the zip into /autograder/source, runs `setup.sh` there once (as root, on
its Ubuntu image), and for every submission runs `run_autograder`, which must write
/autograder/results/results.json. Ours grades /autograder/submission with the checks and the
instructor's key (`key.json` in the bundle, which students never see), under the same limits
as every grading; a submission that breaks the checks still gets a results.json with its
reason. `AUTOGRADER_ROOT` and `AUTOGRADER_PYTHON` move the root and the Python (the tests
run it in a temporary root laid out like Gradescope's).

    python -m hw3.authoring.gradescope ROOT      what run_autograder runs
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from hw3 import assignment as assignment_module
from hw3.errors import Hw3Error
from hw3.fsutil import atomic_write

BUNDLED = ("hw3", "checks", "pyproject.toml", "README.md")
SKIPPED_FOLDERS = ("__pycache__", ".pytest_cache")
KEY_NAME = "key.json"
TIMEOUT_S = 1800  # one submission's whole grading
HOMEWORK = "homework.py"  # the first assignment's main file

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, on its Ubuntu image: Python, then this package and its
# pinned dependencies (pyproject.toml) in a virtualenv.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
/autograder/venv/bin/python -m pip install /autograder/source
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade /autograder/submission with the checks and
# the instructor's key; the results go to /autograder/results/results.json.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
export PYTHONPATH="$ROOT/source"
cd "$ROOT/source" && exec "$PYTHON" -m hw3.authoring.gradescope "$ROOT" {assignment}
"""


def bundle(project_root: Path, key_file: Path, zip_path: Path, assignment: str | None = None) -> Path:
    """Write the autograder zip of an assignment: setup.sh, run_autograder, the package and the key."""
    assignment = assignment_module.load(assignment, project_root).id
    project_root, zip_path = Path(project_root), Path(zip_path)
    if not key_file.is_file():
        raise Hw3Error(f"{key_file}: no such answer key")

    def write(handle) -> None:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER.replace("{assignment}", assignment))):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16
                archive.writestr(info, text)
            for entry in BUNDLED:
                path = project_root / entry
                files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
                for file in files:
                    relative = file.relative_to(project_root)
                    if not set(relative.parts) & set(SKIPPED_FOLDERS) and file.suffix != ".pyc" and file.name != KEY_NAME:
                        archive.write(file, relative.as_posix())
            archive.write(key_file, KEY_NAME)

    atomic_write(zip_path, write, binary=True)
    return zip_path


def find_target(submission: Path, marker: str = HOMEWORK) -> Path | None:
    """The folder that holds the assignment's first file (homework.py, or the notebook),
    wherever Gradescope put it."""
    for name in (marker, Path(marker).with_suffix(".ipynb").name):
        found = sorted(submission.rglob(name), key=lambda p: len(p.parts))
        if found:
            return found[0].parent if name == marker else found[0]
    return None


def grade(root: Path, assignment: str | None = None) -> int:
    """Grade ROOT/submission into ROOT/results/results.json; always writes the file."""
    source, results = root / "source", root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    chosen = assignment_module.load(assignment)
    marker = chosen.catalogue.main_file or HOMEWORK
    target = find_target(root / "submission", marker)
    if target is None:
        notebook = Path(marker).with_suffix(".ipynb").name
        return _write_failure(results, f"no {marker} (or {notebook}) in your submission: upload the homework folder's files")
    argv = [sys.executable, "-m", "pytest", str(source / "checks"), "-p", "no:cacheprovider", "-q", "--target", str(target),
            "--assignment", chosen.id,
            "--answer-key", str(source / KEY_NAME), "--results-json", str(results)]
    try:
        done = subprocess.run(argv, cwd=source, capture_output=True, text=True, timeout=TIMEOUT_S, env={**os.environ, "HW3_COHORT": "1"})
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        output = f"the checks did not finish within {TIMEOUT_S} s"
    if not results.is_file():
        return _write_failure(results, f"the checks could not grade this submission: {output[-2000:]}")
    print(output[-5000:])
    return 0


def _write_failure(results: Path, reason: str) -> int:
    atomic_write(results, json.dumps({"score": 0, "output": reason, "tests": []}, indent=2) + "\n")
    print(reason)
    return 0


if __name__ == "__main__":
    sys.exit(grade(Path(sys.argv[1]), *sys.argv[2:3]))
