"""The question catalogue (`catalogue.toml`): questions, options, points and hints."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hw3 import layout

CATALOGUE_FILE = layout.assignment_dir() / "catalogue.toml"  # the default assignment's


@dataclass(frozen=True)
class Part:
    """What earns some of a question's points: its checks are named test_q<N>_<id>_..."""

    id: str
    points: int
    what: str
    hint: str | None = None  # shown when this part loses its points (else the question's hint)


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    points: int
    kind: str
    options: tuple[str, ...]
    task: str
    hint: str
    parts: tuple[Part, ...] = ()
    answer: str | None = None  # absent in a student release

    @property
    def key(self) -> str:
        """The name of this question's entry in answers.toml (q1..q6)."""
        return self.id.lower()

    def normalise(self, value: object) -> str | None:
        """Map a student's answer onto one of the options, or None if it matches none.

        Numbers may be written with or without separators and units ("1500" is the
        option "1,500 bytes"); cron expressions and commands are compared with their
        white space folded.
        """
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return None
        text = " ".join(str(value).split())
        for option in self.options:
            if text == option or _number(text) is not None and _number(text) == _number(option):
                return option
        return None

    def closest_option(self, figure: float) -> str:
        """The option nearest to a measured figure (an MSE, a file size)."""
        return min(self.options, key=lambda option: abs(_number(option) - figure))

    def clearly_closest(self, value: object) -> str | None:
        """The option a number written in full (11.63703..., 13191) stands for: the closest
        option, when the number lies within a quarter of the gap to that option's nearest
        neighbour; None when it is no number, the options are not numbers, or it is unclear.
        A number with as many significant digits as that option, but other ones, is a mistype
        of it (5.19331 for 5.19931), not the option written in full: None."""
        text = " ".join(str(value).split())
        figure = _number(text) if not isinstance(value, bool) else None
        numbers = [_number(option) for option in self.options]
        if figure is None or None in numbers or len(numbers) < 2:
            return None
        closest = self.closest_option(figure)
        gap = min(abs(n - _number(closest)) for n in numbers if n != _number(closest))
        if _significant(text) == _significant(closest) and figure != _number(closest):
            return None
        return closest if abs(figure - _number(closest)) <= gap / 4 else None

    def part(self, part_id: str) -> Part | None:
        return next((p for p in self.parts if p.id == part_id), None)


@dataclass(frozen=True, eq=False)
class Watch:
    """[watch]: the checks that read each file of the submission (name patterns without
    `test_`), each answer of answers.toml, and the report's figures (`hw3 grade --watch`)."""

    files: dict[str, tuple[str, ...]]
    answers: dict[str, tuple[str, ...]]
    figures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    title: str
    taxi: str
    date: str
    edition: str
    questions: tuple[Question, ...]
    key_job: str | None = None  # [key] job: the probe job whose answers on the reference the key keeps
    key_dates: tuple[str, ...] = ()  # [key] dates: the days it is run for
    key_frozen_days: tuple[str, ...] = ()  # [key] frozen_days: the days the clock is set to, for today
    stubs: tuple[str, ...] = ()  # the student files rendered from templates/<name>.tmpl
    reference_seconds: float | None = None  # [grading] reference_seconds: the reference's probes, wall time of a session
    watch: Watch | None = None  # [watch]: what a save re-checks (None: every save grades everything)

    def __getitem__(self, qid: str) -> Question:
        for question in self.questions:
            if question.id == qid.upper():
                return question
        raise KeyError(f"no question {qid!r} in the catalogue; known: {', '.join(self.ids)}")

    @property
    def ids(self) -> list[str]:
        return [q.id for q in self.questions]

    @property
    def main_file(self) -> str | None:
        """The student's main Python file (the first Python stub): what a notebook stands for."""
        return next((name for name in self.stubs if name.endswith(".py")), None)

    @property
    def max_score(self) -> int:
        return sum(q.points for q in self.questions)


def _number(text: str) -> float | None:
    """The number in an option or answer ("1,500 bytes" -> 1500.0), or None."""
    match = re.fullmatch(r"\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(?:bytes?)?\s*", text)
    return float(match.group(1).replace(",", "")) if match else None


def _significant(text: str) -> int:
    """The significant digits of the number in `text` ("1,500 bytes" -> 2, "5.19931" -> 6)."""
    digits = re.sub(r"[^0-9.]", "", text.split()[0] if text.split() else "")
    whole, _, fraction = digits.partition(".")
    return len((whole + fraction).lstrip("0")) if fraction else len(whole.strip("0"))


def parse(text: str, source: str = str(CATALOGUE_FILE)) -> Catalogue:
    """Build a Catalogue from TOML text; `source` names the file in error messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from exc
    course = raw["course"]
    questions = tuple(
        Question(
            id=q["id"],
            title=q["title"],
            points=int(q["points"]),
            kind=q["kind"],
            options=tuple(q["options"]),
            task=q["task"].strip(),
            hint=" ".join(q["hint"].split()),
            parts=tuple(Part(p["id"], int(p["points"]), p["what"], p.get("hint")) for p in q.get("parts", ())),
            answer=q.get("answer"),
        )
        for q in raw["question"]
    )
    for question in questions:
        if sum(p.points for p in question.parts) != question.points:
            raise ValueError(f"{source}: the parts of {question.id} add up to "
                             f"{sum(p.points for p in question.parts)} points, not its {question.points}")
    return Catalogue(course["title"], course["taxi"], course["date"], course["edition"], questions,
                     raw.get("key", {}).get("job"), tuple(raw.get("key", {}).get("dates", ())),
                     tuple(raw.get("key", {}).get("frozen_days", ())), tuple(course.get("stubs", ())),
                     raw.get("grading", {}).get("reference_seconds"), _watch(raw.get("watch"), questions, source))


def _watch(raw: dict | None, questions: tuple[Question, ...], source: str) -> Watch | None:
    """The [watch] table; ValueError naming the entry that is no question's answer."""
    if raw is None:
        return None
    answers = {key: tuple(patterns) for key, patterns in raw.get("answers", {}).items()}
    unknown = sorted(set(answers) - {q.key for q in questions})
    if unknown:
        raise ValueError(f"{source}: [watch] answers names {', '.join(unknown)}, which no question answers")
    return Watch({name: tuple(patterns) for name, patterns in raw.get("files", {}).items()}, answers, tuple(raw.get("figures", ())))


@cache
def load(path: Path = CATALOGUE_FILE) -> Catalogue:
    """The catalogue shipped with the package."""
    return parse(path.read_text(encoding="utf-8"), str(path))
