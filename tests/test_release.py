"""hw3 release: the student repository holds what students need and nothing of the reference
or the answers in clear, and its checks grade the stubs 0 and the reference full marks, as a
homework.py and as a notebook, run from a fresh copy of the release."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from submissions import PROJECT_ROOT, SOLUTIONS, SUBMISSION_FILES, CheckRun, reference_key_file

from hw3 import catalogue
from hw3.authoring import notebook
from hw3.cli import INSTRUCTOR_MODULES
from hw3.authoring.release import INSTRUCTOR_FOLDERS

COURSE = catalogue.load()
TEXT_SUFFIXES = {".py", ".toml", ".md", ".ini", ".json", ".ipynb", ".tmpl", ""}


def hw3_release(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hw3.cli", "release", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "student-repo"
    done = hw3_release(str(dest))
    assert done.returncode == 0, done.stderr
    assert f"wrote the student release to {dest}: " in done.stdout
    return dest


def files_of(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def texts_of(folder: Path) -> dict[str, str]:
    return {name: path.read_text(encoding="utf-8") for name, path in files_of(folder).items()
            if path.suffix in TEXT_SUFFIXES}


def test_what_ships(release):
    names = set(files_of(release))
    tracked = lambda folder: {p.relative_to(PROJECT_ROOT).as_posix() for p in (PROJECT_ROOT / folder).rglob("*")
                              if p.is_file() and "__pycache__" not in p.parts}
    instructor = {name.replace(".", "/") + ".py" for name in INSTRUCTOR_MODULES}
    instructor |= {n for n in tracked("hw3") if n.startswith(tuple(f"{folder}/" for folder in INSTRUCTOR_FOLDERS))}
    assert instructor > {name.replace(".", "/") + ".py" for name in INSTRUCTOR_MODULES}  # the folders hold files
    expected_hw3 = tracked("hw3") - instructor - {"hw3/authoring/templates/README.student.md"}
    assert {n for n in names if n.startswith("hw3/")} == expected_hw3
    flows = {n for n in tracked("checks") if not n.startswith("checks/") or n.count("/") == 1 or n.startswith("checks/flows/")}
    assert {n for n in names if n.startswith("checks/")} == flows - {"checks/flows/hooks.py"} | {"checks/flows/key.json"}
    assert {n for n in names if "/" not in n} == {".gitignore", "HOMEWORK.md", "README.md", "pyproject.toml", "tox.ini"}
    assert {n for n in names if n.startswith(("homework/", "data/"))} == {
        "homework/homework.py", "homework/deployment.py", "homework/answers.toml", "homework/homework.ipynb",
    }
    assert "hw3/trips/manifest.toml" in names  # the trip files' manifest is the engine's
    assert not any(n.startswith(("solutions/", "tests/", ".ci/")) or n.endswith(".pyc") for n in names)
    assert oct((release).stat().st_mode & 0o777) == "0o755"


def test_no_reference_code_ships(release):
    texts = texts_of(release)
    reference = {p.name: p.read_text(encoding="utf-8") for p in SOLUTIONS.glob("*") if p.is_file()}
    assert not set(reference.values()) & set(texts.values()), "a file of solutions/ ships"
    shipped = "\n".join(texts.values())
    for marker in ("relativedelta(months=", "Flow.from_source(", "to_deployment(name=", 'CRON = "0 9 15',
                   "save_pickle(", "def run_date("):
        assert marker in "\n".join(reference.values()), f"the reference no longer has {marker!r}: update the test"
        assert marker not in shipped, marker
    # No line of the reference's code ships, unless the stubs have it themselves (imports and
    # this everyday line are not the reference's own).
    stubs = {line.strip() for name in SUBMISSION_FILES for line in texts[f"homework/{name}"].splitlines()}
    everyday = {"path.parent.mkdir(parents=True, exist_ok=True)"}
    code_lines = {line.strip() for text in reference.values() for line in text.splitlines()
                  if len(line.strip()) > 25 and not line.strip().startswith(("#", "from ", "import "))} - everyday
    assert sorted(line for line in code_lines - stubs if line in shipped) == []


def test_no_file_maps_a_question_to_its_answer(release):
    raw = tomllib.loads((release / "checks/flows/catalogue.toml").read_text(encoding="utf-8"))
    assert [sorted(q) for q in raw["question"]] == [sorted(set(q) - {"answer"}) for q in
                                                      tomllib.loads(catalogue.CATALOGUE_FILE.read_text())["question"]]
    assert all("answer" not in q for q in raw["question"])
    answers = tomllib.loads((release / "homework/answers.toml").read_text(encoding="utf-8"))
    assert answers == {"student_id": "", **{q.key: "" for q in COURSE.questions}}
    key = json.loads((release / "checks/flows/key.json").read_text(encoding="utf-8"))
    assert key["answers"] == {} and all("answers" not in row for row in key["students"].values())
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in key["paths"].values())
    key_text = json.dumps(key)
    assert not any(option in key_text for q in COURSE.questions if q.kind != "count" for option in q.options)
    # Options are listed where they are offered, every option alike: no file names an answer
    # more often than the other options of its question (counts are skipped: "3" is everywhere).
    for name, text in texts_of(release).items():
        for question in COURSE.questions:
            if question.kind == "count":
                continue
            counts = {o: len(re.findall(rf"(?<![\w.,]){re.escape(o)}(?![\w,]|\.\d)", text)) for o in question.options}
            others = max(n for o, n in counts.items() if o != question.answer)
            assert counts[question.answer] <= others, f"{name} names the answer of {question.id}: {counts}"


def test_rendered_files_and_cli_of_the_release(release):
    assert (release / "homework/homework.py").read_text() == (PROJECT_ROOT / "homework/homework.py").read_text()
    assert (release / "HOMEWORK.md").read_text() == (PROJECT_ROOT / "HOMEWORK.md").read_text()
    built = notebook.read(release / "homework/homework.ipynb")
    assert built == notebook.homework_notebook()
    found = subprocess.run([sys.executable, "-c", "import hw3; print(hw3.__file__)"], cwd=release,
                           capture_output=True, text=True, check=True)
    assert Path(found.stdout.strip()) == release / "hw3/__init__.py"
    helped = subprocess.run([sys.executable, "-m", "hw3.cli", "--help"], cwd=release, capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    commands = re.findall(r"^    (\w+) ", helped.stdout, re.MULTILINE)
    assert commands == ["stubs", "train", "data", "grade"]
    checked = subprocess.run([sys.executable, "-m", "hw3.cli", "stubs", "--check"], cwd=release,
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr  # the catalogue without answers renders the same stubs


def test_tox_pyproject_and_readme_are_for_students(release):
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(release / "tox.ini")
    assert tox.sections() == ["tox", "testenv", "testenv:flow", "testenv:grade"]
    assert tox["tox"]["env_list"] == "grade" and tox["testenv:grade"]["commands"] == "pytest checks {posargs}"
    pyproject = tomllib.loads((release / "pyproject.toml").read_text())
    assert pyproject["tool"]["pytest"]["ini_options"]["testpaths"] == ["checks"]
    assert pyproject["project"]["dependencies"] == tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    readme = (release / "README.md").read_text()
    assert "${" not in readme and COURSE.title in readme
    assert re.findall(r"^(python -m pip install tox && tox -e grade|tox devenv -e grade \.venv)", readme, re.MULTILINE)
    for word in ("solutions", "instructor", "tox -e tests"):
        assert word not in readme.lower() and word not in (release / "tox.ini").read_text()


def test_a_non_empty_destination_is_kept_unless_forced(tmp_path):
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me")
    refused = hw3_release(str(dest))
    assert refused.returncode == 2
    assert refused.stderr == f"hw3: {dest} is not empty; choose an empty or new folder, or pass --force to replace everything in it\n"
    assert [p.name for p in dest.iterdir()] == ["mine.txt"]
    forced = hw3_release(str(dest), "--force")
    assert forced.returncode == 0, forced.stderr
    assert not (dest / "mine.txt").exists() and (dest / "checks/flows/key.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no staging folder or old copy left
    inside = hw3_release(str(PROJECT_ROOT / "hw3" / "out"))
    assert inside.returncode == 2 and "cannot go into the project" in inside.stderr
    assert not (PROJECT_ROOT / "hw3" / "out").exists()


def test_a_failure_leaves_nothing_half_written(tmp_path):
    """A project without its reference cannot build the key: the release fails at its last step."""
    project = tmp_path / "project"
    for name in ("hw3", "checks"):
        shutil.copytree(PROJECT_ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("tox.ini", "pyproject.toml", ".gitignore"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / name, project / name)
    out = tmp_path / "out"
    done = hw3_release(str(out / "student-repo"), cwd=project)
    assert done.returncode == 2
    assert done.stderr.startswith("hw3: ") and "solutions/homework.py is missing" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(out.iterdir()) == []


def grade_release(folder: Path, api_url: str, *args: str) -> CheckRun:
    """`python -m pytest checks/` in the release, with its shipped key, as a student runs it."""
    results = folder.parent / f"{folder.name}-results.json"
    argv = [sys.executable, "-m", "pytest", "checks/", "-p", "no:cacheprovider", "--prefect-api-url", api_url,
            "--results-json", str(results), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HW3_DATA", "HW3_MODELS"))}
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert results.is_file(), output[-4000:]
    return CheckRun(done.returncode, output, json.loads(results.read_text(encoding="utf-8")))


def work_points(question) -> int:
    """The points of a question that the release's checks grade (its answer part is recorded)."""
    return sum(part.points for part in question.parts if part.id != "answer")


def assert_scores(run: CheckRun, full: bool, answers_graded: bool = False) -> None:
    for question in COURSE.questions:
        test = run.question(question.id)
        expected = (question.points if answers_graded else work_points(question)) if full else 0
        assert test["score"] == expected, test["output"]
        if not full:
            assert test["output"].startswith("not attempted: "), test["output"]
        elif not answers_graded and question.part("answer"):
            assert f"recorded ({question.key} = " in test["output"] and "graded by your instructor" in test["output"]
    total = sum(q.points if answers_graded else work_points(q) for q in COURSE.questions) if full else 0
    assert run.results["score"] == total
    assert "Traceback" not in run.output and "error in the checks" not in run.output
    assert "expected" not in run.results["output"]  # no figure of the reference is shown


@pytest.mark.parametrize("target", [[], ["--target", "homework/homework.ipynb"]], ids=["py", "notebook"])
def test_the_release_grades_its_stubs_zero(release, prefect_api_url, tmp_path, target):
    copy = shutil.copytree(release, tmp_path / "student-repo")
    assert_scores(grade_release(copy, prefect_api_url, *target), full=False)


def test_the_release_grades_the_reference_full_marks(release, prefect_api_url, tmp_path):
    copy = shutil.copytree(release, tmp_path / "student-repo")
    for name in SUBMISSION_FILES:
        shutil.copy(SOLUTIONS / name, copy / "homework" / name)
    run = grade_release(copy, prefect_api_url)
    assert run.returncode == 0, run.output[-4000:]
    assert_scores(run, full=True)
    assert re.search(r"Total of the local checks +6/6", run.output)
    assert run.results["extra_data"]["recorded"] == ["Q1.answer", "Q3.answer", "Q4.answer", "Q5.answer"]
    # the instructor's key grades the answers of the same submission in the same release
    run = grade_release(copy, prefect_api_url, "--answer-key", str(reference_key_file()))
    assert_scores(run, full=True, answers_graded=True)


def test_the_release_grades_the_reference_notebook_full_marks(release, prefect_api_url, tmp_path):
    copy = shutil.copytree(release, tmp_path / "student-repo")
    for name in ("deployment.py", "answers.toml"):
        shutil.copy(SOLUTIONS / name, copy / "homework" / name)
    jupyter_only = "!pip install prefect\n%load_ext autoreload\n# %%\n%%bash\nexit 1\n# %%\n"
    reference = notebook.from_script(jupyter_only + (SOLUTIONS / "homework.py").read_text(encoding="utf-8"))
    notebook.write(reference, copy / "homework" / "homework.ipynb")
    stub = (copy / "homework/homework.py").read_text()
    run = grade_release(copy, prefect_api_url, "--target", "homework/homework.ipynb")
    assert run.returncode == 0, run.output[-4000:]
    assert_scores(run, full=True)
    assert (copy / "homework/homework.py").read_text() == stub  # the notebook's folder is not written to
