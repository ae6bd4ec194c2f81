"""Where an assignment's parts are: the one place that knows the project's folders.

An assignment is a folder `checks/<ID>/` holding its `catalogue.toml` (questions, points,
options), its `templates/` (stubs and homework text), its `jobs.py` (what the probe runs on a
submission) and its checks (`test_q<N>_<part>_*.py`, with a `conftest.py` of its own). Its
student files are in `homework/<ID>/` and its reference in `solutions/<ID>/`; the first
assignment (`flows`, the 2022 homework) keeps its files at the top of `homework/` and
`solutions/`, where they were before there was a second one.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHECKS_DIR = PROJECT_ROOT / "checks"
DEFAULT_ASSIGNMENT = "flows"
MANIFEST_FILE = PROJECT_ROOT / "data" / "manifest.toml"


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
