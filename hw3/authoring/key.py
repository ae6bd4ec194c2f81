"""`hw3 key [--assignment ID]`: the instructor's answer key, measured by running the reference
solution of an assignment. The assignment's hooks.py (checks/<ID>/hooks.py, loaded by its
path; instructors only) says what is measured:

  * `make_key(args)` makes the whole key itself (the 2022 homework, `flows`: see its hooks.py
    for its steps, variants and handout), with the options its `add_options(group)` adds;
  * else `MONTHS` ({question key: (training file, validation file)}) and
    `measure(reference, train, val, api_url, work)`: each of those questions gets the option
    closest to the figure measured on its real months (fetched into the data folder, or from
    HW3_DATA_MIRROR), on an isolated Prefect server unless --prefect-api-url names one; the
    other questions keep the catalogue's answers.

The INSTRUCTOR key (--out; .toml, .json, or plain text for any other name; printed as plain
text without --out) holds the figures, answers and options, and the seconds each step took.
The STUDENT key (--student-key, what the checks' --answer-key reads) holds salted digests
only (hw3/grading/answer_key.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path

from hw3 import layout, settings
from hw3.errors import Hw3Error
from hw3.fsutil import atomic_write

KEY_FORMAT = 1


class Steps:
    """Progress lines on stderr and the seconds each step took."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str, detail: str = ""):
        print(f"hw3 key: {name}{': ' + detail if detail else ''} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        yield
        self.timings[name] = round(time.monotonic() - started, 2)
        print(f"hw3 key: {name} done in {self.timings[name]:.1f} s", file=sys.stderr, flush=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    from hw3 import assignment as assignment_module

    parser = subparsers.add_parser("key", help="measure the answer key by running the reference solution",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", metavar="ID", help="the assignment (default: flows; `hw3 assignments` lists them)")
    parser.add_argument("--prefect-api-url", metavar="URL", help="use this running Prefect server instead of starting one")
    parser.add_argument("--project", type=Path, default=layout.PROJECT_ROOT, help="project with solutions/ (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="instructor key file: .toml, .json or plain text (default: stdout)")
    parser.add_argument("--student-key", type=Path, help="also write the salted key the checks read (--answer-key)")
    for name in layout.assignment_ids():
        hooks = assignment_module.load(name).hooks()
        if hasattr(hooks, "add_options"):
            hooks.add_options(parser.add_argument_group(f"{name} only"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hw3 import assignment as assignment_module

    chosen = assignment_module.load(args.assignment, args.project)
    hooks = chosen.hooks()
    if hooks is None:
        raise Hw3Error(f"{chosen.folder}: no hooks.py, so nothing to measure; its key is the catalogue's answers "
                       "(the checks build it themselves)")
    if hasattr(hooks, "make_key"):
        return hooks.make_key(args)
    return run_measured(args, chosen, hooks)


def run_measured(args: argparse.Namespace, chosen, hooks) -> int:
    """The key of an assignment whose hooks.py measures its figures: each question of
    `hooks.MONTHS` gets the option closest to what `hooks.measure` gives on its real months;
    the other questions keep the catalogue's answers."""
    from hw3.grading import answer_key
    from hw3.trips import data
    from hw3.grading.server import prefect_server

    course = chosen.catalogue
    if any(q.answer is None for q in course.questions):
        raise Hw3Error(f"{chosen.catalogue_file}: a student release has no answers; make the key in the course's own project")
    steps, folder = Steps(), settings.data_dir().resolve()
    names = list(dict.fromkeys(name for pair in hooks.MONTHS.values() for name in pair))
    with steps.step("data", f"real files in {folder}"):
        data.ensure_files([folder / name for name in names], allow_sample=False)
    questions = {q.key: {"expected": q.answer, "answer": q.answer, "options": list(q.options)} for q in course.questions}
    with tempfile.TemporaryDirectory(prefix="hw3-key-") as work, ExitStack() as stack:
        with nullcontext() if args.prefect_api_url else steps.step("server", "starting an isolated Prefect server"):
            url = stack.enter_context(prefect_server(args.prefect_api_url, Path(work) / "prefect-server", what="the key"))
        for key, (train, val) in hooks.MONTHS.items():
            with steps.step(key, f"the reference on {train} -> {val}"):
                figure = hooks.measure(chosen.solutions(), folder / train, folder / val, url, Path(work))
            questions[key].update(expected=figure, answer=course[key].closest_option(figure))
    document = {"format": KEY_FORMAT, "made": datetime.datetime.now().isoformat(timespec="seconds"), "assignment": chosen.id,
                "taxi": course.taxi, "date": course.date, "edition": course.edition, "data": f"TLC trip files in {folder}",
                "timings": steps.timings, "variant": {"date": course.date, "training_file": "", "validation_file": "",
                                                      "figures": {}, "questions": questions}}
    warn_if_unpublished(course, course.taxi, course.date, document["variant"])
    write_instructor_key(document, args.out)
    if args.student_key:
        key = answer_key.make({k: str(entry["answer"]) for k, entry in questions.items()}, {}, taxi=course.taxi, date=course.date)
        print(f"student key (salted digests): {key.save(args.student_key)}", file=sys.stderr)
    return 0


def warn_if_unpublished(course, taxi: str, date: str, row: dict) -> None:
    """Say when the course variant's measured answers are not the published ones."""
    if (taxi, date) != (course.taxi, course.date):
        return
    for question in course.questions:
        answer = row["questions"][question.key]["answer"]
        if str(answer) != str(question.answer):
            print(f"hw3 key: WARNING {question.id}: measured answer {answer!r} is not the published {question.answer!r} "
                  "(a small sample? use the real files or --sample-rows 1200000)", file=sys.stderr)


def write_instructor_key(document: dict, out: Path | None) -> None:
    if out is None:
        print(_plain(document), end="")
        return
    if out.suffix == ".json":
        text = json.dumps(document, indent=1) + "\n"
    elif out.suffix == ".toml":
        import tomli_w

        text = tomli_w.dumps(document)
    else:
        text = _plain(document)
    atomic_write(out, text)
    print(f"instructor key: {out}", file=sys.stderr)


def _plain(document: dict) -> str:
    """The key as plain text: one line per figure and question."""
    lines = [f"answer key ({document['taxi']}, {document['date']}, edition {document['edition']}); data: {document['data']}"]
    for who, row in [("default variant", document["variant"]), *document.get("students", {}).items()]:
        lines.append(f"\n[{who}] date {row['date']}: trains on {row['training_file']}, validates on {row['validation_file']}")
        lines += [f"  {name} = {value!r}" for name, value in row["figures"].items()]
        for key, entry in row["questions"].items():
            lines.append(f"  {key}: answer {entry['answer']!r} (measured {entry['expected']!r}); options {' | '.join(entry['options'])}")
    lines.append("\ntimings (s): " + ", ".join(f"{step} {seconds}" for step, seconds in document["timings"].items()))
    return "\n".join(lines) + "\n"


