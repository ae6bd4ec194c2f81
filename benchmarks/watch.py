"""What a student waits for under `hw3 grade --watch`, side by side in one run, on a copy of
each assignment's reference (no --answer-key: the key is built as a student's watch builds it).

    python benchmarks/watch.py [--assignment flows|deployments]

For each assignment, on one Prefect server started for the run:

- cold: `pytest checks/` in a fresh process (its imports, its key, its runs), once as a
  student runs it (its own server) and once on the run's server;
- warm full: `hw3 grade --watch --full`, the grade after a save of the main file;
- then, under `hw3 grade --watch` (what a save re-checks): a save of one answer, of the
  deployment file, of the main file.

Each figure is the seconds from the save to the line under the table (what the student
waits; it includes the watch's 0.3 s look at the files and 0.3 s of quiet), and what the
line itself says the grade took. Prints each against the warm full re-grade, as ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from submissions import edit, make_submission  # noqa: E402
from watcher import Watcher  # noqa: E402

from hw3.assignment import load as load_assignment  # noqa: E402
from hw3.grading.server import prefect_server  # noqa: E402

EDIT_S = 8.0  # the student reads and edits; meanwhile the next checks get ready
# assignment -> the saves: an answer changed, a comment added to the deployment file, to the main file
SAVES = {
    "flows": {"answers-only save": {"answers.toml": [('q1 = "train_model"', 'q1 = "read_data"')]},
              "deployment-only save": {"deployment.py": [("\nCRON = ", "\n# a comment\nCRON = ")]},
              "main-file save": {"homework.py": [("\ndef main(", "\n# a comment\ndef main(")]}},
    "deployments": {"answers-only save": {"answers.toml": [('q2 = "0 9 3 * *"', 'q2 = "0 9 4 * *"')]},
                    "deployment-only save": {"prefect.yaml": [("\ndeployments:", "\n# a comment\ndeployments:")]},
                    "main-file save": {"orchestrate.py": [("\ndef main_flow(", "\n# a comment\ndef main_flow(")]}},
}


def copy_reference(assignment: str, folder: Path) -> Path:
    """The files the student writes, as the assignment's reference has them."""
    chosen = load_assignment(assignment)
    return make_submission(folder, source=chosen.solutions(), files=chosen.catalogue.stubs)


def cold(assignment: str, target: Path, url: str | None, work: Path) -> float:
    """Seconds of `pytest checks/` in a fresh process, on the server at `url` (None: its own, as a student runs it)."""
    argv = [sys.executable, "-m", "pytest", str(ROOT / "checks"), "-q", "-p", "no:cacheprovider", "--assignment", assignment,
            "--target", str(target), *(["--prefect-api-url", url] if url else []), "--basetemp", str(work)]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{assignment}: the reference did not pass cold:\n{done.stdout[-2000:]}")
    return time.monotonic() - started


def save(watcher: Watcher, folder: Path, edits: dict) -> tuple[str, float, float]:
    """Make `edits` in `folder` after EDIT_S; (what was re-checked, seconds from the save, seconds said)."""
    time.sleep(EDIT_S)
    edit(folder, edits)
    saved = time.monotonic()
    _, what, said = watcher.next(timeout=900)
    return what, time.monotonic() - saved, said


def watcher(assignment: str, target: Path, url: str, *more: str) -> Watcher:
    return Watcher("--assignment", assignment, *more, "--target", str(target), "--prefect-api-url", url, cwd=target.parent)


def measure(assignment: str, url: str, scratch: Path) -> dict[str, tuple[float, float | None, str]]:
    """Each figure of the module's docstring: (seconds waited, seconds said, what was re-checked)."""
    saves = SAVES[assignment]
    figures = {name: (cold(assignment, copy_reference(assignment, scratch / slug), server, scratch / f"{slug}-work"), None, "everything")
               for name, slug, server in (("cold, own server", "own", None), ("cold, server up", "cold", url))}

    target = copy_reference(assignment, scratch / "full")
    full = watcher(assignment, target, url, "--full")
    try:
        full.next(timeout=900)
        what, waited, said = save(full, target, saves["main-file save"])
        figures["warm full"] = (waited, said, what)
    finally:
        full.stop()

    target = copy_reference(assignment, scratch / "incremental")
    incremental = watcher(assignment, target, url)
    try:
        incremental.next(timeout=900)
        for name, edits in saves.items():
            what, waited, said = save(incremental, target, edits)
            figures[name] = (waited, said, what)
    finally:
        incremental.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", choices=sorted(SAVES), action="append")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with tempfile.TemporaryDirectory() as scratch, prefect_server(None, Path(scratch) / "server") as url:
        for assignment in args.assignment or sorted(SAVES, reverse=True):
            figures = measure(assignment, url, Path(scratch) / assignment)
            base = figures["warm full"][0]
            print(f"\n{assignment}: seconds from the save to the line under the table (the line's own figure), "
                  f"and the ratio to the warm full re-grade")
            for name, (waited, said, what) in figures.items():
                own = f" ({said:.1f} s said)" if said is not None else ""
                print(f"  {name:22s} {waited:6.1f} s{own:16s} ratio {waited / base:5.2f}   re-checked: {what}", flush=True)


if __name__ == "__main__":
    main()
