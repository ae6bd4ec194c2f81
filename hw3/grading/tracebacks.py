"""The cause of a failure, from a traceback's text (a run's logs, a process's output): the
exception and the student's own file and line, never the grader's frames alone."""

from __future__ import annotations

import re

TRACEBACK = "Traceback (most recent call last):"
FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+), in (\S+)')
EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failed|NotFound|Missing)\w*)(?::\s*(.*))?$")
LIMIT = 400  # characters of an exception's message


def _read(block: str) -> tuple[list[tuple[str, str, str]], str | None]:
    """The frames (file, line, function) of one traceback, and its exception line."""
    frames = []
    for line in block.splitlines()[1:]:
        frame = FRAME.match(line)
        if frame:
            frames.append(frame.groups())
            continue
        match = EXCEPTION.match(line.strip()) if line and not line.startswith((" ", "\t")) else None
        if match:
            text = match.group(1).rsplit(".", 1)[-1] + (f": {match.group(2).strip()}" if match.group(2) else "")
            return frames, text if len(text) <= LIMIT else text[:LIMIT] + "..."
    return frames, None


def cause(text: str, own_files: set[str], own_only: bool = False) -> str | None:
    """The exception of the last traceback in `text` that passes through one of `own_files`
    (the submission's file names), as "ValueError: ... (file.py, line 12, in main_flow)", its
    last frame there; else (unless `own_only`) the last traceback's exception alone; None if
    there is none."""
    blocks = text.split(TRACEBACK)[1:]
    last = None
    for block in reversed(blocks):
        frames, exception = _read(block)
        if exception is None:
            continue
        last = last or exception
        own = [f for f in frames if f[0].replace("\\", "/").rsplit("/", 1)[-1] in own_files and "site-packages" not in f[0]]
        if own:
            path, line, function = own[-1]
            return f"{exception} ({path.replace(chr(92), '/').rsplit('/', 1)[-1]}, line {line}, in {function})"
    return None if own_only else last
