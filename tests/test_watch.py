"""`hw3 grade --watch`: a save grades the submission again, on the server of the session,
re-checking what the save touched (the other rows kept, the re-checked ones marked `*`)."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time

import pytest
from submissions import PROJECT_ROOT, make_submission, reference_key_file

GRADED = re.compile(r"\[hw3\] re-checked (.+?) in ([\d.]+) s")


def next_grade(lines: queue.Queue, timeout: float = 600) -> tuple[str, str, float]:
    """The output of the next grade, what it says it re-checked and the seconds it took."""
    text, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=5)
        except queue.Empty:
            continue
        if line is None:
            break
        text.append(line)
        found = GRADED.search(line)
        if found:
            return "".join(text), found.group(1), float(found.group(2))
    raise AssertionError("no grade came:\n" + "".join(text)[-3000:])


@pytest.mark.slow
def test_a_save_grades_again(tmp_path, prefect_api_url):
    target = make_submission(tmp_path / "mine")
    argv = [sys.executable, "-m", "hw3.cli", "grade", "--watch", "--target", str(target), "--prefect-api-url", prefect_api_url,
            "--", "--answer-key", str(reference_key_file()), "-p", "no:cacheprovider"]
    watcher = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={"PYTHONPATH": str(PROJECT_ROOT), **os.environ})
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout] + [lines.put(None)], daemon=True).start()
    try:
        first, what, _ = next_grade(lines)
        assert re.search(r"Total\s+10/10", first) and what == "everything", first[-3000:]
        answers = target / "answers.toml"
        answers.write_text(answers.read_text().replace('q1 = "train_model"', 'q1 = "read_data"'))
        second, what, seconds = next_grade(lines)
        assert what == "q1_answer" and re.search(r"Total\s+9/10", second), second[-3000:]
        assert re.search(r"\* Q1\b.*\b1/2", second) and re.search(r"\n  Q2\b.*\b2/2", second), second[-3000:]
        print(f"answers-only save: {seconds:.1f} s")
        deployment = target / "deployment.py"
        deployment.write_text(deployment.read_text().replace('CRON = "0 9 15 * *"', 'CRON = "0 9 16 * *"'))
        third, what, seconds = next_grade(lines)
        assert what.startswith("q4_deployment_") and re.search(r"Total\s+8/10", third), third[-3000:]
        assert re.search(r"\* Q4\b.*\b1/2", third) and re.search(r"\n  Q1\b.*\b1/2", third), third[-3000:]
        print(f"deployment-only save: {seconds:.1f} s")
        watcher.terminate()  # as a closed terminal does: it stops its server on the way out, and ends well
        assert watcher.wait(timeout=60) == 0
    finally:
        watcher.kill()
        watcher.wait()
