"""What `--target` names: a folder laid out like the assignment's homework folder, or a
notebook (`homework.ipynb`) whose folder holds the submission's other files.

A notebook is graded as the assignment's main file (homework.py) made of its code cells
(hw3.notebook.to_script), in a staging copy of its folder; the student's folder is never
written to. A notebook that cannot be read becomes a main file that raises NotebookError with
the reason, so every question that imports it fails with that reason and the others are
graded as usual.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hw3 import notebook

# The notebook's neighbours that go into the staging copy: the submission's other files.
STAGED_PATTERNS = ("*.py", "*.toml", "*.yaml")


def is_notebook(path: Path) -> bool:
    return path.suffix == ".ipynb"


def _unreadable(reason: str) -> str:
    return f"class NotebookError(Exception):\n    pass\n\n\nraise NotebookError({reason!r})\n"


def stage_notebook(path: Path, staging: Path, main_file: str = "homework.py") -> Path:
    """A folder in `staging` to grade: the notebook's folder, `main_file` made of the notebook."""
    staging.mkdir(parents=True, exist_ok=True)
    for pattern in STAGED_PATTERNS:
        for neighbour in path.parent.glob(pattern):
            if neighbour.is_file() and neighbour.name != main_file:
                shutil.copy(neighbour, staging / neighbour.name)
    try:
        code = notebook.to_script(notebook.read(path))
    except notebook.NotebookError as exc:
        code = _unreadable(str(exc))
    (staging / main_file).write_text(code, encoding="utf-8")
    return staging


def resolve(given: str | None, default: Path, staging: Path, main_file: str = "homework.py") -> Path:
    """The folder to grade for `--target given` (None: `default`); ValueError if there is none."""
    path = Path(given).resolve() if given else default
    if path.is_dir():
        return path
    if path.is_file() and is_notebook(path):
        return stage_notebook(path, staging, main_file)
    raise ValueError(f"--target {given}: no such folder or .ipynb notebook")
