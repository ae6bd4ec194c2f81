"""What an assignment's jobs (checks/<ID>/jobs.py) use inside the probe: import a file of the
submission, unwrap a task, set the clock, and fail a job with a reason.

The probe (probe.py) loads this file by its path as the module `hw3_kit`, and compat.py as
`hw3_compat`, before it loads the jobs; a jobs file does `import hw3_kit as kit`. Standard
library and Prefect only: nothing of the grading is within the submission's reach.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import sys
from pathlib import Path

NOT_ATTEMPTED = "not attempted"


class JobFailed(Exception):
    """The job cannot go on; the message is the reason reported."""

    def __init__(self, reason: str, outcome: str = "failed"):
        super().__init__(reason)
        self.outcome = outcome


def load_module(name: str, target: Path, report, as_script: bool = False):
    """Import `<target>/<name>.py` as module `name`; `as_script`: run it as `python NAME.py`
    would (as `__main__`, its calls at import kept)."""
    path = target / f"{name}.py"
    if not path.is_file():
        raise JobFailed(f"{path.name} is missing from your submission")
    report.phase(f"{'running' if as_script else 'importing'} {path.name}")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    if as_script:
        module.__name__ = "__main__"
    try:
        code = compile(path.read_bytes(), str(path), "exec") if as_script else _without_calls_at_import(path)
        with report.student_code():
            exec(code, module.__dict__)
    except Exception as exc:
        raise JobFailed(f"{'running' if as_script else 'importing'} {path.name} {report.describe(exc)}") from exc
    return module


def _without_calls_at_import(path: Path):
    """The module's code without its top-level calls of its own functions (`main(...)`
    without a `__main__` guard would train, or serve forever, at every import)."""
    import ast

    source = path.read_bytes()
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError):
        return compile(source, str(path), "exec")  # raises the SyntaxError with its line
    skipped = set(map(id, sys.modules["hw3_compat"].top_level_calls(tree, set())))
    tree.body = [node for node in tree.body if id(node) not in skipped]
    return compile(tree, str(path), "exec")


def function(module, name: str):
    """A function of the submission; a Prefect task is unwrapped to its function."""
    obj = getattr(module, name, None)
    if obj is None:
        raise JobFailed(f"{Path(module.__file__).name} has no {name}()")
    return getattr(obj, "fn", obj)


def at_noon(day: str) -> datetime.datetime:
    """Noon UTC of a YYYY-MM-DD day: the same calendar day in every time zone from -11 to +11."""
    return datetime.datetime.fromisoformat(day).replace(hour=12, tzinfo=datetime.timezone.utc)


def clock_at(day: str, tick: bool):
    """Set the clock of this process to noon of `day` (time_machine also moves pandas' clock)."""
    import time_machine

    return time_machine.travel(at_noon(day), tick=tick)


def silent_run_logger():
    """Make get_run_logger() work outside a run (it gives a silent logger), since the checks
    call get_paths' function directly, not as a task of a flow."""
    if "prefect" not in sys.modules:
        return contextlib.nullcontext()
    from prefect.logging import disable_run_logger

    return disable_run_logger()
