"""Files written whole or not at all."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def atomic_write(path: str | os.PathLike, content: str | bytes | Callable[[IO], None], *, binary: bool = False,
                 check: Callable[[Path], None] | None = None) -> Path:
    """Write `content` (text, bytes, or a function that writes to an open file) to a
    temporary file beside `path`, then rename it into place: `path` is never half-written.
    `check(temporary)` may refuse the written file (by raising) before it takes `path`'s place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = binary or isinstance(content, bytes)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as out:
            if callable(content):
                content(out)
            else:
                out.write(content)
        os.chmod(temporary, 0o644)
        if check is not None:
            check(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def engine_files() -> list[Path]:
    """The engine's own code (every .py file of the hw3 package), in a stable order."""
    return sorted(Path(__file__).parent.rglob("*.py"))


def files_digest(paths: list[Path]) -> str:
    """One digest of the contents of `paths` (with their names), in the order given; an
    unreadable file counts as such."""
    total = hashlib.sha256()
    for path in paths:
        total.update(str(path).encode() + b"\0")
        try:
            total.update(path.read_bytes())
        except OSError:
            total.update(b"<unreadable>")
    return total.hexdigest()
