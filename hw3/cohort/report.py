"""A cohort's grades: one `Graded` per submission, kept beside the CSV so that a re-run can
reuse it, the CSV itself, the terminal's lines and the causes most submissions share."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hw3.fsutil import atomic_write

RESULT_ARTIFACT = "hw3-grade"  # the type of the flow run's artifact that carries a submission's result (flow.py)

SUMMARY_CAUSES = 8  # common causes listed at the end of a cohort's grading
GRADED_FILE = "graded.json"  # in results/<student>/: the grade and the fingerprint it is for


@dataclass(frozen=True)
class Graded:
    """One submission of a cohort: its scores by question (empty if it was not graded), the
    reason of each question that lost points, the causes found in its code, and what its
    grading cost."""

    student: str
    scores: dict[str, int]
    total: int | None
    problem: str | None
    seconds: float
    reasons: dict[str, str] = field(default_factory=dict)
    causes: tuple[str, ...] = ()
    cpu_seconds: float | None = None  # the flow run's process, from its start, and the children it waited for
    checks_cpu_seconds: float | None = None  # of these, the checks and their probes
    fingerprint: str = ""

    @classmethod
    def from_results(cls, student: str, results: dict | None, problem: str | None, seconds: float, **more) -> Graded:
        """A grade from the checks' results.json (None: they wrote none)."""
        if results is None:
            return cls(student, {}, None, problem, seconds, **more)
        extra = results.get("extra_data", {})
        scores = {test["name"].split()[0]: test["score"] for test in results["tests"]}
        return cls(student, scores, results["score"], problem, seconds, extra.get("lost", {}), tuple(extra.get("causes", ())),
                   **more)

    def save(self, folder: Path) -> None:
        atomic_write(folder / GRADED_FILE, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, folder: Path) -> Graded | None:
        """The grade kept in `folder`, if there is a readable one."""
        try:
            data = json.loads((folder / GRADED_FILE).read_text(encoding="utf-8"))
            return cls(**{**data, "causes": tuple(data.get("causes", ()))})
        except (OSError, ValueError, TypeError):
            return None


def line(graded: Graded, course) -> str:
    if graded.total is None:
        return f"{graded.student}: not graded: {graded.problem}"
    scores = " ".join(f"{q.id} {graded.scores.get(q.id, 0)}/{q.points}" for q in course.questions)
    return f"{graded.student}: {scores}, total {graded.total}/{course.max_score} ({graded.seconds:.0f} s)"


def common_causes(graded: list[Graded]) -> list[str]:
    """'15 of 21: written for Prefect 2: DeploymentSpec', most common first (the causes each
    submission's results.json names: what its code was written for, and each lost part's
    reason in short)."""
    counts: dict[str, set[str]] = {}
    for g in graded:
        for cause in g.causes if g.total is not None else ("not graded",):
            counts.setdefault(cause, set()).add(g.student)
    ranked = sorted(counts.items(), key=lambda item: (-len(item[1]), item[0]))[:SUMMARY_CAUSES]
    if not ranked:
        return []
    return ["common causes of lost points:", *(f"  {len(who)} of {len(graded)}: {cause}" for cause, who in ranked)]


def rows(graded: list[Graded], course) -> list[dict[str, object]]:
    """student, Q1..Qn, total, problem, then the reason of every question that lost points."""
    table = []
    for g in graded:
        row: dict[str, object] = {"student": g.student}
        row |= {q.id: g.scores.get(q.id, "") if g.total is not None else "" for q in course.questions}
        row |= {"total": "" if g.total is None else g.total, "problem": g.problem or ""}
        row |= {f"{q.id} reason": g.reasons.get(q.id, "") for q in course.questions}
        table.append(row)
    return table


def write_csv(path: Path, graded: list[Graded], course) -> None:
    """The grades CSV (see `rows`), written whole through a temporary file."""
    table = rows(graded, course)

    def write(handle) -> None:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)

    atomic_write(path, write)
