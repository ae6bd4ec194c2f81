"""What `--target` names: a folder laid out like the assignment's homework folder, or a
notebook (`homework.ipynb`) whose folder holds the submission's other files.

The checks never grade the student's folder itself: they grade a copy of it in the session's
folder, made by the one rule of hw3/submission.py (regular files only; no link followed out
of the submission; trip files, models and caches left out). The student's folder is never
written to. A notebook is graded as the assignment's main file (homework.py) made of its
code cells (hw3.authoring.notebook.to_script). A notebook that cannot be read becomes a main file that
raises NotebookError with the reason, so every question that imports it fails with that
reason and the others are graded as usual.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from hw3 import submission
from hw3.authoring import notebook

# The notebook's neighbours that go into the copy: the submission's other files.
STAGED_SUFFIXES = (".py", ".toml", ".yaml")


def is_notebook(path: Path) -> bool:
    return path.suffix == ".ipynb"


def _unreadable(reason: str) -> str:
    return f"class NotebookError(Exception):\n    pass\n\n\nraise NotebookError({reason!r})\n"


def stage_notebook(path: Path, staging: Path, main_file: str = "homework.py") -> list[str]:
    """Copy the notebook's folder into `staging`, with `main_file` made of the notebook;
    return the notes on what the copy left out."""
    name = PurePosixPath(path.name)
    files = submission.scan(path.parent, recurse=False, keep=lambda relative: (
        relative == name or relative.suffix in STAGED_SUFFIXES and relative.name != main_file))
    staging.mkdir(parents=True, exist_ok=True)
    for relative in files.kept:
        if relative != name:
            (staging / relative.name).write_bytes(files.read_bytes(relative))
    try:
        if name not in files.kept:
            raise notebook.NotebookError(next((n for n in files.notes if n.startswith(f"{name} ")), f"{name} is missing"))
        code = notebook.to_script(notebook.read(path, files.read_bytes(name).decode("utf-8", errors="replace")))
    except notebook.NotebookError as exc:
        code = _unreadable(str(exc))
    (staging / main_file).write_text(code, encoding="utf-8")
    return [n for n in files.notes if not n.startswith(f"{name} ")]


def resolve(given: str | None, default: Path, staging: Path, main_file: str = "homework.py") -> tuple[Path, list[str]]:
    """The copy to grade, in `staging` (made), of `--target given` (None: `default`), and the
    notes on what the copy left out; ValueError if there is nothing to grade."""
    path = Path(given).absolute() if given else default
    if is_notebook(path) and (path.is_file() or path.is_symlink()):  # a link is judged by the rule, never followed
        return staging, stage_notebook(path, staging, main_file)
    if path.is_dir():
        return staging, submission.copy(path, staging)
    raise ValueError(f"--target {given}: no such folder or .ipynb notebook")
