"""What a save changed, and the checks it re-checks (`hw3 grade --watch`).

The catalogue's [watch] table names the checks that read each file of the submission and
each answer of answers.toml. A save re-checks those of what changed; the other checks keep
their last results (`pytest checks --recheck PATTERNS --kept FILE`). Everything is graded
again when a file the table does not name changed, when student_id did (it picks the key's
variant), or when the grader did: the checks, the engine or the answer key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hw3.catalogue import Catalogue
from hw3.fsutil import engine_files, files_digest
from hw3.grading import answers

ANSWERS = answers.FILE_NAME


@dataclass(frozen=True)
class Snapshot:
    """The submission's files (name -> digest), its answers (key -> what its line says) and
    its student_id, and a digest of the grader, at one moment."""

    files: dict[str, str]
    answers: dict[str, str]
    student_id: str | None
    grader: str


def grader_digest(checks_folder: Path, extra: list[str]) -> str:
    """A digest of what grades: the engine's code, the assignment's checks and catalogue,
    and any file named in the arguments passed on to pytest (the answer key)."""
    engine = engine_files()
    checks = sorted(p for p in checks_folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    given = [Path(arg) for arg in extra if Path(arg).is_file()]
    return files_digest([*engine, *checks, *given])


def snapshot(files: list[Path], folder: Path, course: Catalogue, grader: str) -> Snapshot:
    """The Snapshot of `files` (the submission's watched files in `folder`)."""
    read = answers.read(folder, course)
    lines = {q.key: repr((read.problems.get(q.key), read.entries.get(q.key))) for q in course.questions}
    return Snapshot({p.name: files_digest([p]) for p in files}, lines, read.student_id, grader)


def recheck(course: Catalogue, before: Snapshot | None, after: Snapshot) -> tuple[str, ...] | None:
    """The check name patterns that a change from `before` to `after` re-checks; None when
    everything must be graded again (see the module's docstring)."""
    watch = course.watch
    if watch is None or before is None or before.grader != after.grader or before.student_id != after.student_id:
        return None
    changed = {name for name in before.files.keys() | after.files.keys() if before.files.get(name) != after.files.get(name)}
    patterns: list[str] = []
    for name in sorted(changed):
        if name == ANSWERS:
            for key in sorted(k for k in after.answers if before.answers.get(k) != after.answers[k]):
                if key not in watch.answers:
                    return None
                patterns += watch.answers[key]
        elif name in watch.files:
            patterns += watch.files[name]
        else:
            return None
    return tuple(dict.fromkeys(patterns))


def described(patterns: tuple[str, ...] | None) -> str:
    """What a grade re-checked, in a few words, for the line under the table."""
    if patterns is None:
        return "everything"
    return "nothing (no graded line changed)" if not patterns else ", ".join(patterns)
