"""What a save re-checks (hw3/grading/incremental.py, `hw3 grade --watch`): each assignment's
[watch] table names real checks and every file the student writes; a changed answer re-checks
its line, a changed file the checks that read it; anything the table cannot vouch for (an
unlisted file, student_id, the grader) grades everything. And a grade put together from a
re-check and the kept rows is the grade a full run gives (a real server, real runs)."""

from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from submissions import MISTAKES, PROJECT_ROOT, edit, make_submission, reference_key_file, run_checks

from hw3 import assignment
from hw3.grading import incremental
from hw3.grading.gradebook import matches


def check_names(assignment_id: str) -> set[str]:
    """The names (without `test_`) of the checks of an assignment, read from its files."""
    names = set()
    for path in (PROJECT_ROOT / "checks" / assignment_id).glob("test_q*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {node.name.removeprefix("test_") for node in tree.body if isinstance(node, ast.FunctionDef)
                  and node.name.startswith("test_q")}
    return names


@pytest.mark.parametrize("assignment_id", ["flows", "deployments"])
def test_the_watch_table_names_real_checks_and_every_file_the_student_writes(assignment_id):
    course = assignment.load(assignment_id).catalogue
    names = check_names(assignment_id)
    watch = course.watch
    for pattern in [*(p for ps in watch.files.values() for p in ps), *(p for ps in watch.answers.values() for p in ps), *watch.figures]:
        assert [n for n in names if matches(n, (pattern,))], f"{assignment_id}: [watch] {pattern!r} names no check"
    assert set(watch.answers) == {q.key for q in course.questions}
    written = {name for name in course.stubs if name != incremental.ANSWERS}
    assert written <= set(watch.files), f"{assignment_id}: a stub the [watch] table leaves out: {written - set(watch.files)}"
    answer_checks = {n for n in names if any(matches(n, ps) for ps in watch.answers.values())}
    assert answer_checks >= {n for n in names if n.endswith("_answer")}


def snap(folder: Path, course, grader: str = "g") -> incremental.Snapshot:
    return incremental.snapshot(sorted(p for p in folder.iterdir() if p.is_file()), folder, course, grader)


@pytest.fixture
def flows(tmp_path):
    return make_submission(tmp_path / "mine"), assignment.load("flows").catalogue


def test_an_answer_re_checks_its_line_and_a_file_the_checks_that_read_it(flows):
    folder, course = flows
    before = snap(folder, course)
    assert incremental.recheck(course, before, snap(folder, course)) == ()
    q1 = course["Q1"]
    edit(folder, {"answers.toml": [(f'q1 = "{q1.answer}"', f'q1 = "{next(o for o in q1.options if o != q1.answer)}"')]})
    assert incremental.recheck(course, before, snap(folder, course)) == course.watch.answers["q1"]
    edit(folder, {"deployment.py": [('CRON = ', '# a comment\nCRON = ')]})
    both = incremental.recheck(course, before, snap(folder, course))
    assert set(both) == {*course.watch.answers["q1"], *course.watch.files["deployment.py"]}


def test_what_the_table_cannot_vouch_for_grades_everything(flows):
    folder, course = flows
    before = snap(folder, course)
    assert incremental.recheck(course, None, before) is None  # the first grade
    assert incremental.recheck(course, before, snap(folder, course, grader="another")) is None  # the checks or key changed
    (folder / "helpers.py").write_text("X = 1\n", encoding="utf-8")
    assert incremental.recheck(course, before, snap(folder, course)) is None  # a file no check is listed for
    (folder / "helpers.py").unlink()
    with open(folder / "answers.toml", "a", encoding="utf-8") as handle:
        handle.write('student_id = "s1"\n')
    assert incremental.recheck(course, before, snap(folder, course)) is None  # another variant of the key


def test_the_grader_digest_follows_the_key_given(tmp_path):
    checks = PROJECT_ROOT / "checks" / "flows"
    key = tmp_path / "key.json"
    key.write_text("{}", encoding="utf-8")
    first = incremental.grader_digest(checks, ["--answer-key", str(key)])
    key.write_text('{"a": 1}', encoding="utf-8")
    assert incremental.grader_digest(checks, ["--answer-key", str(key)]) != first


def results(folder: Path) -> dict:
    """A results.json with what differs between two runs of the same grade left out."""
    graded = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    graded.pop("execution_time", None)
    return graded


def set_answer(folder: Path, key: str, value: str) -> None:
    """Write `key = "value"` (a TOML string) over that key's line of answers.toml, as a save does."""
    path = folder / incremental.ANSWERS
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines = [f"{key} = {json.dumps(value)}\n" if line.split("=")[0].strip() == key else line for line in lines]
    path.write_text("".join(lines), encoding="utf-8")


def wrong_answer(question) -> str:
    return next(o for o in question.options if o != question.answer)


def assert_rechecked_alike(folder: Path, course, before: incremental.Snapshot, workdir: Path, name: str, *args: str):
    """Re-check what changed since `before` from the kept grade (--kept, in workdir), grade the
    same files fully, and assert both give the same results.json; return the full grade."""
    patterns = incremental.recheck(course, before, snap(folder, course))
    assert patterns, name
    kept = workdir / "kept.json"
    rechecked = run_checks(folder, workdir / f"recheck-{name}", *args, "--kept", str(kept), "--recheck", ",".join(patterns))
    full = run_checks(folder, workdir / f"full-{name}", *args)
    assert results(workdir / f"recheck-{name}") == results(workdir / f"full-{name}"), (name, rechecked.output[-2000:])
    assert full.scores() == rechecked.scores()
    return full


@pytest.mark.slow
def test_a_recheck_with_the_kept_rows_is_the_full_grade(flows, tmp_path, prefect_api_url):
    """The 2022 reference graded with --kept; then a seeded random sequence of saves, one of each
    kind (an answer, the deployment file, the main file), each re-checked from the kept grade:
    each grade equals a fresh full grade of the same files."""
    folder, course = flows
    args = ["--prefect-api-url", prefect_api_url, "--answer-key", str(reference_key_file())]
    run_checks(folder, tmp_path / "first", *args, "--kept", str(tmp_path / "kept.json"))
    chooser = random.Random(3)
    question = chooser.choice(course.questions)
    main_file = chooser.choice([m for m in MISTAKES if set(m.edits) == {"homework.py"} and m.question in ("Q2", "Q3")])
    saves = {
        "answers.toml": lambda: set_answer(folder, question.key, wrong_answer(question)),
        "deployment.py": lambda: edit(folder, {"deployment.py": [('CRON = "0 9 15 * *"', 'CRON = "0 9 16 * *"')]}),
        "homework.py": lambda: edit(folder, main_file.edits),
    }
    for name in chooser.sample(sorted(saves), len(saves)):
        before = snap(folder, course)
        saves[name]()
        full = assert_rechecked_alike(folder, course, before, tmp_path, name, *args)
        assert sum(full.scores().values()) < course.max_score


# The 2023 reference deployed from the student's repository: the checks bridge the git_clone
# pull step and the repository's folder in the entrypoint, at no cost, and Q2's deploy check says so.
FROM_A_REPOSITORY = {"prefect.yaml": [
    ('pull:\n  - prefect.deployments.steps.set_working_directory:\n      directory: "{{ here.directory }}"',
     "pull:\n  - prefect.deployments.steps.git_clone:\n      repository: https://github.com/a-student/mlops-zoomcamp.git"),
    ("entrypoint: orchestrate.py:main_flow", "entrypoint: 03-orchestration/orchestrate.py:main_flow"),
]}
BRIDGED = "the pull step `prefect.deployments.steps.git_clone` clones your repository"


@pytest.mark.slow
def test_a_2023_recheck_keeps_the_notes_of_the_checks_it_does_not_run(tmp_path, prefect_api_url):
    """The 2023 reference with a pull step that the checks bridge (a note of Q2's deploy check),
    graded with --kept; then an answer changed and re-checked alone: the grade, with the kept
    check's note, equals a fresh full grade."""
    course = assignment.load("deployments").catalogue
    folder = make_submission(tmp_path / "mine", FROM_A_REPOSITORY, PROJECT_ROOT / "solutions" / "deployments", tuple(course.stubs))
    args = ["--assignment", "deployments", "--prefect-api-url", prefect_api_url]
    run_checks(folder, tmp_path / "first", *args, "--kept", str(tmp_path / "kept.json"))
    assert BRIDGED in results(tmp_path / "first")["output"]
    before = snap(folder, course)
    question = random.Random(5).choice(course.questions)
    set_answer(folder, question.key, wrong_answer(question))
    assert incremental.recheck(course, before, snap(folder, course)) == course.watch.answers[question.key]
    full = assert_rechecked_alike(folder, course, before, tmp_path, "answers.toml", *args)
    assert full.scores()[question.id] < question.points and BRIDGED in results(tmp_path / "recheck-answers.toml")["output"]


@pytest.mark.parametrize(("kept", "message"), [
    (None, "--recheck takes the other checks' results from --kept FILE: give both"),
    ("nothere.json", "--kept nothere.json: no grade kept there to re-check against"),
])
def test_a_recheck_without_a_kept_grade_is_refused_clearly(tmp_path, kept, message):
    argv = [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "checks"), "--target", str(make_submission(tmp_path / "mine")),
            "--recheck", "q1_answer", "-p", "no:cacheprovider", *(["--kept", kept] if kept else [])]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 4 and message in done.stderr, done.stdout[-2000:] + done.stderr[-2000:]
