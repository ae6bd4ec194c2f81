"""The grade model: each check (a pytest test named `test_q<N>_...`) belongs to one question;
a question earns its points only when all its checks pass.

A check ends in one of:
  passed         it passed
  failed         `fail(reason)`, a failed assertion, or an error in the checks themselves
  not attempted  `not_attempted(reason)`: the student has not started this part
  skipped        `pytest.skip(reason)`: nothing to check here (e.g. no real data files);
                 neither earns nor costs anything
A question is "passed" when none of its checks failed or was not attempted (and one ran),
"not attempted" when all of its checks that ran were not attempted, else "failed".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from hw3.catalogue import Catalogue, Question
from hw3.errors import Hw3Error

PASSED, FAILED, NOT_ATTEMPTED, SKIPPED, NOT_RUN = "passed", "failed", "not attempted", "skipped", "not run"
CHECK_NAME = re.compile(r"test_(q\d+)_")
REASON_LIMIT = 500  # characters of a reason kept, so that the grade table stays readable


class NotAttempted(pytest.skip.Exception):
    """The student has not started this part (a stub, a placeholder answer)."""


def not_attempted(reason: str):
    raise NotAttempted(f"{NOT_ATTEMPTED}: {reason}")


def fail(reason: str):
    """Fail the check with a one-line reason and no traceback."""
    pytest.fail(reason, pytrace=False)


def question_of(test_name: str) -> str | None:
    """'Q2' for a test called test_q2_..., None for any other name."""
    match = CHECK_NAME.match(test_name)
    return match.group(1).upper() if match else None


def classify(excinfo: pytest.ExceptionInfo | None) -> tuple[str, str | None]:
    """(status, one-line reason) of a check from the exception it ended with."""
    if excinfo is None:
        return PASSED, None
    exc = excinfo.value
    if isinstance(exc, NotAttempted):
        return NOT_ATTEMPTED, exc.msg.removeprefix(f"{NOT_ATTEMPTED}: ")
    if isinstance(exc, pytest.skip.Exception):
        return SKIPPED, exc.msg
    if isinstance(exc, pytest.fail.Exception):
        return FAILED, exc.msg
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (AssertionError, Hw3Error)):
        return FAILED, text
    return FAILED, f"error in the checks ({type(exc).__name__}: {text}); please report it"


@dataclass
class Check:
    name: str
    status: str
    reason: str | None


@dataclass
class QuestionGrade:
    question: Question
    status: str
    earned: int
    reason: str | None
    checks: list[Check]


@dataclass
class Gradebook:
    """Every check's result, the figures measured on the student's code, and notes."""

    course: Catalogue
    checks: dict[str, list[Check]] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def record(self, question_id: str, name: str, status: str, reason: str | None) -> None:
        if reason and len(reason) > REASON_LIMIT:
            reason = reason[:REASON_LIMIT] + f"... ({len(reason) - REASON_LIMIT:,} more characters)"
        self.checks.setdefault(question_id, []).append(Check(name, status, reason))

    def grade(self, question: Question) -> QuestionGrade:
        checks = self.checks.get(question.id, [])
        counted = [c for c in checks if c.status != SKIPPED]
        failed = [c for c in counted if c.status == FAILED]
        missing = [c for c in counted if c.status == NOT_ATTEMPTED]
        if not counted:
            status, reason = (SKIPPED, checks[0].reason) if checks else (NOT_RUN, "no check of it was selected")
        elif failed:
            status, reason = FAILED, failed[0].reason
        elif missing:
            status = NOT_ATTEMPTED if len(missing) == len(counted) else FAILED
            reason = missing[0].reason if status == NOT_ATTEMPTED else f"incomplete: {missing[0].reason}"
        else:
            status, reason = PASSED, None
        return QuestionGrade(question, status, question.points if status == PASSED else 0, reason, checks)

    def grades(self) -> list[QuestionGrade]:
        return [self.grade(q) for q in self.course.questions]

    def report_lines(self) -> list[str]:
        """The grade table, the total, the figures and the notes, as text lines."""
        grades = self.grades()
        width = max(len(g.question.title) for g in grades)
        lines = []
        for g in grades:
            points = f"{g.earned}/{g.question.points}"
            line = f"{g.question.id:<3} {g.question.title:<{width}}  {points:>5}  {g.status}"
            lines.append(line + (f": {g.reason}" if g.reason else ""))
            if g.status in (FAILED, NOT_ATTEMPTED):
                lines.append(f"{'':<4}hint: {g.question.hint}")
        earned = sum(g.earned for g in grades)
        lines.append(f"{'':<4}{'Total':<{width}}  {f'{earned}/{self.course.max_score}':>5}")
        if self.figures:
            lines += ["", "Figures your code produced:", *(f"  {text}" for text in self.figures)]
        if self.notes:
            lines += ["", *(f"Note: {text}" for text in self.notes)]
        return lines

    def results_json(self) -> dict:
        """Gradescope's results.json: one test per question."""
        tests = []
        for g in self.grades():
            output = [f"{g.status}" + (f": {g.reason}" if g.reason else "")]
            if g.status in (FAILED, NOT_ATTEMPTED):
                output.append(f"hint: {g.question.hint}")
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
        return {
            "score": sum(t["score"] for t in tests),
            "max_score": self.course.max_score,
            "output": "\n".join([*self.figures, *self.notes]),
            "tests": tests,
        }


def figure_line(label: str, yours: float | None, expected: float | None, question: Question, *, unit: str = "", digits: int = 5, where: str) -> str:
    """'validation MSE (sample): yours 1.23456, expected 1.23456; Q2 options: 1.2 (closest
    to yours) | 2.4 | ...'."""

    def show(value: float | None) -> str:
        if value is None:
            return "not produced"
        text = f"{value:,.0f}" if unit else f"{value:.{digits}f}"
        return f"{text}{unit}"

    line = f"{label} ({where}): yours {show(yours)}"
    if expected is not None:
        line += f", expected {show(expected)}"
    closest = question.closest_option(yours) if yours is not None else None
    options = " | ".join(f"{o} (closest to yours)" if o == closest else o for o in question.options)
    return f"{line}; {question.id} options: {options}"
