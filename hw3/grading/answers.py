"""The student's answers.toml, read as data (never executed).

A problem with one line (bad TOML, a wrong type, an unknown or repeated key) is charged to
the question of that line only; the message quotes the line and describes the expected
form (hw3.authoring.stubs.answer_form: its examples are no answer). The empty string "" (the stub's
placeholder) means "not attempted".
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hw3.grading.gradebook import fail, not_attempted
from hw3.catalogue import Catalogue, Question
from hw3.authoring.stubs import answer_form

FILE_NAME = "answers.toml"
KEY = re.compile(r"""\s*["']?([A-Za-z0-9_-]+)""")  # the key a line is meant for
OPTIONAL_KEYS = ("student_id",)


@dataclass(frozen=True)
class Entry:
    value: object
    line: int
    text: str


def expected_form(question: Question) -> str:
    """'q5 must be a whole number, without quotes, e.g. q5 = 42'."""
    return f"{question.key} must be {answer_form(question)}"


@dataclass
class Answers:
    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # question key -> message
    notes: list[str] = field(default_factory=list)  # problems no question is charged for

    @property
    def student_id(self) -> str | None:
        """The student_id line's value (None if there is none, or it is not a string)."""
        entry = self.entries.get("student_id")
        return entry.value if entry and isinstance(entry.value, str) and entry.value.strip() else None

    def where(self, entry: Entry) -> str:
        return f"{self.path.name}, line {entry.line}: `{entry.text}`"

    def value(self, question: Question) -> object:
        """The student's answer to `question`; fails or reports "not attempted" otherwise."""
        if question.key in self.problems:
            fail(self.problems[question.key])
        entry = self.entries.get(question.key)
        if entry is None:
            fail(f"{self.path.name} has no answer to {question.id}: add a line for it ({expected_form(question)})")
        if entry.value == "":
            not_attempted(f"{question.key} in {self.path.name} is still empty")
        if question.kind == "count" and isinstance(entry.value, str) and entry.value.strip().isdigit():
            return int(entry.value)  # "3" means 3
        if isinstance(entry.value, bool) or not isinstance(entry.value, (str, int, float)) or (
            question.kind == "count" and not isinstance(entry.value, int)
        ):
            fail(f"{self.where(entry)}: {expected_form(question)}")
        return entry.value

    def option(self, question: Question) -> str:
        """The option the student chose (a choice question), as written in the catalogue; a
        number written in full (11.63703...) counts as the option it is clearly closest to,
        and a note says so."""
        value = self.value(question)
        option = question.normalise(value)
        if option is None and question.kind == "choice":
            option = question.clearly_closest(value)
            if option is not None:
                self.notes.append(f"{self.where(self.entries[question.key])} counts as the option {option!r}, the closest one")
        if option is None:
            fail(f"{self.where(self.entries[question.key])} is not one of the options: {' | '.join(question.options)}")
        return option


def read(folder: Path, course: Catalogue) -> Answers:
    """Parse `<folder>/answers.toml`; problems are recorded, not raised."""
    path = Path(folder) / FILE_NAME
    answers = Answers(path)
    keys = {q.key: q for q in course.questions}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        answers.problems.update({key: _unreadable(path, exc) for key in keys})
        return answers
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = KEY.match(line)
        name = match.group(1) if match else None
        question = keys.get(name.lower()) if name else None
        try:
            parsed = tomllib.loads(line)
        except tomllib.TOMLDecodeError as exc:
            message = f"{path.name}, line {number}: `{line}` is not valid TOML ({exc})"
            _charge(answers, question, message + (f"; {expected_form(question)}" if question else ""))
            continue
        if len(parsed) != 1 or name not in parsed:
            answers.notes.append(f"{path.name}, line {number}: `{line}` is not an answer line; remove it")
            continue
        entry = Entry(parsed[name], number, line)
        if name in OPTIONAL_KEYS:
            if not isinstance(entry.value, str):
                answers.notes.append(f"{answers.where(entry)}: write it as a quoted string")
            answers.entries[name] = entry
        elif name not in keys:
            known = ", ".join([*OPTIONAL_KEYS, *keys])
            message = f"{answers.where(entry)}: there is no key {name!r} (the keys are {known})"
            _charge(answers, question, message + (f"; {expected_form(question)}" if question else ""))
        elif name in seen:
            _charge(answers, question, f"{path.name}, lines {seen[name]} and {number}: {name} is answered twice; keep one")
        else:
            seen[name] = number
            answers.entries[name] = entry
    return answers


def _unreadable(path: Path, exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{path.name} is missing from your submission: copy the homework's {FILE_NAME} there and fill it in"
    if isinstance(exc, UnicodeDecodeError):
        return f"{path.name} is not UTF-8 text: save it as UTF-8 (plain text) and grade again"
    return f"{path.name} cannot be read ({type(exc).__name__}: {exc.strerror}); it must be a text file like homework/{FILE_NAME}"


def _charge(answers: Answers, question: Question | None, message: str) -> None:
    if question is None:
        answers.notes.append(message)
    else:
        answers.problems.setdefault(question.key, message)
