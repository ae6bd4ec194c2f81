"""The answer key of the checks: salted digests of the expected answers, no answer in clear.

A key holds, for one variant of the homework (trip type and course date) (a student release
ships `work_only()`: everything but the answers, which stay with the instructor):
  * `answers`: per question key (q1..q6), the digest of the correct option;
  * `paths`: per day of a fixed table, the digest of the file names get_paths must return
    ("train|val", names without folders). The table covers year wraps and zero padding;
    `frozen_days` are the days on which the checks also call get_paths(None) with the clock
    set to that day, and the first of them is the day of the checks' frozen-clock flow run;
  * `options`: per question key, the options of this variant where they are not the
    catalogue's (Q2/Q3 of another month or trip type, see checks/flows/variants.py);
  * `students`: per-student variants, student id -> {"date", "answers", "options"}: the
    rows of `hw3 key --variants`. `for_student(id)` is the key of that student's variant;
    the top level is the default variant (unknown ids and submissions without student_id).
Anyone can hash a guess and compare, so the digests of the answers never leave the
instructor: the checks grade the answers only with the instructor's key (--answer-key).

`build_from_reference()` makes a key from the catalogue's published answers and from the
reference solution's get_paths (run in a child process); `save()`/`load()` store it as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from hw3 import catalogue, layout
from hw3.errors import Hw3Error
from hw3.fsutil import atomic_write, engine_files, files_digest

KEY_FORMAT = 1
MEANING_MONTHS = 24  # how many months before a day `meaning` looks for its training file
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")



@dataclass(frozen=True)
class AnswerKey:
    salt: str
    taxi: str
    date: str  # the course date of this variant (Q2, Q3 and the main flow run)
    answers: dict[str, str]
    paths: dict[str, str]
    frozen_days: tuple[str, ...]
    options: dict[str, list[str]] = field(default_factory=dict)
    students: dict[str, dict] = field(default_factory=dict)

    def digest(self, *parts: str) -> str:
        return _digest(self.salt, *parts)

    @property
    def has_answers(self) -> bool:
        """False for the work-only key of a student release: it grades the work, not the answers."""
        return bool(self.answers)

    def work_only(self) -> AnswerKey:
        """This key without the answers (of the default variant and of every student): what a
        student release ships. Its students' rows keep their date and options (the handout's)."""
        students = {sid: {k: v for k, v in row.items() if k != "answers"} for sid, row in self.students.items()}
        return replace(self, answers={}, students=students)

    def answer_is(self, question_key: str, option: str | None) -> bool:
        """Whether `option` (an option of the catalogue, normalised) is the key's answer."""
        return option is not None and self.answers.get(question_key) == self.digest("answer", question_key, option)

    def answer_option(self, question: catalogue.Question) -> str | None:
        """The option of `question` that the key holds, found by hashing each option."""
        return next((option for option in question.options if self.answer_is(question.key, option)), None)

    def paths_are(self, day: str, train: str, val: str) -> bool:
        """Whether get_paths(day) returning files named (train, val) is right."""
        expected = self.paths.get(day)
        return expected is not None and expected == self.digest("paths", day, f"{Path(train).name}|{Path(val).name}")

    def find_paths(self, day: str, names: list[str]) -> tuple[str, str] | None:
        """The (train, val) pair among file `names` that get_paths(day) must return."""
        return next(((t, v) for t in names for v in names if self.paths_are(day, t, v)), None)

    def catalogue(self, course: catalogue.Catalogue) -> catalogue.Catalogue:
        """`course` with this variant's options in place of the catalogue's."""
        questions = tuple(
            replace(q, options=tuple(self.options[q.key])) if q.key in self.options else q for q in course.questions
        )
        return replace(course, questions=questions)

    def with_student(self, student_id: str, date: str, answers: dict[str, str], options: dict[str, list[str]]) -> AnswerKey:
        """This key with a student's variant added: their course date, answers (in clear
        here, digests in the key), their own options."""
        digests = {q: self.digest("answer", q, option) for q, option in answers.items()}
        return replace(self, students={**self.students, student_id: {"date": date, "answers": digests, "options": options}})

    def for_student(self, student_id: str | None) -> AnswerKey:
        """The key of that student's variant; the default variant if the id has none."""
        row = self.students.get(student_id) if student_id is not None else None
        return self if row is None else replace(self, date=row["date"], answers=row.get("answers", {}), options=row["options"])

    def student_problem(self, student_id: str | None) -> str | None:
        """Why a submission is graded against the default variant of a key with per-student
        variants (None: it has its own row, or the key has no variants)."""
        if not self.students or student_id in self.students:
            return None
        default = f"graded against the default variant (date {self.date})"
        if not student_id:
            return f"answers.toml has no student_id, but this course gives each student a variant: {default}; add your student_id = \"...\""
        return f"student_id {student_id!r} of answers.toml is not in the course's answer key: {default}; check the id against your handout"

    def meaning(self, course: catalogue.Catalogue) -> str:
        """A digest of what the key grades as right, not of its salt (two keys built from the
        same reference have the same meaning): each answer read back as the option of its
        question it is the digest of, each day's paths as the trip files of the months around
        the day that they name. A digest that reads back as nothing counts as itself."""
        from hw3.trips.tripdata import month_file

        options = {q.key: list(q.options) for q in course.questions}

        def clear(answers: dict[str, str], own: dict[str, list[str]]) -> dict[str, str]:
            return {q: next((o for o in own.get(q, options.get(q, ())) if self.digest("answer", q, o) == d), d)
                    for q, d in answers.items()}

        def files_near(day: str) -> list[str]:
            year, month = int(day[:4]), int(day[5:7])
            months = [(year * 12 + month - 1 + shift) for shift in range(-MEANING_MONTHS, 3)]
            return [month_file(self.taxi, n // 12, n % 12 + 1) for n in months]

        paths = {day: "|".join(self.find_paths(day, files_near(day)) or (d,)) if DAY.fullmatch(day) else d
                 for day, d in self.paths.items()}
        students = {sid: {**row, "answers": clear(row.get("answers", {}), row.get("options", {}))}
                    for sid, row in self.students.items()}
        plain = {**asdict(self), "salt": "", "answers": clear(self.answers, self.options), "paths": paths, "students": students}
        return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()

    def save(self, path: str | os.PathLike) -> Path:
        return atomic_write(path, json.dumps({"format": KEY_FORMAT, **asdict(self)}, indent=1) + "\n")


def load(path: str | os.PathLike) -> AnswerKey:
    """Read a key written by AnswerKey.save()."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if raw.pop("format") != KEY_FORMAT:
            raise ValueError(f"format is not {KEY_FORMAT}")
        raw["frozen_days"] = tuple(raw["frozen_days"])
        raw.pop("figures", None)  # an empty field of keys written before it was dropped
        return AnswerKey(**raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Hw3Error(f"{path}: not a readable answer key ({exc}); rebuild it from the reference solution") from exc


def _digest(salt: str, *parts: str) -> str:
    return hashlib.sha256("\x1f".join((salt, *parts)).encode("utf-8")).hexdigest()


def make(answers: dict[str, str], paths: dict[str, tuple[str, str]], *, taxi: str, date: str, salt: str | None = None,
         options: dict[str, list[str]] | None = None, frozen_days: tuple[str, ...] = ()) -> AnswerKey:
    """A key from answers in clear ({q1: option}) and paths ({day: (train, val)}); `options`
    are the variant's own options of some questions; `frozen_days` the days of the paths
    table on which get_paths(None) is called with the clock set to that day."""
    salt = salt or secrets.token_hex(16)
    digests = {q: _digest(salt, "answer", q, option) for q, option in answers.items()}
    table = {day: _digest(salt, "paths", day, f"{Path(t).name}|{Path(v).name}") for day, (t, v) in paths.items()}
    return AnswerKey(salt, taxi, date, digests, table, tuple(frozen_days), options=dict(options or {}))


def build_from_reference(project_root: str | os.PathLike = layout.PROJECT_ROOT, assignment: str | None = None) -> AnswerKey:
    """The key of the course variant of an assignment (default: the first): the catalogue's
    answers, and the reference's get_paths table when the assignment grades one."""
    from hw3 import assignment as assignment_module

    chosen = assignment_module.load(assignment, Path(project_root).resolve())
    course = chosen.catalogue
    missing = [q.id for q in course.questions if q.answer is None]
    if missing:
        raise Hw3Error(
            f"{chosen.catalogue_file}: no answers for {', '.join(missing)} (a student release); "
            "grade with the answer key shipped as checks/<ID>/key.json"
        )
    paths = {}
    if course.key_job:
        problem = reference_problem(chosen)
        if problem:
            raise Hw3Error(problem)
        paths = reference_paths(chosen.solutions(), course, chosen.jobs)
    return make({q.key: q.answer for q in course.questions}, paths, taxi=course.taxi, date=course.date,
                frozen_days=course.key_frozen_days)


def reference_problem(chosen) -> str | None:
    """Why the key of assignment `chosen` cannot be built from its reference (it runs the
    reference's get_paths, and the reference is not here); None if it can."""
    if not chosen.catalogue.key_job:
        return None
    first = chosen.solutions() / next((name for name in chosen.catalogue.stubs if name.endswith(".py")), "homework.py")
    problem = layout.course_problem(first, "the answer key, built from the reference solution,")
    return problem and f"{problem}; or give the instructor's key with --answer-key FILE"


def reference_paths(reference: Path, course: catalogue.Catalogue, jobs: Path, dates: tuple[str, ...] = (),
                    taxi: str | None = None) -> dict[str, tuple[str, str]]:
    """Run the catalogue's key job (get_paths) of the reference in a child process: over its
    key dates and `dates`, and with the clock set to each key frozen day (trip type `taxi`,
    default the catalogue's). The table is kept (settings.kept_key_paths_dir) under a
    digest of all it depends on (the reference's code, the job, the engine, the days), so a
    re-run with none of them changed does not run the job again."""
    import tempfile

    from hw3.sandbox.runner import Sandbox, run_probe

    taxi = taxi or course.taxi
    days = list(dict.fromkeys((*course.key_dates, *dates)))
    kept = _kept_paths_file(reference, course, jobs, days, taxi)
    try:
        return {day: tuple(pair) for day, pair in json.loads(kept.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    with tempfile.TemporaryDirectory(prefix="hw3-key-") as folder:
        sandbox = Sandbox(Path(folder), api_url="", taxi=taxi)
        result = run_probe(course.key_job, reference, sandbox, jobs=jobs, dates=days, frozen_days=list(course.key_frozen_days))
    what = f"{reference.name}/: {course.key_job} failed while building the answer key"
    if not result.ok:
        raise Hw3Error(f"{what}: {result.reason}")
    calls = {**result.data["dates"], **result.data["today"]}
    failed = {day: call["error"] for day, call in calls.items() if "error" in call}
    if failed:
        raise Hw3Error(f"{what}: {failed}")
    table = {day: tuple(call["paths"]) for day, call in calls.items()}
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(kept, json.dumps(table))
    except OSError:
        pass  # kept is a saving, not a need
    return table


def _kept_paths_file(reference: Path, course: catalogue.Catalogue, jobs: Path, days: list[str], taxi: str) -> Path:
    """Where the key job's table of the reference is kept, named by a digest of what it
    depends on."""
    from hw3 import settings

    code = [*engine_files(), jobs,
            *sorted(p for p in reference.rglob("*.py") if "__pycache__" not in p.parts)]
    asked = json.dumps([course.key_job, days, list(course.key_frozen_days), taxi])
    name = hashlib.sha256((files_digest(code) + asked).encode()).hexdigest()
    return settings.kept_key_paths_dir() / f"{name}.json"
