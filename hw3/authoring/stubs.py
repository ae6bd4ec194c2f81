"""`hw3 stubs`: render the student stubs and HOMEWORK.md from the templates and the catalogue.

The templates in the assignment's `templates/` (checks/<ID>/templates) are `string.Template` texts; every question-dependent word
comes from the catalogue, so editing a question there and running `hw3 stubs` updates
`homework/homework.py`, `homework/deployment.py`, `homework/answers.toml` and `HOMEWORK.md`.
A line `# %%` (Python) or `<!-- cell -->` (markdown) marks where a notebook cell would start;
`split_cells` cuts a rendered text there.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from string import Template

from hw3 import assignment as assignment_module, catalogue as catalogue_module
from hw3.assignment import Assignment
from hw3.catalogue import Catalogue, Question
from hw3.errors import Hw3Error
from hw3.fsutil import atomic_write
from hw3.trips.tripdata import trip_type

ENGINE_TEMPLATES = Path(__file__).with_name("templates")  # what an assignment's templates/ may leave out
HOMEWORK_MD = "HOMEWORK.md"
CELL_BREAKS = ("# %%", "<!-- cell -->")

# What an answer looks like, by the question's kind.
_FORMS = {
    "choice": 'one of the options, as a quoted string, e.g. {key} = "{example}"',
    "cron": 'a cron expression (five fields), as a quoted string, e.g. {key} = "{example}"',
    "count": "a whole number, without quotes, e.g. {key} = {example}",
}


def _assignment(assignment: Assignment | None) -> Assignment:
    return assignment or assignment_module.load()


def template_path(name: str, assignment: Assignment | None = None) -> Path:
    """The assignment's template `name`, else the engine's (the answers file's parts)."""
    own = _assignment(assignment).templates / name
    return own if own.is_file() else ENGINE_TEMPLATES / name


def _template(name: str, assignment: Assignment | None) -> Template:
    return Template(template_path(name, assignment).read_text(encoding="utf-8"))


def _points(question: Question) -> str:
    return f"{question.points} point{'' if question.points == 1 else 's'}"


def _docstring_section(question: Question) -> str:
    """A question's title and task as a block of an indented docstring."""
    text = f"{question.id}, {question.title} ({_points(question)}):\n\n{question.task}"
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return textwrap.indent(text, "    ")


def _comment(text: str) -> str:
    return textwrap.fill(text, width=92, initial_indent="# ", subsequent_indent="# ")


def _quoted(option: str, question: Question) -> str:
    return option if question.kind == "count" else json.dumps(option)


def answer_form(question: Question) -> str:
    """How an answer to `question` is written in answers.toml; the example is deliberately
    not an option, so it gives nothing away."""
    example = "42" if question.kind == "count" else "..."
    return _FORMS[question.kind].format(key=question.key, example=example)


def _question_fields(question: Question) -> dict[str, str]:
    """The values the per-question templates may use."""
    quoted = [_quoted(option, question) for option in question.options]
    return {
        "id": question.id,
        "title": question.title,
        "points_text": _points(question),
        "key": question.key,
        "task": question.task,
        "options_md": ", ".join(f"`{option}`" for option in question.options),
        "options_comment": "\n".join(["# Options:", *(f"#   {option}" for option in quoted)]),
        "form": answer_form(question),
    }


def _fields(cat: Catalogue, assignment: Assignment | None) -> dict[str, str]:
    """The values the file templates may use."""
    trip = trip_type(cat.taxi)
    fields = {
        "course_title": cat.title,
        "course_date": cat.date,
        "taxi": cat.taxi,
        "max_score": str(cat.max_score),
        "last_number": str(len(cat.questions)),
        # The columns the stub's pipeline reads, as the data manifest names them.
        "pickup": trip.pickup,
        "dropoff": trip.dropoff,
        "categorical": json.dumps([trip.pickup_location, trip.dropoff_location]),
    }
    for question in cat.questions:
        fields[f"{question.id}_doc"] = _docstring_section(question)
        fields[f"{question.id}_hint_comment"] = _comment(question.hint)
    entries = [_template("answer_entry.toml.tmpl", assignment).substitute(_question_fields(q)) for q in cat.questions]
    fields["entries"] = "".join(entries).rstrip("\n")
    questions = [_template("question.md.tmpl", assignment).substitute(_question_fields(q)).rstrip("\n")
                 for q in cat.questions]
    fields["questions"] = "\n\n<!-- cell -->\n".join(questions)
    return fields


def render_stub(name: str, cat: Catalogue | None = None, assignment: Assignment | None = None) -> str:
    """The text of the stub `name` of the assignment (one of its catalogue's `stubs`), made
    from its template `<name>.tmpl`."""
    cat = cat or _assignment(assignment).catalogue
    if name not in cat.stubs:
        raise KeyError(f"no stub {name!r}; known: {', '.join(cat.stubs)}")
    return _template(name + ".tmpl", assignment).substitute(_fields(cat, assignment))


def render_homework_md(cat: Catalogue | None = None, assignment: Assignment | None = None) -> str:
    """The text of the assignment's HOMEWORK.md."""
    cat = cat or _assignment(assignment).catalogue
    return _template(HOMEWORK_MD + ".tmpl", assignment).substitute(_fields(cat, assignment))


def rendered_files(cat: Catalogue | None = None, assignment: Assignment | None = None) -> dict[str, str]:
    """Every rendered file of the assignment, keyed by its path relative to the project root."""
    chosen = _assignment(assignment)
    cat = cat or chosen.catalogue
    files = {(chosen.homework_path() / name).as_posix(): render_stub(name, cat, chosen) for name in cat.stubs}
    files[chosen.homework_text_path().as_posix()] = render_homework_md(cat, chosen)
    return files


def split_cells(text: str) -> list[str]:
    """Cut a rendered text into notebook cells at its cell-break lines (dropped), no empty cells."""
    cells, current = [], []
    for line in text.splitlines():
        if line.strip() in CELL_BREAKS:
            cells.append(current)
            current = []
        else:
            current.append(line)
    cells.append(current)
    return [text for text in ("\n".join(cell).strip("\n") for cell in cells) if text.strip()]


def out_of_date(project: Path, cat: Catalogue | None = None, assignment: Assignment | None = None) -> list[str]:
    """The rendered files (relative paths) that are missing or differ from the rendering."""
    stale = []
    for relative, text in rendered_files(cat, assignment).items():
        path = project / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(relative)
    return stale


def write(project: Path, cat: Catalogue | None = None, assignment: Assignment | None = None) -> list[str]:
    """Write the rendered files that changed (each atomically); return their relative paths."""
    written = []
    files = rendered_files(cat, assignment)
    for relative in out_of_date(project, cat, assignment):
        atomic_write(project / relative, files[relative])
        written.append(relative)
    return written


def _load_catalogue(path: Path) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Hw3Error(f"{path}: cannot read the catalogue ({exc.strerror}); "
                       "pass an existing file with --catalogue") from exc
    try:
        cat = catalogue_module.parse(text, str(path))
    except ValueError as exc:
        message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
        raise Hw3Error(f"{message}; fix the file and run `hw3 stubs` again") from exc
    except (KeyError, TypeError) as exc:
        raise Hw3Error(f"{path}: a question or the [course] table lacks the field {exc}; "
                       "see the field list at the top of checks/flows/catalogue.toml") from exc
    try:
        trip_type(cat.taxi)
    except Hw3Error as exc:
        raise Hw3Error(f"{path}: [course] taxi: {exc}") from exc
    for question in cat.questions:
        if question.kind not in _FORMS:
            raise Hw3Error(f"{path}: {question.id} has kind {question.kind!r}; "
                           f"use one of {', '.join(map(repr, _FORMS))}")
    return cat


def run(args) -> int:
    project = Path(args.project)
    if not (project / "homework").is_dir():
        raise Hw3Error(f"{project.resolve()}: no homework/ folder here; run `hw3 stubs` from the "
                       "project's root or pass --project DIR")
    chosen = assignment_module.load(args.assignment)
    cat = _load_catalogue(Path(args.catalogue) if args.catalogue else chosen.catalogue_file)
    if args.check:
        stale = out_of_date(project, cat, chosen)
        for relative in stale:
            print(f"out of date: {relative}", file=sys.stderr)
        if stale:
            print("run `hw3 stubs` to render them from the templates and the catalogue", file=sys.stderr)
            return 1
        print("stubs and HOMEWORK.md are up to date")
        return 0
    written = write(project, cat, chosen)
    for relative in written:
        print(f"wrote {relative}")
    if not written:
        print("stubs and HOMEWORK.md were already up to date")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "stubs", help="render homework/ stubs and HOMEWORK.md from the question catalogue",
        description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and name the files that are out of date")
    parser.add_argument("--project", default=".", help="the project's root folder (default: .)")
    parser.add_argument("--assignment", metavar="ID", help="the assignment (default: flows; `hw3 assignments` lists them)")
    parser.add_argument("--catalogue", help="the question catalogue (default: the assignment's)")
    parser.set_defaults(run=run)
