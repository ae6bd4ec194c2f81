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
from submissions import PROJECT_ROOT, edit, make_submission, reference_key_file, run_checks

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


@pytest.mark.slow
def test_a_recheck_with_the_kept_rows_is_the_full_grade(flows, tmp_path, prefect_api_url):
    """The reference graded with --kept; then seeded random edits of answers and files, each
    re-checked from the kept grade: each grade equals a fresh full grade of the same files."""
    folder, course = flows
    kept = tmp_path / "kept.json"
    args = ["--prefect-api-url", prefect_api_url, "--answer-key", str(reference_key_file())]
    run_checks(folder, tmp_path / "first", *args, "--kept", str(kept))
    before = snap(folder, course)
    chooser = random.Random(3)
    wrong = {q.key: next(o for o in q.options if o != q.answer) for q in course.questions}
    for name, key in [("answers.toml", chooser.choice(sorted(wrong))), ("deployment.py", None)]:
        if key:
            question = next(q for q in course.questions if q.key == key)
            edit(folder, {name: [(f'{key} = "{question.answer}"', f'{key} = "{wrong[key]}"')]})
        else:
            edit(folder, {name: [('CRON = "0 9 15 * *"', 'CRON = "0 9 16 * *"')]})
        after = snap(folder, course)
        patterns = incremental.recheck(course, before, after)
        assert patterns, name
        rechecked = run_checks(folder, tmp_path / f"recheck-{name}", *args, "--kept", str(kept), "--recheck", ",".join(patterns))
        full = run_checks(folder, tmp_path / f"full-{name}", *args)
        assert results(tmp_path / f"recheck-{name}") == results(tmp_path / f"full-{name}"), (name, rechecked.output[-2000:])
        assert full.scores() == rechecked.scores() and sum(full.scores().values()) < course.max_score
        before = after


@pytest.mark.parametrize(("kept", "message"), [
    (None, "--recheck takes the other checks' results from --kept FILE: give both"),
    ("nothere.json", "--kept nothere.json: no grade kept there to re-check against"),
])
def test_a_recheck_without_a_kept_grade_is_refused_clearly(tmp_path, kept, message):
    argv = [sys.executable, "-m", "pytest", str(PROJECT_ROOT / "checks"), "--target", str(make_submission(tmp_path / "mine")),
            "--recheck", "q1_answer", "-p", "no:cacheprovider", *(["--kept", kept] if kept else [])]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 4 and message in done.stderr, done.stdout[-2000:] + done.stderr[-2000:]
