"""The pytest plugin of the graded checks: `pytest checks/ [--assignment ID]` grades one
assignment's submission and prints its grade table.

checks/conftest.py registers it; an assignment outside this project is graded with
`pytest DIR -p hw3.grading.plugin --assignment DIR`.

Options:
  --assignment ID|DIR     the assignment (default: flows, the 2022 homework)
  --target DIR|NOTEBOOK   the submission (default: the assignment's homework folder);
                          DIR/<ID> when DIR holds one, so `--target solutions` works for each
  --results-json FILE     also write the grade as Gradescope's results.json
  --prefect-api-url URL   use this running Prefect server instead of starting one
  --answer-key FILE       grade with this answer key (default: the key shipped in the
                          assignment's folder, else one built from its reference solution)
  --kept FILE             keep the grade in FILE (JSON) for a later --recheck
  --recheck PATTERNS      run only the checks named by PATTERNS (comma-separated, without
                          `test_`; "" for none) and take the others' results from --kept FILE
                          (`hw3 grade --watch` after a save: hw3/grading/incremental.py)

An assignment's own conftest.py (checks/<ID>/conftest.py) provides the `grading` fixture:
its session of child runs of the submission (hw3/sandbox/runner.py), against the server of
the `prefect_api_url` fixture (hw3/grading/server.py).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="hw3-checks-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)


def own_prefect_home() -> None:
    """The checks' own Prefect client must not read the user's profile: it gets a home of its own."""
    os.environ["PREFECT_HOME"] = _PREFECT_HOME
    for name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
        os.environ.pop(name, None)


own_prefect_home()  # before anything imports Prefect

from hw3 import assignment as assignment_module, catalogue, layout
from hw3.grading import answer_key  # noqa: E402
from hw3.grading.gradebook import Gradebook, classify, matches, part_of, question_of  # noqa: E402

GRADEBOOK = pytest.StashKey[Gradebook]()
ASSIGNMENT = pytest.StashKey[assignment_module.Assignment]()
ORDER = pytest.StashKey[dict[str, int]]()  # every check's place in the collection
KEPT = pytest.StashKey[dict]()  # the grade --kept FILE held, for --recheck
EARLY = pytest.StashKey[dict]()  # what pytest_sessionstart started ahead: "server", and "target" (the copy, its notes)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hw3", "grading the homework")
    group.addoption("--assignment", metavar="ID|DIR", help=f"the assignment to grade (default: {layout.DEFAULT_ASSIGNMENT})")
    group.addoption("--target", metavar="DIR|NOTEBOOK", help="folder or .ipynb notebook to grade (default: the homework folder)")
    group.addoption("--results-json", metavar="FILE", help="write the grade as Gradescope's results.json")
    group.addoption("--prefect-api-url", metavar="URL", help="grade against this running Prefect server")
    group.addoption("--answer-key", metavar="FILE", help="the answer key (default: the shipped key, else the reference's)")
    group.addoption("--kept", metavar="FILE", help="keep the grade in FILE for a later --recheck")
    group.addoption("--recheck", metavar="PATTERNS", help="run only these checks; the others' results come from --kept")


def pytest_configure(config: pytest.Config) -> None:
    try:
        chosen = assignment_module.load(config.getoption("--assignment"))
    except Exception as exc:
        raise pytest.UsageError(str(exc)) from None
    kept = config.getoption("--kept")
    if config.getoption("--recheck") is not None:
        if not kept:
            raise pytest.UsageError("--recheck takes the other checks' results from --kept FILE: give both")
        try:
            config.stash[KEPT] = json.loads(Path(kept).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise pytest.UsageError(f"--kept {kept}: no grade kept there to re-check against ({exc}); "
                                    "grade once with --kept FILE and without --recheck") from None
    if not config.getoption("--answer-key") and not (chosen.folder / "key.json").exists():
        problem = answer_key.reference_problem(chosen)
        if problem:
            raise pytest.UsageError(problem)
    config.stash[ASSIGNMENT] = chosen
    config.stash[GRADEBOOK] = Gradebook(chosen.catalogue)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Without --prefect-api-url, launch the checks' own server now, and start the zygote of
    their runs (its imports) on a copy of the submission: both get ready while pytest collects
    the checks and the key is built, not one after the other."""
    from hw3.grading.server import PrefectServer
    from hw3.grading.target import resolve
    from hw3.sandbox import warm

    config = session.config
    if config.getoption("--prefect-api-url") or warm.ahead() is not None:
        return
    temporary = config._tmp_path_factory  # the tmp_path_factory fixture's, before any fixture runs
    early = config.stash[EARLY] = {"server": PrefectServer(temporary.mktemp("prefect-server"))}
    try:
        url = early["server"].launch().api_url
    except OSError:
        return  # the prefect_api_url fixture starts it, and says why it cannot
    chosen, folder = config.stash[ASSIGNMENT], temporary.mktemp("grading")
    try:
        session_class = assignment_module.session_class(chosen.id)
        target = resolve(_given_target(config, chosen), chosen.homework(), folder / "submission", chosen.catalogue.main_file or "")
        session_class.start_ahead(target[0], url, folder)
    except Exception:  # an assignment outside the project, or a target the target fixture refuses (and says why)
        return
    early["target"] = target


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop what pytest_sessionstart started, if the session did not."""
    from hw3.sandbox import warm

    if "server" in config.stash.get(EARLY, {}):
        warm.stop_ahead()
        config.stash[EARLY]["server"].stop()


def _given_target(config: pytest.Config, chosen: assignment_module.Assignment) -> str | None:
    """--target, or its folder for the assignment (DIR/<ID>) when it has one."""
    given = config.getoption("--target")
    if given and (Path(given) / chosen.id).is_dir():
        given = str(Path(given) / chosen.id)
    return given


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Another assignment's checks are not collected."""
    chosen = config.stash[ASSIGNMENT]
    if collection_path.parent == layout.CHECKS_DIR and (collection_path / "catalogue.toml").is_file():
        return collection_path.resolve() != chosen.folder or None
    return None


def _is_check(item: pytest.Item) -> bool:
    return Path(item.path).resolve().is_relative_to(item.config.stash[ASSIGNMENT].folder)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    course = config.stash[ASSIGNMENT].catalogue

    def stray(item: pytest.Item) -> bool:
        qid = question_of(item.name)
        return qid not in course.ids or part_of(item.name, course[qid]) is None

    strays = [item.nodeid for item in items if _is_check(item) and stray(item)]
    if strays:
        raise pytest.UsageError(f"checks must be named test_q<N>_<part>_... after a part of the catalogue: {', '.join(strays)}")
    config.stash[ORDER] = {item.name: n for n, item in enumerate(items) if _is_check(item)}
    recheck = config.getoption("--recheck")
    if recheck is not None:
        patterns = tuple(p.strip() for p in recheck.split(",") if p.strip())
        left = [item for item in items if _is_check(item) and not matches(item.name, patterns)]
        config.hook.pytest_deselected(items=left)
        items[:] = [item for item in items if item not in left]
        config.stash[GRADEBOOK].rechecked = {item.name for item in items if _is_check(item)}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """The notes a check makes while it runs are its own (kept and re-checked with it)."""
    gradebook = item.config.stash[GRADEBOOK]
    since = len(gradebook.notes)
    try:
        return (yield)
    finally:
        if _is_check(item):
            gradebook.attribute_notes(item.name, since)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if _is_check(item) and (call.when == "call" or call.when == "setup" and report.outcome != "passed"):
        status, reason = classify(call.excinfo)
        gradebook = item.config.stash[GRADEBOOK]
        gradebook.record(question_of(item.name), item.name, status, reason)
        if call.excinfo is not None and isinstance(call.excinfo.value, pytest.fail.Exception):
            report.longrepr = gradebook.scrub(str(call.excinfo.value))  # a check's own message, as graded
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    from hw3.fsutil import atomic_write

    gradebook, kept = session.config.stash[GRADEBOOK], session.config.getoption("--kept")
    if gradebook.rechecked is not None:
        gradebook.keep(session.config.stash[KEPT], session.config.stash.get(ORDER, {}))
    if kept:
        atomic_write(Path(kept), json.dumps(gradebook.state()) + "\n")
    path = session.config.getoption("--results-json")
    if path:
        atomic_write(Path(path), json.dumps(gradebook.results_json(), indent=2) + "\n")


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    gradebook = config.stash[GRADEBOOK]
    if gradebook.checks:
        terminalreporter.section("grade")
        for line in gradebook.report_lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def assignment(request: pytest.FixtureRequest) -> assignment_module.Assignment:
    return request.config.stash[ASSIGNMENT]


@pytest.fixture(scope="session")
def gradebook(request: pytest.FixtureRequest) -> Gradebook:
    return request.config.stash[GRADEBOOK]


@pytest.fixture(scope="session")
def course(key: answer_key.AnswerKey, assignment) -> catalogue.Catalogue:
    """The catalogue, with the options of the submission's variant."""
    return key.catalogue(assignment.catalogue)


@pytest.fixture(scope="session")
def key(request: pytest.FixtureRequest, target: Path, assignment, gradebook) -> answer_key.AnswerKey:
    """--answer-key, else the shipped key if there is one, else the reference solution's;
    its row for the submission's student_id when the key has per-student variants."""
    from hw3.grading import answers

    shipped = assignment.folder / "key.json"  # in a student release
    given = request.config.getoption("--answer-key") or (shipped if shipped.exists() else None)
    if given:  # out of the submission's reach (hw3/sandbox/probe.py's guard)
        from hw3.sandbox.runner import protect

        protect(given)
    full = answer_key.load(given) if given else answer_key.build_from_reference(assignment.root, str(assignment.folder))
    student = answers.read(target, assignment.catalogue).student_id
    problem = full.student_problem(student)
    if problem:
        gradebook.notes.append(problem)
    return full.for_student(student)


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest, session_folder: Path, assignment, gradebook) -> Path:
    """The folder to grade: the copy of the submission that hw3/grading/target.py makes in
    the session's folder (what it left out is noted in the gradebook)."""
    from hw3.grading.target import resolve

    early = request.config.stash.get(EARLY, {}).get("target")
    try:
        copy, notes = early or resolve(_given_target(request.config, assignment), assignment.homework(),
                                       session_folder / "submission", assignment.catalogue.main_file or "")
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    gradebook.notes += notes
    return copy


@pytest.fixture(scope="session")
def prefect_api_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The Prefect server the submission runs against: --prefect-api-url, else our own
    (launched as the session started)."""
    from hw3.grading.server import prefect_server

    launched = request.config.stash.get(EARLY, {}).get("server")
    home = launched.home if launched else tmp_path_factory.mktemp("prefect-server")
    with prefect_server(request.config.getoption("--prefect-api-url"), home, launched=launched) as url:
        yield url


@pytest.fixture(scope="session")
def session_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The grading session's folder: the one whose warm interpreter was started ahead
    (`hw3 grade --watch`, pytest_sessionstart), else a fresh one."""
    from hw3.sandbox import warm

    runs = warm.ahead_folder()
    return runs.parent if runs else tmp_path_factory.mktemp("grading")


@pytest.fixture(scope="session")
def grading_notes(gradebook, target):
    """The notes every assignment's session adds: reduced confinement, and the roots that
    reasons name relative to the submission."""
    from hw3.sandbox import confine

    gradebook.notes += [confine.reduced()] if confine.reduced() else []
    gradebook.roots.update({str(target): "", str(layout.PROJECT_ROOT): ""})
    return gradebook
