"""An assignment, found through its folder (hw3/layout.py): the engine never imports its code.

`load(ID)` gives the folder, the catalogue and the paths of the parts the engine hands to
others: `jobs` (loaded by the probe, inside the wall) and `templates` (read by `hw3 stubs`).
A folder given by its path (one holding a catalogue.toml) works the same as an ID, so an
assignment can live outside this project.
"""

from __future__ import annotations

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

    def homework(self) -> Path:
        return layout.work_dir("homework", self.id, self.root)

    def solutions(self) -> Path:
        return layout.work_dir("solutions", self.id, self.root)


def load(name: str | None = None, root: Path = layout.PROJECT_ROOT) -> Assignment:
    """The assignment `name` (an ID of this project's checks/, or a folder with a
    catalogue.toml; default: the first assignment), whose homework and solutions are in
    `root`."""
    name = name or layout.DEFAULT_ASSIGNMENT
    folder = Path(name) if ("/" in name or name.startswith(".")) else layout.assignment_dir(name)
    if not (folder / "catalogue.toml").is_file():
        raise Hw3Error(f"no assignment {name!r}: the assignments are {', '.join(layout.assignment_ids()) or 'none'} "
                       "(or give a folder that holds a catalogue.toml)")
    return Assignment(folder.resolve().name, folder.resolve(), root)
