"""An assignment, found through its folder (hw3/layout.py): the engine never imports its code.

`load(ID)` gives the folder, the catalogue and the paths of the parts the engine hands to
others: `jobs` (loaded by the probe, inside the wall) and `templates` (read by `hw3 stubs`);
and its modules: `hooks` (`hw3 key`) and `commands` (`hw3 train`, `hw3 data fetch DATE`).
A folder given by its path (one holding a catalogue.toml) works the same as an ID, so an
assignment can live outside this project.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from hw3 import catalogue, layout
from hw3.errors import Hw3Error


@dataclass(frozen=True)
class Assignment:
    id: str
    folder: Path  # checks/<ID>
    root: Path = layout.PROJECT_ROOT  # the project whose homework/ and solutions/ it uses

    @cached_property
    def catalogue(self) -> catalogue.Catalogue:
        return catalogue.load(self.catalogue_file)

    @property
    def catalogue_file(self) -> Path:
        return self.folder / "catalogue.toml"

    @property
    def jobs(self) -> Path:
        return self.folder / "jobs.py"

    @property
    def templates(self) -> Path:
        return self.folder / "templates"

    def hooks(self):
        """The assignment's hooks.py (what `hw3 key` measures; instructors only), loaded by its
        path; None if it has none."""
        return self._module("hooks")

    def commands(self):
        """The assignment's commands.py (what `hw3 train` and `hw3 data fetch DATE` run; it
        ships with the release), loaded by its path; None if it has none."""
        return self._module("commands")

    def _module(self, name: str):
        from hw3.project import load_module

        path = self.folder / f"{name}.py"
        return load_module(path, f"hw3_{name}_{self.id}") if path.is_file() else None

    def homework(self) -> Path:
        return layout.work_dir("homework", self.id, self.root)

    def homework_path(self) -> Path:
        """The homework folder, relative to the project's root."""
        return self.homework().relative_to(self.root)

    def homework_text_path(self) -> Path:
        """HOMEWORK.md, relative to the project's root: in the homework folder, or at the
        root for the first assignment (its homework folder is homework/ itself)."""
        folder = self.homework_path()
        return Path("HOMEWORK.md") if folder == Path("homework") else folder / "HOMEWORK.md"

    def solutions(self) -> Path:
        return layout.work_dir("solutions", self.id, self.root)

    def source(self, name: str, doing: str | None = None) -> Path:
        """The file `name` of the reference, else of the homework (a student release has no
        reference: said on stderr when `doing`, e.g. "training", is given)."""
        reference, homework = self.solutions() / name, self.homework() / name
        if reference.is_file():
            return reference
        if homework.is_file():
            if doing:
                print(f"no {reference.relative_to(self.root)} here (a student release): {doing} with {homework}", file=sys.stderr)
            return homework
        raise Hw3Error(f"{self.root}: found neither {reference.relative_to(self.root)} nor {homework.relative_to(self.root)}; "
                       "pass the project folder with --project")


def session_class(assignment_id: str):
    """The class of an assignment's grading session (checks/<ID>/session.py), imported as its
    checks import it: what starts a session's runs ahead (`GradingSession.start_ahead`)."""
    return importlib.import_module(f"checks.{assignment_id}.session").GradingSession


def load(name: str | None = None, root: Path = layout.PROJECT_ROOT) -> Assignment:
    """The assignment `name` (an ID of this project's checks/, or a folder with a
    catalogue.toml; default: the only one here, else the first), whose homework and solutions
    are in `root`."""
    present = layout.assignment_ids()
    name = name or (present[0] if len(present) == 1 else layout.DEFAULT_ASSIGNMENT)  # a release has one
    folder = Path(name) if ("/" in name or name.startswith(".")) else layout.assignment_dir(name)
    if not (folder / "catalogue.toml").is_file():
        raise Hw3Error(f"no assignment {name!r}: the assignments are {', '.join(present) or 'none'} "
                       "(or give a folder that holds a catalogue.toml)")
    return Assignment(folder.resolve().name, folder.resolve(), root)


def run(args) -> int:
    for name in layout.assignment_ids():
        chosen = load(name)
        course = chosen.catalogue
        default = " (default)" if name == layout.DEFAULT_ASSIGNMENT else ""
        print(f"{name}{default}: {course.title}; {len(course.questions)} questions, {course.max_score} points; "
              f"homework in {chosen.homework_path()}/, checks in {chosen.folder.relative_to(chosen.root)}/")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("assignments", help="list the assignments (the --assignment IDs of the other commands)",
                                   description="List the assignments of this project: checks/<ID>/ with a catalogue.")
    parser.set_defaults(run=run)
