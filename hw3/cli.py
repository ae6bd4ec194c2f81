"""The `hw3` command: data, the reference run, grading and the instructor tools.

Each subcommand lives in its own module, which exposes `register(subparsers)` and imports
its heavy dependencies only when it runs."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from hw3.errors import Hw3Error

# Modules that add subcommands, in the order `hw3 --help` lists them.
COMMAND_MODULES: tuple[str, ...] = ("hw3.assignment", "hw3.authoring.stubs", "hw3.train", "hw3.trips.data", "hw3.grading.grade",
                                     "hw3.cohort.serve", "hw3.authoring.release", "hw3.authoring.key")
# Instructor-only modules: the student release (`hw3 release`) leaves them out, and `hw3`
# then offers none of their commands.
INSTRUCTOR_MODULES: frozenset[str] = frozenset({"hw3.authoring.key", "hw3.authoring.release", "hw3.authoring.gradescope",
                                                "hw3.cohort.serve"})


def available(name: str) -> bool:
    """Whether command module `name` is here (an instructor-only one is missing in a release)."""
    # Looked up beside this file, not through the import system: an editable install of the
    # course's own project would otherwise lend a release its instructor modules.
    return name not in INSTRUCTOR_MODULES or Path(__file__).parent.joinpath(*name.split(".")[1:]).with_suffix(".py").is_file()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hw3", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in filter(available, COMMAND_MODULES):
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except Hw3Error as exc:
        print(f"hw3: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
