"""A grading slot's warm checker (hw3/cohort/checker.py): submissions graded one after the
other by the same warm process and the same zygote, each with the marks it earns, and
nothing of one left for the next."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from submissions import MISTAKES, grade_on_slot, make_submission

from hw3 import catalogue
from hw3.cohort import slots
from hw3.sandbox import confine

COURSE = catalogue.load()
HEADER = "import ctypes as _ctypes, os as _os\n"
# At the top of homework.py, so every run of the submission does it (a process it would start
# ends with its run: tests/test_zygote.py).
LEAVES = HEADER + """
if not _os.path.exists('/tmp/left'):
    open('/tmp/left', 'w').write('x')
    open('/dev/shm/left', 'w').write('x')
    _ctypes.CDLL(None).shmget(4242, 4096, 0o1600)
"""
FINDS = HEADER + """
_found = [p for p in ('/tmp/left', '/dev/shm/left') if _os.path.exists(p)]
_found += ['shm'] if _ctypes.CDLL(None).shmget(4242, 0, 0) >= 0 else []
assert not _found, f'another submission left {_found}'
"""


def with_header(folder: Path, code: str) -> Path:
    homework = folder / "homework.py"
    future = "from __future__ import annotations\n"
    text = homework.read_text(encoding="utf-8")
    assert future in text, "the reference's imports changed: update with_header"
    homework.write_text(text.replace(future, future + code, 1), encoding="utf-8")
    return folder


def zygote_walls(slot: Path) -> set[int]:
    """The processes of the slot's kept zygote's wall (bubblewrap, its writable runs folder)."""
    runs = str(slot / "work" / "session" / "runs").encode()
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--as-pid-1" in argv and runs in argv and any(a.endswith(b"zygote.py") for a in argv):
            found.add(int(pid))
    return found


@pytest.mark.slow
@pytest.mark.skipif(confine.bwrap() is None, reason="a kept zygote needs the wall")
def test_a_slot_grades_one_submission_after_another_by_one_zygote_and_keeps_nothing_of_each(tmp_path):
    wrong_cron = next(m for m in MISTAKES if m.question == "Q4")
    cases = {  # name -> (submission, expected marks lost)
        "leaves": (with_header(make_submission(tmp_path / "leaves"), LEAVES), set()),
        "finds": (with_header(make_submission(tmp_path / "finds"), FINDS), set()),
        "wrong-cron": (make_submission(tmp_path / "wrong-cron", wrong_cron.edits), {"Q4"}),
        "finds-again": (with_header(make_submission(tmp_path / "finds-again"), FINDS), set()),
    }
    servers, walls = tmp_path / "servers", []
    try:
        for name, (source, lost) in cases.items():
            with slots.grading_server(servers) as slot:
                run, reply = grade_on_slot(source, tmp_path / "graded" / name, slot)
                walls.append(zygote_walls(slot.folder))
            scores = run.scores()
            assert {q.id for q in COURSE.questions if scores[q.id] != q.points} == lost, f"{name}:\n{run.output[-3000:]}"
            assert reply["cpu_seconds"] > 1, reply
            assert not any((slot.folder / "work" / "submission").iterdir())  # its files are gone
    finally:
        slots.stop_all(servers)
    assert len(walls[0]) == 1 and all(w == walls[0] for w in walls), walls  # one zygote served them all


def test_without_a_slot_the_handoff_runs_the_engine_itself(tmp_path):
    """A worker's command on a machine whose slots are not up: Prefect's own engine runs the
    flow run, as `python -m prefect.engine` would (here: a flow run id it refuses)."""
    import subprocess
    import sys

    env = {**os.environ, "HW3_GRADING_SERVERS_DIR": str(tmp_path / "none"), "PREFECT__FLOW_RUN_ID": "not-an-id"}
    done = subprocess.run([sys.executable, "-m", "hw3.cohort.handoff"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Invalid flow run id" in done.stdout + done.stderr, done.stdout + done.stderr
