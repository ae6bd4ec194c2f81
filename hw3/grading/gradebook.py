"""The grade model: each check (a pytest test named `test_q<N>_<part>_...`) belongs to one
part of one question (the catalogue's `parts`); a part earns its points only when all its
checks pass, and a question earns the points of its parts that passed. So a mistake costs
the part it is in, not the whole question.

A check ends in one of:
  passed         it passed
  failed         `fail(reason)`, a failed assertion, or an error in the checks themselves
  not attempted  `not_attempted(reason)`: the student has not started this part
  skipped        `pytest.skip(reason)`: nothing to check here (e.g. no real data files);
                 neither earns nor costs anything
A part is "passed" when none of its checks failed or was not attempted (and one ran),
"not attempted" when all of its checks that ran were not attempted, else "failed". A
question is "passed" when all its parts passed, "not attempted" when all were not
attempted, else "failed".

Reasons are for the student: paths of the grader's own folders (the submission's folder,
temporary folders, site-packages, the project) are shown relative or by their name only
(`scrub_paths`), and a long reason is wrapped in the table, never cut.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
import sysconfig
import textwrap
from dataclasses import dataclass, field

import pytest

from hw3.catalogue import Catalogue, Part, Question
from hw3.errors import Hw3Error

PASSED, FAILED, NOT_ATTEMPTED, SKIPPED, NOT_RUN = "passed", "failed", "not attempted", "skipped", "not run"
RECORDED = "recorded"  # an answer checked for its form, graded by the instructor's key
CHECK_NAME = re.compile(r"test_(q\d+)_(\w+)")
PART_REASONS = 3  # different reasons of one part's failed checks shown
TABLE_WIDTH = 100  # the grade table's reasons are wrapped at this width
ABSOLUTE_PATH = re.compile(r"(?<![\w.~/:])/(?:[\w.@+-]+/)+([\w.@+-]+)")


class NotAttempted(pytest.skip.Exception):
    """The student has not started this part (a stub, a placeholder answer)."""


def not_attempted(reason: str):
    raise NotAttempted(f"{NOT_ATTEMPTED}: {reason}")


class Recorded(pytest.skip.Exception):
    """An answer of the right form, graded by the instructor (no answer key here)."""


def recorded(reason: str):
    raise Recorded(f"{RECORDED}: {reason}")


def fail(reason: str):
    """Fail the check with a one-line reason and no traceback."""
    pytest.fail(reason, pytrace=False)


def question_of(test_name: str) -> str | None:
    """'Q2' for a test called test_q2_..., None for any other name."""
    match = CHECK_NAME.match(test_name)
    return match.group(1).upper() if match else None


def part_of(test_name: str, question: Question) -> Part | None:
    """The part of `question` a check belongs to: test_q2_get_paths_of_dates -> get_paths."""
    match = CHECK_NAME.match(test_name)
    rest = match.group(2) if match else ""
    found = [p for p in question.parts if rest == p.id or rest.startswith(p.id + "_")]
    return max(found, key=lambda p: len(p.id), default=None)


def matches(check_name: str, patterns: tuple[str, ...]) -> bool:
    """Whether a check (test_q2_mse_answer) is one of `patterns` (its name without `test_`:
    "q2_mse_*")."""
    name = check_name.removeprefix("test_")
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def classify(excinfo: pytest.ExceptionInfo | None) -> tuple[str, str | None]:
    """(status, one-line reason) of a check from the exception it ended with."""
    if excinfo is None:
        return PASSED, None
    exc = excinfo.value
    if isinstance(exc, NotAttempted):
        return NOT_ATTEMPTED, exc.msg.removeprefix(f"{NOT_ATTEMPTED}: ")
    if isinstance(exc, Recorded):
        return RECORDED, exc.msg.removeprefix(f"{RECORDED}: ")
    if isinstance(exc, pytest.skip.Exception):
        return SKIPPED, exc.msg
    if isinstance(exc, pytest.fail.Exception):
        return FAILED, exc.msg
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (AssertionError, Hw3Error)):
        return FAILED, text
    return FAILED, f"error in the checks ({type(exc).__name__}: {text}); please report it"


def grader_roots() -> dict[str, str]:
    """Folders of the grader whose absolute paths never show in a reason, and what stands
    for them: the installed packages vanish (`prefect/flows.py`), the home becomes ~. A
    grading session adds its own (the submission's folder, each run's working folder)."""
    roots = {sysconfig.get_paths()[name]: "" for name in ("purelib", "platlib", "stdlib")}
    roots[sys.prefix] = ""
    roots[os.path.expanduser("~")] = "~"
    return roots


def scrub_paths(text: str, roots: dict[str, str]) -> str:
    """`text` with the absolute paths under `roots` made relative to them (longest root
    first), and any other absolute path cut to its file name."""
    for root in sorted(roots, key=len, reverse=True):
        if root and root != os.sep:
            replacement = roots[root]
            text = text.replace(root.rstrip(os.sep) + os.sep, f"{replacement}/" if replacement else "")
    return ABSOLUTE_PATH.sub(lambda m: m.group(1), text)


@dataclass
class Check:
    name: str
    status: str
    reason: str | None


@dataclass
class PartGrade:
    part: Part
    status: str
    earned: int
    reason: str | None


@dataclass
class QuestionGrade:
    question: Question
    status: str
    earned: int
    parts: list[PartGrade]
    checks: list[Check]

    @property
    def hints(self) -> list[str]:
        """The hints of the parts that lost points: a part's own, else the question's."""
        lost = [p for p in self.parts if p.status in (FAILED, NOT_ATTEMPTED)]
        return list(dict.fromkeys(p.part.hint or self.question.hint for p in lost))

    @property
    def reason(self) -> str | None:
        """The reasons of the parts that lost points, each named when there are several."""
        lost = [p for p in self.parts if p.status not in (PASSED, SKIPPED, RECORDED) and p.reason]
        if len(self.parts) == 1:
            return lost[0].reason if lost else None
        return "; ".join(f"{p.part.id}: {p.reason}" for p in lost) or None


def _combine(checks: list[Check]) -> tuple[str, str | None]:
    """(status, reason) of a group of checks (a part)."""
    counted = [c for c in checks if c.status not in (SKIPPED, RECORDED)]
    failed = [c for c in counted if c.status == FAILED]
    missing = [c for c in counted if c.status == NOT_ATTEMPTED]
    if not counted:
        noted = [c for c in checks if c.status == RECORDED] or checks
        return (noted[0].status, noted[0].reason) if checks else (NOT_RUN, "no check of it was selected")
    if failed:
        reasons = list(dict.fromkeys(c.reason for c in failed if c.reason))
        return FAILED, "; ".join(reasons[:PART_REASONS]) + (f" (and {len(reasons) - PART_REASONS} more)" if len(reasons) > PART_REASONS else "")
    if missing:
        if len(missing) == len(counted):
            return NOT_ATTEMPTED, missing[0].reason
        return FAILED, f"incomplete: {missing[0].reason}"
    return PASSED, None


@dataclass
class Gradebook:
    """Every check's result, the figures measured on the student's code, and notes."""

    course: Catalogue
    checks: dict[str, list[Check]] = field(default_factory=dict)  # "Q2.get_paths" -> checks
    figures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)  # what went wrong, for a cohort's summary
    explained: set[str] = field(default_factory=set)  # parts ("Q1.flow") whose causes are in `causes`
    roots: dict[str, str] = field(default_factory=grader_roots)  # see scrub_paths
    check_notes: dict[str, list[str]] = field(default_factory=dict)  # notes a check made, by its name
    rechecked: set[str] | None = None  # the checks that ran, when the others' results were kept (--recheck)

    def scrub(self, text: str | None) -> str | None:
        return None if text is None else scrub_paths(text, self.roots)

    def record(self, question_id: str, name: str, status: str, reason: str | None) -> None:
        question = self.course[question_id]
        part = part_of(name, question)
        if part is None:
            raise Hw3Error(f"check {name} belongs to no part of {question_id} ({', '.join(p.id for p in question.parts)})")
        self.checks.setdefault(f"{question.id}.{part.id}", []).append(Check(name, status, self.scrub(reason)))

    def attribute_notes(self, check_name: str, since: int) -> None:
        """The notes added since `notes[since]` were made by `check_name`: they are kept and
        re-checked with its result."""
        if len(self.notes) > since:
            self.check_notes.setdefault(check_name, []).extend(self.notes[since:])
            del self.notes[since:]

    def figures_due(self) -> bool:
        """Whether this grade measures the figures: a full grade, or one that re-ran a check
        whose runs measure them (the catalogue's [watch] figures)."""
        watch = self.course.watch
        return self.rechecked is None or watch is None or any(matches(name, watch.figures) for name in self.rechecked)

    def state(self) -> dict:
        """What a later partial grade keeps (`keep`): every check's result and notes, the figures."""
        return {"checks": {part: [[c.name, c.status, c.reason] for c in group] for part, group in self.checks.items()},
                "check_notes": self.check_notes, "figures": self.figures}

    def keep(self, kept: dict, order: dict[str, int]) -> None:
        """Complete a partial grade with `kept`'s results and notes of the checks that did
        not run (and its figures, unless this grade measured them); each part's checks in
        `order` (their collection order), as a full grade has them."""
        rechecked = self.rechecked or set()
        for part, group in kept["checks"].items():
            self.checks.setdefault(part, []).extend(Check(*check) for check in group if check[0] not in rechecked)
        for part, group in self.checks.items():
            group.sort(key=lambda check: order.get(check.name, len(order)))
        self.check_notes |= {name: notes for name, notes in kept["check_notes"].items() if name not in rechecked}
        if not self.figures_due():
            self.figures = list(kept["figures"])

    def all_notes(self) -> list[str]:
        """The session's notes, then the checks' own, question by question."""
        by_checks = [note for g in self.grades() for check in g.checks for note in self.check_notes.get(check.name, [])]
        return list(dict.fromkeys([*self.notes, *by_checks]))

    def grade(self, question: Question) -> QuestionGrade:
        parts, checks = [], []
        for part in question.parts:
            group = self.checks.get(f"{question.id}.{part.id}", [])
            status, reason = _combine(group)
            parts.append(PartGrade(part, status, part.points if status == PASSED else 0, reason))
            checks += group
        statuses = {p.status for p in parts}
        if len(statuses) == 1 or statuses <= {SKIPPED, NOT_RUN}:
            status = parts[0].status
        elif statuses == {PASSED, RECORDED}:
            status = PASSED  # as far as the checks without the answer key can tell
        else:
            status = FAILED
        return QuestionGrade(question, status, sum(p.earned for p in parts), parts, checks)

    def grades(self) -> list[QuestionGrade]:
        return [self.grade(q) for q in self.course.questions]

    def report_lines(self) -> list[str]:
        """The grade table, the total, the figures and the notes, as text lines."""
        grades = self.grades()
        width = max(len(g.question.title) for g in grades)
        indent = " " * 6
        lines = []
        for g in grades:
            points = f"{g.earned}/{g.question.points}"
            line = f"{g.question.id:<3} {g.question.title:<{width}}  {points:>5}  {g.status}"
            if self.rechecked is not None:
                line = ("* " if any(c.name in self.rechecked for c in g.checks) else "  ") + line
            shown = []
            if g.status in (SKIPPED, NOT_RUN, NOT_ATTEMPTED, RECORDED):  # its parts agree: the first one's reason
                line, shown = f"{line}: {g.parts[0].reason}", [g.parts[0]]
            lines += _wrap(line, "", " " * 6)
            for p in g.parts:
                if p.status in (PASSED, SKIPPED, NOT_RUN) or p in shown:
                    continue
                points = f"-/{p.part.points}" if p.status == RECORDED else f"{p.earned}/{p.part.points}"
                text = f"{p.part.id} ({points}) {p.status}" + (f": {p.reason}" if p.reason else "")
                lines += _wrap(text, indent)
            for hint in g.hints:
                lines += _wrap(f"hint: {hint}", indent)
        earned = sum(g.earned for g in grades)
        recorded_points = sum(p.part.points for g in grades for p in g.parts if p.status == RECORDED)
        if recorded_points:
            covered = self.course.max_score - recorded_points
            lines.append(f"{'':<4}{'Total of the local checks':<{width}}  {f'{earned}/{covered}':>5}")
            lines += _wrap(f"The local checks grade your work ({covered} of {self.course.max_score} points); your answers in "
                           f"answers.toml ({recorded_points} points) are recorded and graded by your instructor.", " " * 4)
        else:
            lines.append(f"{'':<4}{'Total':<{width}}  {f'{earned}/{self.course.max_score}':>5}")
        if self.rechecked is not None:
            lines += _wrap("* re-checked by this save; the other rows are kept from earlier grades of files that have not "
                           "changed since.", "", "  ")
        if self.figures:
            lines += ["", "Figures your code produced:", *(w for text in self.figures for w in _wrap(text, "  "))]
        notes = self.all_notes()
        if notes:
            lines += ["", *(w for text in notes for w in _wrap(f"Note: {text}", "", "      "))]
        return lines

    def results_json(self) -> dict:
        """Gradescope's results.json: one test per question; `extra_data` has each lost
        part's reason and the causes, for a cohort's CSV and summary."""
        tests, lost, parts, causes = [], {}, {}, set(self.causes)
        for g in self.grades():
            parts.update({f"{g.question.id}.{p.part.id}": p.earned for p in g.parts})
            causes.update(f"{g.question.id} {p.part.id}: {gist(p.reason or p.status)}" for p in g.parts
                          if p.status in (FAILED, NOT_ATTEMPTED) and f"{g.question.id}.{p.part.id}" not in self.explained)
            output = [f"{g.status}" + (f": {g.reason}" if g.reason else "")]
            output += [f"hint: {hint}" for hint in g.hints]
            output += [f"- {c.name}: {c.status}" + (f" ({c.reason})" if c.reason else "") for c in g.checks]
            tests.append(
                {
                    "name": f"{g.question.id} {g.question.title}",
                    "score": g.earned,
                    "max_score": g.question.points,
                    "status": PASSED if g.status == PASSED else FAILED,
                    "output": "\n".join(output),
                }
            )
            if any(p.status in (FAILED, NOT_ATTEMPTED, SKIPPED, NOT_RUN) for p in g.parts):
                lost[g.question.id] = g.reason or g.status
        return {
            "score": sum(t["score"] for t in tests),
            "max_score": self.course.max_score,
            "output": "\n".join([*self.figures, *(f"Note: {n}" for n in self.all_notes())]),
            "tests": tests,
            "extra_data": {"lost": lost, "parts": parts, "causes": sorted(causes),
                           "recorded": sorted(k for g in self.grades() for p in g.parts if p.status == RECORDED
                                              for k in [f"{g.question.id}.{p.part.id}"])},
        }


def gist(reason: str) -> str:
    """The start of a reason without its figures, names and quoted values, so that alike
    reasons of different submissions read the same ("get_paths(...) raised TypeError")."""
    text = reason.split("; ")[0]
    text = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`|\([^()]*\)", "(...)", text)
    return re.sub(r"(?<![A-Za-z_])\d+(?:[.,]\d+)*", "N", text)[:90]  # a figure, not the 3 of q3


def _wrap(text: str, indent: str, subsequent: str | None = None) -> list[str]:
    return textwrap.wrap(text, TABLE_WIDTH, initial_indent=indent, subsequent_indent=subsequent or indent + "  ",
                         break_long_words=True, break_on_hyphens=False) or [indent]


def figure_line(label: str, yours: float | None, same: bool | None, question: Question, *, unit: str = "", digits: int = 5, where: str) -> str:
    """'validation MSE (synthetic sample): yours 1.23456, the same as the reference pipeline's
    on these data: yes; the Q2 option closest to yours: 1.2'."""
    if yours is None:
        return f"{label} ({where}): not produced"
    text = f"{yours:,.0f}{unit}" if unit else f"{yours:.{digits}f}"
    line = f"{label} ({where}): yours {text}"
    if same is not None:
        line += f", the same as the reference pipeline's on these data: {'yes' if same else 'no'}"
    return f"{line}; the {question.id} option closest to yours: {question.closest_option(yours)}"
