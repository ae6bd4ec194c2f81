"""The course files a worker grades a cohort's submissions with, packed once per cohort on the
instructor's machine: the assignment's checks folder (catalogue, conftest, jobs, checks) and
the checks' root (`checks/__init__.py`, `checks/conftest.py`). They travel with each
submission as a flow-run parameter, as the submission and the key do, so a worker on another
machine needs nothing but the engine's wheel, and grades with exactly the instructor's checks,
even for an assignment the wheel does not hold.

A worker whose installed checks are the same files grades with them (its grading slots keep
them imported); else it unpacks the course into its cache and grades with that copy.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from hw3 import assignment as assignment_module, layout, settings, submission
from hw3.cohort import members

# What stays behind: the key travels on its own, and hooks are what `hw3 key` measures.
LEFT_BEHIND = ("key.json", "hooks.py")
ROOT_FILES = ("__init__.py", "conftest.py")  # of checks/


def files(chosen: assignment_module.Assignment) -> dict[str, bytes]:
    """The course files of `chosen`, by their path in a course folder (checks/<ID>/...)."""
    found = {f"checks/{name}": (chosen.folder.parent / name).read_bytes() for name in ROOT_FILES
             if (chosen.folder.parent / name).is_file()}
    kept = submission.scan(chosen.folder, skip_patterns=("*.pyc", *LEFT_BEHIND))
    for relative in kept.kept:
        found[f"checks/{chosen.id}/{relative.as_posix()}"] = kept.read_bytes(relative)
    return found


def digest(course: dict[str, bytes]) -> str:
    hashed = hashlib.sha256()
    for name in sorted(course):
        hashed.update(name.encode() + b"\0" + hashlib.sha256(course[name]).digest())
    return hashed.hexdigest()


def pack(chosen: assignment_module.Assignment) -> str:
    """The course files of `chosen` as a zip, base64-encoded (a flow run's parameter)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files(chosen).items()):
            archive.writestr(zipfile.ZipInfo(name), content)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def assignment_for(packed: str, assignment: str) -> str:
    """What the worker grades `assignment` with: its ID when its installed checks are the
    packed ones, else the folder of the packed checks, unpacked once into the cache."""
    unpacked = {}
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(packed))) as archive:
        for info in archive.infolist():
            unpacked[PurePosixPath(info.filename).as_posix()] = archive.read(info)
    wanted = digest(unpacked)
    installed = layout.CHECKS_DIR / assignment
    if (installed / "catalogue.toml").is_file() and digest(files(assignment_module.load(assignment))) == wanted:
        return assignment
    folder = settings.current().cache_dir / "courses" / wanted
    if not folder.is_dir():  # unpacked beside it, then renamed: another worker may unpack it at the same time
        part = members.unpack(packed, folder.with_name(f".{wanted}.{os.getpid()}"))
        try:
            part.rename(folder)
        except OSError:
            shutil.rmtree(part, ignore_errors=True)
    return str(folder / "checks" / assignment)


def checks_root(assignment: str) -> Path:
    """The checks folder pytest runs for `assignment` (an ID, or a folder of unpacked checks)."""
    return Path(assignment).parent if "/" in assignment else layout.CHECKS_DIR
