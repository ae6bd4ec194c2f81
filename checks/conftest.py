"""The graded checks: `pytest checks/` grades homework/, `--target DIR` any folder laid out
like it (homework.py, deployment.py, answers.toml), `--target DIR/homework.ipynb` a notebook
in place of homework.py.

Options:
  --target DIR|NOTEBOOK   the submission to grade (default: homework/ of this project)
  --results-json FILE     also write the grade as Gradescope's results.json
  --prefect-api-url URL   use this running Prefect server instead of starting one
  --answer-key FILE       grade with this answer key (default: checks/key.json if shipped,
                          else a key built from the reference solution in solutions/)

The submission's code runs in child processes (harness/runner.py) against a Prefect server
of this session only (harness/server.py); the grade table is printed at the end.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The checks' own Prefect client must not read the user's profile: give it a home of its own
# before anything imports Prefect.
_PREFECT_HOME = tempfile.mkdtemp(prefix="hw3-checks-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
for _name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
    os.environ.pop(_name, None)

from checks.harness.grading import Gradebook, classify, part_of, question_of  # noqa: E402
from hw3 import answer_key, catalogue  # noqa: E402

CHECKS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = CHECKS_DIR.parent
KEY_FILE = CHECKS_DIR / "key.json"  # shipped in a student release; else built from solutions/
GRADEBOOK = pytest.StashKey[Gradebook]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hw3", "grading the homework")
    group.addoption("--target", metavar="DIR|NOTEBOOK", help="folder or .ipynb notebook to grade (default: homework/)")
    group.addoption("--results-json", metavar="FILE", help="write the grade as Gradescope's results.json")
    group.addoption("--prefect-api-url", metavar="URL", help="grade against this running Prefect server")
    group.addoption("--answer-key", metavar="FILE", help="the answer key (default: checks/key.json, else solutions/)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[GRADEBOOK] = Gradebook(catalogue.load())


def _is_check(item: pytest.Item) -> bool:
    return Path(item.path).is_relative_to(CHECKS_DIR)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    course = catalogue.load()

    def stray(item: pytest.Item) -> bool:
        qid = question_of(item.name)
        return qid not in course.ids or part_of(item.name, course[qid]) is None

    strays = [item.nodeid for item in items if _is_check(item) and stray(item)]
    if strays:
        raise pytest.UsageError(f"checks must be named test_q<N>_<part>_... after a part of the catalogue: {', '.join(strays)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if _is_check(item) and (call.when == "call" or call.when == "setup" and report.outcome != "passed"):
        status, reason = classify(call.excinfo)
        item.config.stash[GRADEBOOK].record(question_of(item.name), item.name, status, reason)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--results-json")
    if path:
        results = session.config.stash[GRADEBOOK].results_json()
        Path(path).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    gradebook = config.stash[GRADEBOOK]
    if gradebook.checks:
        terminalreporter.section("grade")
        for line in gradebook.report_lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def course(key: answer_key.AnswerKey) -> catalogue.Catalogue:
    """The catalogue, with the options of the submission's variant."""
    return key.catalogue(catalogue.load())


@pytest.fixture(scope="session")
def key(request: pytest.FixtureRequest, target: Path) -> answer_key.AnswerKey:
    """--answer-key, else the shipped key if there is one, else the reference solution's;
    its row for the submission's student_id when the key has per-student variants."""
    from checks.harness import answers

    given = request.config.getoption("--answer-key") or (KEY_FILE if KEY_FILE.exists() else None)
    if given:  # out of the submission's reach (harness/probe.py's guard)
        from checks.harness.runner import protect

        protect(given)
    full = answer_key.load(given) if given else answer_key.build_from_reference(PROJECT_ROOT)
    student = answers.read(target, catalogue.load()).student_id
    problem = full.student_problem(student)
    if problem:
        request.config.stash[GRADEBOOK].notes.append(problem)
    return full.for_student(student)


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder to grade; a notebook is graded from a staging copy (harness/target.py)."""
    from checks.harness.target import resolve

    given = request.config.getoption("--target")
    try:
        return resolve(given, PROJECT_ROOT / "homework", tmp_path_factory.mktemp("notebook"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def prefect_api_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The Prefect server the submission runs against: --prefect-api-url, else our own."""
    from checks.harness.server import PrefectServer

    given = request.config.getoption("--prefect-api-url")
    if given:
        yield given.rstrip("/")
        return
    server = PrefectServer(tmp_path_factory.mktemp("prefect-server"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def grading(request, target, key, course, prefect_api_url, tmp_path_factory):
    """The session's runs of the submission, started together."""
    from checks.harness.session import GradingSession

    session = GradingSession(target, key, course, prefect_api_url, tmp_path_factory.mktemp("grading"))
    gradebook = request.config.stash[GRADEBOOK]
    gradebook.notes += session.answers.notes + [f.message for f in session.findings if f.charge is None]
    from checks.harness import confine

    gradebook.notes += [confine.reduced()] if confine.reduced() else []
    gradebook.causes += [f.cause for f in session.findings if f.charge]
    gradebook.explained |= {f.charge for f in session.findings if f.charge}
    gradebook.roots.update({str(target): "", str(PROJECT_ROOT): ""})
    for name in ("paths", "course", "today", "real", "deployment", "q6"):
        gradebook.roots.update({str(session.sandbox(name).work): "", str(session.sandbox(name).folder): ".."})
    notes_before = len(session.answers.notes)
    session.start({question_of(item.name) for item in request.session.items if _is_check(item)})
    try:
        yield session
        gradebook.notes += session.answers.notes[notes_before:]
        try:
            gradebook.figures += session.figure_lines()
        except Exception as exc:  # the checks that needed these figures said why already
            gradebook.notes.append(f"the figures of your code could not be measured: {exc}")
    finally:
        session.close()
