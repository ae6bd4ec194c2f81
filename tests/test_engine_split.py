"""The engine (hw3/) and the assignments (checks/<ID>/) are apart: the engine imports no
assignment, nothing but the probe edits sys.path, and a new assignment needs no engine edit
(a toy one, from a temporary folder, is graded by the plugin)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hw3 import layout

PACKAGES = ("hw3", "checks")


def imports_of(path: Path) -> set[str]:
    """The top-level names a Python file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(folder: str) -> list[Path]:
    return sorted(p for p in (layout.PROJECT_ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def test_the_engine_imports_no_assignment():
    offenders = {str(p.relative_to(layout.PROJECT_ROOT)): sorted(imports_of(p) & {"checks", "solutions", "homework", "tests"})
                 for p in python_files("hw3")}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_imports_between_packages_go_one_way():
    seen = {package: set().union(*(imports_of(p) for p in python_files(package))) & set(PACKAGES) - {package}
            for package in PACKAGES}
    assert seen == {"hw3": set(), "checks": {"hw3"}}


def engine_imports() -> dict[str, set[str]]:
    """Each module of hw3/ and the modules of hw3/ it imports, wherever in the file (a lazy
    import inside a function counts: it makes a circle all the same)."""
    modules = {".".join(path.relative_to(layout.PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__"): path
               for path in (layout.PROJECT_ROOT / "hw3").rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("hw3"):
                found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                          for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("hw3")}
        graph[name] = {other for other in found if other in modules and other != "hw3" and other != name}
    return graph


def test_the_engine_has_no_import_circle():
    graph = engine_imports()
    circles = []
    for start in graph:
        stack = [(start, (start,))]
        while stack:
            name, path = stack.pop()
            for other in graph[name]:
                if other == start:
                    circles.append(" -> ".join((*path, start)))
                elif other not in path:
                    stack.append((other, (*path, other)))
    assert not circles, circles[:5]


def test_only_the_probe_edits_sys_path():
    """The probe puts the submission's folder first; no other code of the package needs to."""
    edits = [str(p.relative_to(layout.PROJECT_ROOT)) for folder in PACKAGES for p in python_files(folder)
             if any(f"sys.path.{verb}" in p.read_text(encoding="utf-8") for verb in ("insert", "append", "extend"))]
    assert edits == ["hw3/sandbox/probe.py"]


def test_every_assignment_has_its_parts():
    for name in layout.assignment_ids():
        folder = layout.assignment_dir(name)
        assert (folder / "jobs.py").is_file() and (folder / "conftest.py").is_file(), name
        assert sorted(folder.glob("test_q*.py")), name


TOY_CATALOGUE = '''
[course]
title = "A toy assignment"
taxi = "green"
date = "2023-02-01"
edition = "toy"
stubs = ["toy.py", "answers.toml"]

[[question]]
id = "Q1"
title = "Say the answer"
points = 2
kind = "choice"
options = ["41", "42"]
answer = "42"
task = "Make answer() return 42, and write it in answers.toml."
hint = "The answer is the one everybody knows."

[[question.parts]]
id = "code"
points = 1
what = "answer() returns the option"

[[question.parts]]
id = "answer"
points = 1
what = "q1 in answers.toml"
'''

TOY_JOBS = '''
import hw3_kit as kit


def job_call(request, report):
    module = kit.load_module("toy", report.target, report)
    with report.student_code():
        report.fields["value"] = kit.function(module, "answer")()


JOBS = {"call": job_call}
'''

TOY_CONFTEST = '''
from pathlib import Path

import pytest

from hw3.grading.session import Session


class ToySession(Session):
    READERS = {"call": {"Q1"}}
    JOBS_FILE = Path(__file__).with_name("jobs.py")

    def spec(self, name):
        return "call", self.sandbox(name), {}


@pytest.fixture(scope="session")
def grading(target, key, course, tmp_path_factory, grading_notes):
    session = ToySession(target, key, course, "", tmp_path_factory.mktemp("toy"))
    session.start({"Q1"})
    yield session
    session.close()
'''

TOY_CHECK = '''
from hw3.grading.gradebook import fail


def test_q1_code_returns_the_answer(grading):
    result = grading.finished("call", "Q1.code")
    if result.data["value"] != 42:
        fail(f"answer() returned {result.data['value']!r}, not the answer")


def test_q1_answer(grading, course):
    grading.check_choice(course["Q1"], "is not the answer")
'''


@pytest.fixture
def toy(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    for name, text in (("catalogue.toml", TOY_CATALOGUE), ("jobs.py", TOY_JOBS), ("conftest.py", TOY_CONFTEST),
                       ("test_q1_answer.py", TOY_CHECK)):
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def grade_toy(toy: Path, code: str, answer: str, tmp_path: Path) -> dict:
    submission = tmp_path / f"submission-{answer}-{len(list(tmp_path.iterdir()))}"
    submission.mkdir()
    (submission / "toy.py").write_text(code, encoding="utf-8")
    (submission / "answers.toml").write_text(f'q1 = "{answer}"\n', encoding="utf-8")
    results = submission.with_suffix(".json")
    done = subprocess.run([sys.executable, "-m", "pytest", str(toy), "-p", "hw3.grading.plugin", "-p", "no:cacheprovider",
                           "--assignment", str(toy), "--target", str(submission), "--results-json", str(results)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert results.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(results.read_text())


def test_a_toy_assignment_is_graded_with_no_engine_edit(toy, tmp_path):
    right = grade_toy(toy, "def answer():\n    return 42\n", "42", tmp_path)
    assert (right["score"], right["max_score"]) == (2, 2)
    wrong = grade_toy(toy, "def answer():\n    return 41\n", "41", tmp_path)
    assert wrong["score"] == 0
    assert "answer() returned 41" in json.dumps(wrong)
