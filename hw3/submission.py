"""The one way the grader reads a submission's files, outside the sandbox.

The rule: only regular files are read, and a symbolic link is followed only to a target
inside the submission. A link that points outside it (or to nothing) and a special file (a
FIFO, socket or device) are left out, each with a note in the student's words ("stolen.md
is a link to a file outside your submission: left out"). A FIFO is never opened, so it
cannot hang the grader. A link inside the submission counts as the file or folder it
points to.

Hard links need no rule: a hard link can only be made to a file on the same file system by
someone who can already read it, and an uploaded submission (a zip, Gradescope's upload, a
cohort's archive) arrives as fresh files: no upload can hard-link a file of the grader's.

Every path that takes a submission's files uses this module: the checks' copy of the
submission (hw3/grading/target.py), a cohort's archive (hw3/cohort/members.py) and the
2023 checks' copy for `prefect deploy`.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# What the checks never need of a submission: trip files, models, caches, environments.
SKIPPED_FOLDERS = frozenset({"data", "models", ".git", "__pycache__", ".venv", "venv", "mlruns", "node_modules",
                             ".ipynb_checkpoints", ".pytest_cache"})
# A student's own MLflow store (mlflow.db, often committed) is made by another MLflow, whose
# schema today's refuses until migrated: the runs make their own.
SKIPPED_PATTERNS = ("*.parquet", "*.pyc", "*.db")
FILE_LIMIT_MB = 20  # a larger file is left out, with a note
WHY = {
    "outside": "is a link to a file outside your submission",
    "dangling": "is a link to nothing",
    "special": "is not a regular file (a FIFO, socket or device)",
    "large": f"is larger than {FILE_LIMIT_MB} MB",
}


@dataclass
class Files:
    """The files of a submission that the rule keeps, and notes on what it left out."""

    root: Path
    kept: dict[PurePosixPath, Path] = field(default_factory=dict)  # relative name -> the real file to read
    left_out: dict[PurePosixPath, str] = field(default_factory=dict)  # relative name -> why (one of WHY's)

    @property
    def notes(self) -> list[str]:
        return [f"{relative.as_posix()} {WHY[why]}: left out" for relative, why in self.left_out.items()]

    def read_bytes(self, relative: PurePosixPath) -> bytes:
        return read_bytes(self.kept[relative])


def scan(root: Path, *, skip_folders=SKIPPED_FOLDERS, skip_patterns=SKIPPED_PATTERNS, keep=lambda relative: True,
         recurse: bool = True) -> Files:
    """The regular files under `root` (`recurse=False`: in `root` only) by the rule (see the
    module), in a stable order; `keep(relative)` may leave out more, silently."""
    root = Path(root)
    real_root = Path(os.path.realpath(root))
    files = Files(root)

    def walk(folder: Path, prefix: PurePosixPath, seen: frozenset[Path]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            relative = prefix / entry.name
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            real = Path(entry.path)
            if stat.S_ISLNK(mode):
                real = Path(os.path.realpath(entry.path))
                if not real.is_relative_to(real_root):
                    files.left_out[relative] = "outside"
                    continue
                try:
                    mode = os.stat(real, follow_symlinks=False).st_mode
                except OSError:
                    files.left_out[relative] = "dangling"
                    continue
            if stat.S_ISDIR(mode):
                if recurse and entry.name not in skip_folders and real not in seen:
                    walk(real, relative, seen | {real})
            elif not stat.S_ISREG(mode):
                files.left_out[relative] = "special"
            elif any(fnmatch.fnmatch(entry.name, p) for p in skip_patterns) or not keep(relative):
                continue
            elif os.stat(real).st_size > FILE_LIMIT_MB * 2**20:
                files.left_out[relative] = "large"
            else:
                files.kept[relative] = real

    walk(real_root, PurePosixPath(), frozenset({real_root}))
    return files


def read_bytes(path: Path) -> bytes:
    """A regular file's bytes, never through a link and never blocking on a FIFO: the path
    comes from `scan`, which resolved it."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)


def copy(root: Path, dest: Path, **options) -> list[str]:
    """Copy the files the rule keeps from `root` into `dest` (made) as plain files; return
    the notes on what it left out."""
    files = scan(root, **options)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for relative, real in files.kept.items():
        target = dest.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read_bytes(real))
        shutil.copymode(real, target)
    return files.notes
