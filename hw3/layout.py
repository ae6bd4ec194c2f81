"""Where an assignment's parts are: the one place that knows the project's folders.

An assignment is a folder `checks/<ID>/` holding its `catalogue.toml` (questions, points,
options), its `templates/` (stubs and homework text), its `jobs.py` (what the probe runs on a
submission) and its checks (`test_q<N>_<part>_*.py`, with a `conftest.py` of its own). Its
student files are in `homework/<ID>/` and its reference in `solutions/<ID>/`; the first
assignment (`flows`, the 2022 homework) keeps its files at the top of `homework/` and
`solutions/`, where they were before there was a second one.

The engine is a package: installed from its wheel (no course checkout), `PROJECT_ROOT` is the
folder the package is installed in, which holds the checks but no homework or solutions; the
commands that need those say so (`course_problem`).
"""

from __future__ import annotations

from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = ENGINE_DIR.parent
CHECKS_DIR = PROJECT_ROOT / "checks"
DEFAULT_ASSIGNMENT = "flows"
MANIFEST_FILE = ENGINE_DIR / "trips" / "manifest.toml"  # TLC's files: the engine's data, in its package
# A course checkout has its pyproject.toml beside hw3/; an installed wheel has site-packages.
INSTALLED = not (PROJECT_ROOT / "pyproject.toml").is_file()


def private_folders() -> list[Path]:
    """What no student code may read: the course checkout (engine, checks, solutions, keys);
    installed from the wheel, the engine's and the checks' packages."""
    return [ENGINE_DIR, CHECKS_DIR] if INSTALLED else [PROJECT_ROOT]


def course_problem(needed: Path, what: str) -> str | None:
    """Why `needed` (a course file or folder: the reference, the homework) is not there, in
    one line that says what to do; None if it is there."""
    if needed.exists():
        return None
    if INSTALLED:
        return (f"{what} needs the course's folder ({needed.relative_to(PROJECT_ROOT)}), and this hw3 is installed "
                "without one: run it from a checkout of the course (pip install -e .)")
    return f"{what}: {needed} is missing"


def assignment_dir(assignment: str = DEFAULT_ASSIGNMENT) -> Path:
    """checks/<ID>: the assignment's catalogue, templates, jobs and checks."""
    return CHECKS_DIR / assignment


def assignment_ids() -> list[str]:
    """The assignments of this project: the folders of checks/ with a catalogue."""
    return sorted(p.parent.name for p in CHECKS_DIR.glob("*/catalogue.toml"))


def work_dir(kind: str, assignment: str = DEFAULT_ASSIGNMENT, root: Path = PROJECT_ROOT) -> Path:
    """`homework` or `solutions` of an assignment: <root>/<kind>/<ID>, or <root>/<kind> for
    the first assignment."""
    return root / kind if assignment == DEFAULT_ASSIGNMENT else root / kind / assignment
