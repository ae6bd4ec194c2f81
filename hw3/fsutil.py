"""Files written whole or not at all."""

from __future__ import annotations

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
