"""What the 2022 homework gives the students' commands: `hw3 train` runs the flow `main(date)`
once, and `hw3 data fetch DATE` gets the two months the homework's own `get_paths(date)` names
(the date -> months rule is Q2's, so it lives in the homework, never in the engine).

Both use `solutions/homework.py`, or `homework/homework.py` in a student release (which has
no solutions). This file ships with the release; hooks.py (the key) does not.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from hw3 import settings
from hw3.errors import Hw3Error
from hw3.project import load_module

FLOW_NAME = "homework.py"


def course_files(chosen, date: str | None, dest: Path) -> list[str]:
    """The two paths the project's own get_paths(date) names, in `dest` (default date: the
    course's)."""
    path = chosen.source(FLOW_NAME)
    shown = path.relative_to(chosen.root)
    return paths_for(load_module(path, f"hw3_data_{path.parent.name}"), shown, date or chosen.catalogue.date, dest)


def paths_for(module: ModuleType, path: Path, date: str, data_dir: Path | None = None, *, date_label: str = "date") -> list[str]:
    """The (train, validation) paths that the homework module's get_paths(date) names.

    `path` and `date_label` name the file and the date in error messages; `data_dir` sets
    HW3_DATA_DIR meanwhile.
    """
    get_paths = getattr(module.get_paths, "fn", module.get_paths)  # a task's plain function
    try:
        with _data_dir(data_dir):
            paths = get_paths(date)
    except NotImplementedError:
        raise Hw3Error(
            f"{path}: get_paths is not written yet; fetch months explicitly, e.g. `hw3 data fetch 2021-06 2021-07`"
        ) from None
    except ValueError as exc:
        raise Hw3Error(f"{date_label} {date!r}: {exc}") from None
    if not isinstance(paths, (tuple, list)) or len(paths) != 2:
        raise Hw3Error(f"{path}: get_paths({date!r}) returned {paths!r}, not a (train_path, val_path) pair")
    return [str(p) for p in paths]


def train(chosen, date: str | None, sample_rows: int | None) -> int:
    """`hw3 train`: the months of `date` made sure of, then main(date) once; prints the
    validation MSE and the files the flow saved."""
    from hw3.trips import data

    path = chosen.source(FLOW_NAME, doing="training")
    homework = load_module(path, f"hw3_train_{path.parent.name}")
    date = date or chosen.catalogue.date
    paths = paths_for(homework, path, date, date_label="--date")
    data.ensure_files([Path(p) for p in paths], **({} if sample_rows is None else {"rows": sample_rows}))

    try:
        val_mse = homework.main(date=date)
    except NotImplementedError as exc:
        raise Hw3Error(f"{path}: {exc}") from None
    artifacts = [settings.models_dir() / f"model-{date}.bin", settings.models_dir() / f"dv-{date}.b"]
    missing = [str(a) for a in artifacts if not a.is_file()]
    if missing:
        raise Hw3Error(f"{path}: the flow finished but did not save {', '.join(missing)} (Q3)")

    print(f"validation MSE: {val_mse}" if isinstance(val_mse, float) else "the flow returned no MSE; see its logs")
    for artifact in artifacts:
        print(f"saved {artifact}")
    return 0


@contextmanager
def _data_dir(folder: Path | None):
    if folder is None:
        yield
        return
    old = os.environ.get("HW3_DATA_DIR")
    os.environ["HW3_DATA_DIR"] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HW3_DATA_DIR", None)
        else:
            os.environ["HW3_DATA_DIR"] = old
