"""Same files, same marks: some cases of a graded corpus graded again with --force beside a
CPU burner must get the same CSV rows and lose the same parts (the checks read what a run
sends only once it has arrived: prefect_api.evidence). The corpus's own grading, on a
machine the suite's other worker loads, is the first of the two gradings compared."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from test_cohort import hw3_cohort

BURN_S = 900  # the burner's bound: it is stopped at the end of its block, and stops by itself at the latest then


@contextmanager
def cpu_burner(cores: int = 1):
    """A bounded busy loop on `cores` cores, for the duration of the block. One: the grading's
    two workers then share a core and a half, and in the suite the other xdist worker's tests
    load the second core; a burner on both slowed the whole suite by minutes and proved no more."""
    code = f"import time\nend = time.monotonic() + {BURN_S}\nwhile time.monotonic() < end:\n    pass\n"
    burners = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(cores)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(timeout=30)


def lost_parts(results: Path, student: str) -> list[str]:
    """The parts a graded student earned nothing for, from their results.json."""
    graded = json.loads((results / student / "results.json").read_text(encoding="utf-8"))
    return sorted(part for part, earned in graded["extra_data"]["parts"].items() if earned == 0)


def assert_regraded_alike(graded: Path, rows: dict, cases: tuple[str, ...], folder: Path, *args: str, flows_key: bool) -> None:
    """Grade `cases` of the cohort graded in `graded` (its `cohort/` and `results/`, its CSV
    `rows`) again, with --force beside a CPU burner, in `folder`: the same rows and lost parts."""
    for case in cases:
        shutil.copytree(graded / "cohort" / case, folder / "cohort" / case)
    with cpu_burner():
        again, output, _ = hw3_cohort(folder / "cohort", folder / "grades.csv", "--workers", "2", "--force", *args,
                                      flows_key=flows_key)
    first = {case: (rows[case], lost_parts(graded / "results", case)) for case in cases}
    loaded = {case: (again.get(case), lost_parts(folder / "results", case)) for case in cases}
    assert loaded == first, f"graded beside a CPU burner, these got other marks or reasons:\n{json.dumps([first, loaded], indent=1)}"
