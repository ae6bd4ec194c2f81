"""What `--target` names: a folder laid out like homework/, or a notebook (`homework.ipynb`)
whose folder holds deployment.py and answers.toml.

A notebook is graded as the homework.py made of its code cells (hw3.notebook.to_script), in
a staging copy of its folder; the student's folder is never written to. A notebook that
cannot be read becomes a homework.py that raises NotebookError with the reason, so every
question that imports homework.py fails with that reason and the others are graded as usual.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hw3 import notebook

HOMEWORK_FILE = "homework.py"
# The notebook's neighbours that go into the staging copy: the submission's other files.
STAGED_PATTERNS = ("*.py", "*.toml")


def is_notebook(path: Path) -> bool:
    return path.suffix == ".ipynb"


def _unreadable(reason: str) -> str:
    return f"class NotebookError(Exception):\n    pass\n\n\nraise NotebookError({reason!r})\n"


def stage_notebook(path: Path, staging: Path) -> Path:
    """A folder in `staging` to grade: the notebook's folder, homework.py made of the notebook."""
    staging.mkdir(parents=True, exist_ok=True)
    for pattern in STAGED_PATTERNS:
        for neighbour in path.parent.glob(pattern):
            if neighbour.is_file() and neighbour.name != HOMEWORK_FILE:
                shutil.copy(neighbour, staging / neighbour.name)
    try:
        code = notebook.to_script(notebook.read(path))
    except notebook.NotebookError as exc:
        code = _unreadable(str(exc))
    (staging / HOMEWORK_FILE).write_text(code, encoding="utf-8")
    return staging


def resolve(given: str | None, default: Path, staging: Path) -> Path:
    """The folder to grade for `--target given` (None: `default`); ValueError if there is none."""
    path = Path(given).resolve() if given else default
    if path.is_dir():
        return path
    if path.is_file() and is_notebook(path):
        return stage_notebook(path, staging)
    raise ValueError(f"--target {given}: no such folder or .ipynb notebook")
