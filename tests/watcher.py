"""`hw3 grade --watch` in a child, its output read line by line (tests/test_watch.py,
benchmarks/watch.py)."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

GRADED = re.compile(r"\[hw3\] re-checked (.+?) in ([\d.]+) s")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Watcher:
    """`hw3 grade --watch ARGS` started in `cwd`; `next()` waits for its next grade."""

    def __init__(self, *args: str, cwd: Path):
        argv = [sys.executable, "-m", "hw3.cli", "grade", "--watch", *args]
        self.process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        env={"PYTHONPATH": str(PROJECT_ROOT), **os.environ})
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.process.stdout] + [self.lines.put(None)],
                         daemon=True).start()

    def next(self, timeout: float = 600) -> tuple[str, str, float]:
        """The output of the next grade, what it says it re-checked and the seconds it took."""
        text, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=5)
            except queue.Empty:
                continue
            if line is None:
                break
            text.append(line)
            found = GRADED.search(line)
            if found:
                return "".join(text), found.group(1), float(found.group(2))
        raise AssertionError("no grade came:\n" + "".join(text)[-3000:])

    def stop(self) -> int:
        """Stop it as a closed terminal does (it stops its server on the way out); its exit status."""
        self.process.terminate()
        try:
            return self.process.wait(timeout=60)
        finally:
            self.process.kill()
            self.process.wait()
