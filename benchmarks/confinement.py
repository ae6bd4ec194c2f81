"""What the operating system's sandbox costs per submission: the reference graded with and
without it (HW3_UNCONFINED=1), alternately, on one Prefect server, side by side in one run.

    python benchmarks/confinement.py [--rounds 3]

Prints each grading's wall seconds, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hw3.grading.server import prefect_server  # noqa: E402


def grade(api_url: str, confined: bool, folder: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "HW3_UNCONFINED"}
    if not confined:
        env["HW3_UNCONFINED"] = "1"
    argv = [sys.executable, "-m", "pytest", str(ROOT / "checks"), "-q", "-p", "no:cacheprovider", "--target",
            str(ROOT / "solutions"), "--prefect-api-url", api_url, "--basetemp", str(folder)]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if "10/10" not in done.stdout:
        raise SystemExit(f"the reference did not get 10/10 ({'confined' if confined else 'unconfined'}):\n{done.stdout[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as scratch, prefect_server(None, Path(scratch) / "server") as url:
        for n in range(args.rounds):
            for confined in (False, True):
                seconds = grade(url, confined, Path(scratch) / f"{n}-{confined}")
                times[confined].append(seconds)
                print(f"round {n + 1}: {'with' if confined else 'without'} the sandbox: {seconds:.1f} s", flush=True)
    without, within = statistics.median(times[False]), statistics.median(times[True])
    print(f"median without the sandbox {without:.1f} s, with it {within:.1f} s: "
          f"{within - without:+.1f} s per submission, ratio {within / without:.2f}")


if __name__ == "__main__":
    main()
