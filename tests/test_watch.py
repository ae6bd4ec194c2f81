"""`hw3 grade --watch`: a save grades the submission again, on the server of the session,
re-checking what the save touched (the other rows kept, the re-checked ones marked `*`)."""

from __future__ import annotations

import re

import pytest
from submissions import edit, make_submission, reference_key_file
from watcher import Watcher


@pytest.mark.slow
def test_a_save_grades_again(tmp_path, prefect_api_url):
    target = make_submission(tmp_path / "mine")
    watcher = Watcher("--target", str(target), "--prefect-api-url", prefect_api_url,
                      "--", "--answer-key", str(reference_key_file()), "-p", "no:cacheprovider", cwd=tmp_path)
    try:
        first, what, _ = watcher.next()
        assert re.search(r"Total\s+10/10", first) and what == "everything", first[-3000:]
        edit(target, {"answers.toml": [('q1 = "train_model"', 'q1 = "read_data"')]})
        second, what, seconds = watcher.next()
        assert what == "q1_answer" and re.search(r"Total\s+9/10", second), second[-3000:]
        assert re.search(r"\* Q1\b.*\b1/2", second) and re.search(r"\n  Q2\b.*\b2/2", second), second[-3000:]
        print(f"answers-only save: {seconds:.1f} s")
        edit(target, {"deployment.py": [('CRON = "0 9 15 * *"', 'CRON = "0 9 16 * *"')]})
        third, what, seconds = watcher.next()
        assert what.startswith("q4_deployment_") and re.search(r"Total\s+8/10", third), third[-3000:]
        assert re.search(r"\* Q4\b.*\b1/2", third) and re.search(r"\n  Q1\b.*\b1/2", third), third[-3000:]
        print(f"deployment-only save: {seconds:.1f} s")
        status = watcher.stop()
    finally:
        watcher.stop()
    assert status == 0  # it ends well
