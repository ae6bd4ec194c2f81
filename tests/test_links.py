"""A submission's links never reach the grader's files (hw3/submission.py's rule).

A hostile submission links to a canary file of the "instructor" outside it: an extra file its
code reads, its answers.toml, a folder, its main file, its notebook; it holds a FIFO too. The
canary's text must appear in no output of any path that takes a submission (single grade and
cohort, both assignments, Gradescope's bundle), and a submission whose links stay inside it
gets the marks of the same files without links.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path, PurePosixPath

import pytest
from submissions import PROJECT_ROOT, SOLUTIONS, grade, make_submission, reference_key_file, run_checks

from hw3 import submission
from hw3.cohort import members
from hw3.grading.target import resolve

CANARY = "TOPSECRET LINE-CANARY-42"
# Appended to the student's main file: it reads its linked files and puts what it read into
# an exception, which the checks would quote to the student.
LEAK = '''from pathlib import Path as _Path
for _name in ("stolen.md", "extras/secret.txt"):
    try:
        _leak = (_Path(__file__).parent / _name).read_text()
    except OSError:
        _leak = ""
    if _leak:
        raise RuntimeError(f"{_name} says: {_leak}")
'''
DEPLOYMENT_FILES = ("orchestrate.py", "prefect.yaml", "email_block.py", "automation.py", "answers.toml")


@pytest.fixture
def instructor(tmp_path) -> Path:
    """The grader's own files: a secret text file, a secret folder, a secret notebook."""
    folder = tmp_path / "instructor"
    (folder / "secrets").mkdir(parents=True)
    for path in (folder / "secret.txt", folder / "secrets" / "secret.txt"):
        path.write_text(f"{CANARY}\n", encoding="utf-8")
    (folder / "secret.py").write_text(f"raise RuntimeError({CANARY!r})\n", encoding="utf-8")
    (folder / "secret.ipynb").write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": CANARY}]}))
    return folder


def hostile(folder: Path, instructor: Path, main_file: str) -> Path:
    """Links out of the submission: stolen.md (read by the code), answers.toml, extras/ and a FIFO."""
    main = folder / main_file
    main.write_text(main.read_text(encoding="utf-8") + "\n" + LEAK, encoding="utf-8")
    (folder / "answers.toml").unlink()
    os.symlink(instructor / "secret.txt", folder / "answers.toml")
    os.symlink(instructor / "secret.txt", folder / "stolen.md")
    os.symlink(instructor / "secrets", folder / "extras")
    os.mkfifo(folder / "pipe.md")
    return folder


def harmless(folder: Path, main_file: str) -> Path:
    """Links that stay inside the submission: a file and a folder."""
    (folder / "docs").mkdir()
    (folder / "docs" / "notes.md").write_text("my notes\n", encoding="utf-8")
    os.symlink(main_file, folder / "copy_of_main.py")
    os.symlink("docs", folder / "more_docs")
    os.symlink(folder / "docs" / "notes.md", folder / "notes.md")  # absolute, but inside
    return folder


def no_canary(*texts: str) -> None:
    for text in texts:
        assert CANARY not in text


# -- the rule itself ---------------------------------------------------------------------


def test_the_rule_keeps_files_and_inner_links_and_leaves_out_the_rest(tmp_path, instructor):
    folder = hostile(make_submission(tmp_path / "s"), instructor, "homework.py")
    harmless(folder, "homework.py")
    os.symlink("nowhere.txt", folder / "dangling.txt")
    os.symlink(".", folder / "docs" / "loop")  # a cycle is walked once
    files = submission.scan(folder)
    assert set(map(str, files.kept)) == {"homework.py", "deployment.py", "copy_of_main.py", "docs/notes.md",
                                         "more_docs/notes.md", "notes.md"}
    assert sorted(files.notes) == [
        "answers.toml is a link to a file outside your submission: left out",
        "dangling.txt is a link to nothing: left out",
        "extras is a link to a file outside your submission: left out",
        "pipe.md is not a regular file (a FIFO, socket or device): left out",
        "stolen.md is a link to a file outside your submission: left out",
    ]
    copied = tmp_path / "copy"
    done = threading.Event()
    threading.Thread(target=lambda: (submission.copy(folder, copied), done.set()), daemon=True).start()
    assert done.wait(30), "the copy hung on the FIFO"
    assert not any(p.is_symlink() for p in copied.rglob("*"))
    no_canary(*(p.read_text(encoding="utf-8") for p in copied.rglob("*") if p.is_file()))
    assert (copied / "copy_of_main.py").read_bytes() == (folder / "homework.py").read_bytes()


def test_a_cohort_archive_carries_no_linked_content_and_the_same_notes(tmp_path, instructor):
    folder = hostile(make_submission(tmp_path / "cohort" / "alice"), instructor, "homework.py")
    member = members.cohort_members(tmp_path / "cohort")[0]
    import base64

    no_canary(base64.b64decode(member.archive).decode("latin-1"))
    unpacked = members.unpack(member.archive, tmp_path / "worker")
    assert sorted(submission.scan(unpacked).notes) == sorted(member.shipped.notes)
    assert len(member.shipped.notes) == 4 and os.readlink(unpacked / "stolen.md") == "/"


def test_a_linked_notebook_or_main_file_is_left_out_with_its_reason(tmp_path, instructor):
    folder = make_submission(tmp_path / "s")
    (folder / "homework.py").unlink()
    os.symlink(instructor / "secret.ipynb", folder / "homework.ipynb")
    staged, notes = resolve(str(folder / "homework.ipynb"), tmp_path / "default", tmp_path / "staged")
    code = (staged / "homework.py").read_text(encoding="utf-8")
    assert "homework.ipynb is a link to a file outside your submission: left out" in code
    no_canary(code, *notes)
    os.symlink(instructor / "secret.py", folder / "homework.py")
    copy, notes = resolve(str(folder), tmp_path / "default", tmp_path / "copy")
    assert not (copy / "homework.py").exists() and not (copy / "homework.ipynb").exists()
    assert "homework.py is a link to a file outside your submission: left out" in notes


# -- every path that takes a submission --------------------------------------------------


def everything(folder: Path) -> str:
    """What a cohort's grading wrote: the CSV and each student's results/ folder."""
    paths = [folder / "grades.csv", *(folder / "results").rglob("*")]
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in paths if p.is_file() and not p.is_symlink())


@pytest.mark.slow
def test_single_grade_of_the_2022_homework(prefect_api_url, tmp_path, instructor):
    leaky = grade(hostile(make_submission(tmp_path / "h"), instructor, "homework.py"), tmp_path / "gh", prefect_api_url)
    no_canary(leaky.output, json.dumps(leaky.results))
    assert "stolen.md is a link to a file outside your submission: left out" in leaky.output
    assert leaky.scores()["Q1"] == 1  # the flow part: the code runs without its links (harmless links: the cohort's test)


def deployments_submission(folder: Path) -> Path:
    return make_submission(folder, source=SOLUTIONS / "deployments", files=DEPLOYMENT_FILES)


@pytest.mark.slow
def test_single_grade_of_the_2023_homework(prefect_api_url, tmp_path, instructor):
    folder = hostile(deployments_submission(tmp_path / "h"), instructor, "orchestrate.py")
    leaky = run_checks(folder, tmp_path / "gh", "--prefect-api-url", prefect_api_url, "--assignment", "deployments")
    no_canary(leaky.output, json.dumps(leaky.results))
    scores = leaky.scores()
    assert scores["Q3"] == scores["Q2"] == 1, leaky.output[-3000:]  # the work parts, without their answers


def grade_cohort(cohort: Path, out: Path, api_url: str, *options: str) -> tuple[dict, str]:
    import csv

    argv = [sys.executable, "-m", "hw3.cli", "grade", "--cohort", str(cohort), "--workers", "2", "--out", str(out),
            "--prefect-api-url", api_url, *options]
    done = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1200)
    assert out.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    with open(out, newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}, done.stdout + done.stderr


@pytest.mark.slow
def test_cohort_of_the_2022_homework(prefect_api_url, tmp_path, instructor):
    cohort = tmp_path / "cohort"
    hostile(make_submission(cohort / "hostile"), instructor, "homework.py")
    harmless(make_submission(cohort / "harmless"), "homework.py")
    notebook = make_submission(cohort / "notebook")
    (notebook / "homework.py").unlink()
    os.symlink(instructor / "secret.ipynb", notebook / "homework.ipynb")
    rows, output = grade_cohort(cohort, tmp_path / "grades.csv", prefect_api_url, "--", "--answer-key", str(reference_key_file()))
    no_canary(output, everything(tmp_path))
    assert rows["harmless"]["total"] == "10" and rows["hostile"]["total"] not in ("", "10")
    assert "link to a file outside your submission" in rows["notebook"]["Q1 reason"]


@pytest.mark.slow
def test_cohort_of_the_2023_homework(prefect_api_url, tmp_path, instructor):
    cohort = tmp_path / "cohort"
    hostile(deployments_submission(cohort / "hostile"), instructor, "orchestrate.py")
    harmless(deployments_submission(cohort / "harmless"), "orchestrate.py")
    rows, output = grade_cohort(cohort, tmp_path / "grades.csv", prefect_api_url, "--assignment", "deployments")
    no_canary(output, everything(tmp_path))
    assert rows["harmless"]["total"] == "12", rows["harmless"]
    assert rows["hostile"]["Q3"] == "1", rows["hostile"]


@pytest.mark.slow
def test_gradescope_bundle(tmp_path, instructor):
    from test_answers_hidden import run_autograder

    bundle = tmp_path / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "hw3.cli", "release", "--gradescope", str(bundle)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    upload = hostile(make_submission(tmp_path / "upload"), instructor, "homework.py")
    (upload / "pipe.md").unlink()  # Gradescope's upload holds no FIFO
    results = run_autograder(bundle, tmp_path / "root", upload)
    no_canary(json.dumps(results))
    assert "stolen.md is a link to a file outside your submission: left out" in json.dumps(results)
    main = make_submission(tmp_path / "upload-main")
    (main / "homework.py").unlink()
    os.symlink(instructor / "secret.py", main / "homework.py")
    results = run_autograder(bundle, tmp_path / "root-main", main)
    no_canary(json.dumps(results))
    assert "homework.py is a link to a file outside your submission" in json.dumps(results)
