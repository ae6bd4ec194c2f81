"""A cohort's submissions: one sub-folder each, sent to a worker as an archive of its files,
and a fingerprint that says whether an earlier grade still holds."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

from hw3 import submission
from hw3.errors import Hw3Error

# What a worker receives of a submission: its code, answers, settings and notebooks (not its
# trip files or models, which the checks do not read).
SHIPPED_SUFFIXES = {".py", ".toml", ".ipynb", ".yaml", ".yml", ".md", ".txt", ".json", ".cfg", ".ini", ".sh"}
# What the rule left out travels as an empty entry of its kind, never its target or content.
# (a link's text is ours: "/" for a link out of the submission, a missing name for a link to nothing).
LEFT_OUT_KINDS = {"outside": (stat.S_IFLNK, "/"), "dangling": (stat.S_IFLNK, ".hw3-missing"), "special": (stat.S_IFIFO, "")}
ENGINE_SUFFIXES = {".py", ".toml", ".md", ".yaml", ".json"}


@dataclass(frozen=True)
class Member:
    """One submission: its folder, and the notebook to grade when it has no main file."""

    name: str
    folder: Path
    notebook: str | None = None

    @cached_property
    def shipped(self) -> submission.Files:
        """The files that go to the worker (hw3/submission.py's rule), in a stable order."""
        return submission.scan(self.folder, keep=lambda relative: (
            relative.suffix in SHIPPED_SUFFIXES and not any(p.startswith(".") for p in relative.parts)))

    @cached_property
    def archive(self) -> str:
        """The shipped files as a zip, base64-encoded (a flow run's parameter). What the rule
        left out travels as an empty entry of its kind (unpack makes a link to / or a FIFO),
        so the worker's copy says what this one said."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for relative in self.shipped.kept:
                archive.writestr(zipfile.ZipInfo(relative.as_posix()), self.shipped.read_bytes(relative))
            for relative, why in self.shipped.left_out.items():
                if why not in LEFT_OUT_KINDS:
                    continue
                kind, text = LEFT_OUT_KINDS[why]
                info = zipfile.ZipInfo(relative.as_posix())
                info.external_attr = (kind | 0o644) << 16
                archive.writestr(info, text)
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    def content_digest(self) -> str:
        digest = hashlib.sha256()
        for relative in self.shipped.kept:
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(self.shipped.read_bytes(relative)).digest())
        for note in self.shipped.notes:
            digest.update(note.encode() + b"\0")
        return digest.hexdigest()


def unpack(archive: str, folder: Path) -> Path:
    """Write a member's archive into `folder` (made); return it. A name that climbs out of
    the folder is dropped; an entry left out by the rule becomes a link to / or a FIFO."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(archive))) as files:
        for info in files.infolist():
            target = (folder / info.filename).resolve()
            if not target.is_relative_to(folder.resolve()) or target == folder.resolve():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind == stat.S_IFLNK:
                os.symlink("/" if files.read(info) == b"/" else ".hw3-missing", target)
            elif kind == stat.S_IFIFO:
                os.mkfifo(target)
            else:
                target.write_bytes(files.read(info))
    return folder


def cohort_members(folder: Path, main_file: str = "homework.py") -> list[Member]:
    """Each sub-folder of a cohort folder: graded as a folder, or as its notebook when it has
    one and no main file."""
    if not folder.is_dir():
        raise Hw3Error(f"--cohort {folder}: no such folder; give the folder that holds one sub-folder per student")
    members = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        notebook = (sub / main_file).with_suffix(".ipynb")
        use_notebook = notebook.is_file() and not (sub / main_file).is_file()
        members.append(Member(sub.name, sub.resolve(), notebook.name if use_notebook else None))
    if not members:
        raise Hw3Error(f"--cohort {folder}: no sub-folders; put each student's submission in a folder of its own")
    return members


def engine_digest(assignment_folder: Path) -> str:
    """What the grade of a submission depends on besides its files and the key: the engine's
    code, the assignment's checks, and Prefect's version."""
    import hw3

    digest = hashlib.sha256(version("prefect").encode())
    roots = [Path(hw3.__file__).parent, Path(assignment_folder), Path(assignment_folder).parent / "conftest.py"]
    for root in roots:
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file() and path.suffix in ENGINE_SUFFIXES and "__pycache__" not in path.parts:
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(member: Member, key_meaning: str, engine: str, options: list[str]) -> str:
    """One digest of everything a grade depends on (the key by what it means, not its salt:
    AnswerKey.meaning): equal fingerprints, equal grades."""
    parts = [member.content_digest(), key_meaning, engine, member.notebook or "",
             "\0".join(options)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
