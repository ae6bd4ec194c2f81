"""A project's homework file (the reference, or the student's own) and its get_paths."""

from __future__ import annotations

import importlib.util
import os
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from hw3.errors import Hw3Error

FLOW_FILES = ("solutions/homework.py", "homework/homework.py")  # the first one found is used


def load_module(path: Path, name: str) -> ModuleType:
    """Import a Python file by its path, under the module name `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flow_file(project: Path) -> Path:
    """The homework file to run: the reference solution, else the student's file."""
    for relative in FLOW_FILES:
        if (project / relative).is_file():
            return project / relative
    raise Hw3Error(f"{project}: found neither {' nor '.join(FLOW_FILES)}; pass the project folder with --project")


def paths_for(module: ModuleType, path: Path, date: str, data_dir: Path | None = None, *, date_label: str = "date") -> list[str]:
    """The (train, validation) paths that the homework module's own get_paths(date) names.

    The date -> months rule is question Q2's, so it lives in the homework, never in hw3.
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
