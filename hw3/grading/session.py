"""What every assignment's grading session shares: the submission, its answers, the key, the
server, and child runs of the submission that start together and each run once.

An assignment's session (checks/<ID>/session.py) subclasses `Session`: `READERS` maps a run's
name to the questions whose checks read it, `spec(name)` says what the run is (a probe
job of the assignment's jobs file, its sandbox and its request), and `PRELOAD` what its
probes import.

The runs that `start` starts together are forks of one warm interpreter of the session
(warm.Zygote: PRELOAD imported once) in a wall that shows what they all read; a run it
cannot serve (started later, reading more) runs in a fresh interpreter.

All the runs of a session share one time budget: HW3_SUBMISSION_BUDGET_FACTOR times the
catalogue's `[grading] reference_seconds` (the reference's), at least MIN_BUDGET_S, counted
from the first run; each run gets what remains of it (at least MIN_RUN_S), and never more
than HW3_CHECK_TIMEOUT_S (300 s by default: the budget is the bound that counts, unless
HW3_CHECK_TIMEOUT_S is set lower). A submission whose code loops forever thus costs about
the budget, not HW3_CHECK_TIMEOUT_S for each run.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from hw3 import settings
from hw3.grading.answer_key import AnswerKey
from hw3.catalogue import Catalogue
from hw3.grading import answers
from hw3.grading.gradebook import NOT_ATTEMPTED, fail, not_attempted, recorded
from hw3.sandbox.runner import ProbeResult, Sandbox, probe_readable, run_probe
from hw3.sandbox import warm

MIN_BUDGET_S = 60.0  # the least time a session's runs get, however quick the reference
MIN_RUN_S = 10.0  # the least time a run gets, however late it starts


class Session:
    READERS: dict[str, set[str]] = {}  # run name -> the questions whose checks read it
    JOBS_FILE: Path  # the assignment's jobs.py
    # What the probes import, imported once for all of them (in the zygote).
    PRELOAD: tuple[str, ...] = ("prefect.main", "prefect.flow_engine", "prefect.task_engine", "pandas", "pyarrow.parquet")

    def __init__(self, target: Path, key: AnswerKey, course: Catalogue, api_url: str, folder: Path):
        self.target = Path(target).resolve()
        self.key = key
        self.course = course
        self.api_url = api_url
        self.folder = Path(folder)
        self.answers = answers.read(self.target, course)
        self.compat: list[str] = []  # compat.py's flags for old code (see hw3/sandbox/compat.py)
        self._jobs: dict[str, Future[ProbeResult]] = {}
        self._pool = ThreadPoolExecutor(max_workers=max(len(self.READERS), 1), thread_name_prefix="hw3-probe")
        self._zygote: warm.Zygote | None = None
        self._deadline: float | None = None  # of the session's budget (time.monotonic)

    def spec(self, name: str) -> tuple[str, Sandbox, dict]:
        """(probe job, sandbox, request) of the run called `name`."""
        raise NotImplementedError

    @classmethod
    def start_ahead(cls, target: Path, api_url: str, folder: Path, kept: bool = False) -> warm.Zygote | None:
        """Start the zygote of a session that will grade `target` in `folder`, before the
        session exists (warm.start_ahead; `kept`: for the sessions of forked graders): it
        shows the submission, the jobs file, the session's folder and the data folder."""
        data = settings.data_dir().resolve()
        (folder / "runs").mkdir(parents=True, exist_ok=True)
        readable = [Path(target), cls.JOBS_FILE, folder, *([data] if data.is_dir() else [])]
        return warm.start_ahead(folder / "runs", api_url, readable, preload=cls.PRELOAD, runs=len(cls.READERS), kept=kept)

    def sandbox(self, name: str, data_files: tuple[Path, ...] = ()) -> Sandbox:
        return Sandbox(self.folder / "runs" / name, self.api_url, data_files, self.key.taxi)

    def start(self, questions: set[str]) -> None:
        """Start, in parallel, the runs that the checks of `questions` read: forks of one
        zygote whose wall shows what all of them read."""
        specs = {name: self.spec(name) for name, readers in self.READERS.items() if readers & questions and self.wanted(name)}
        if specs and self._zygote is None:
            readable = {path for _, _, request in specs.values() for path in probe_readable(self.target, self.JOBS_FILE, request)}
            ports = {port for _, sandbox, _ in specs.values() for port in sandbox.relayed_ports}
            self._zygote = warm.take_ahead(self.folder / "runs", self.api_url, readable, ports) or warm.Zygote(
                self.folder / "runs", self.api_url, readable, preload=self.PRELOAD, runs=len(self.READERS), relayed_ports=ports).start()
        for name, spec in specs.items():
            self._submit(name, spec)

    def wanted(self, name: str) -> bool:
        """Whether the run `name` can happen in this session (e.g. only with real files)."""
        return True

    def run(self, name: str, wait: bool = True) -> ProbeResult | None:
        """The result of a run (started now if it was not yet)."""
        if name not in self._jobs:
            self._submit(name, self.spec(name))
        return self._jobs[name].result() if wait else None

    def _submit(self, name: str, spec: tuple[str, Sandbox, dict]) -> None:
        job, sandbox, request = spec
        self._jobs[name] = self._pool.submit(run_probe, job, self.target, sandbox, jobs=self.JOBS_FILE, compat=self.compat,
                                             timeout=self.run_timeout(), zygote=self._zygote, **request)

    def run_timeout(self) -> float:
        """The time of a run starting now: what remains of the session's budget (see the
        module's docstring); HW3_CHECK_TIMEOUT_S without a reference_seconds."""
        limit = settings.current().check_timeout_s
        if self.course.reference_seconds is None:
            return limit
        now = time.monotonic()
        if self._deadline is None:
            budget = settings.current().submission_budget_factor * self.course.reference_seconds
            self._deadline = now + max(budget, MIN_BUDGET_S)
        return min(limit, max(math.ceil(self._deadline - now), MIN_RUN_S))

    def finished(self, name: str, part: str) -> ProbeResult:
        """The result of a run that went through; the check of `part` ("Q3.artifacts") ends
        here otherwise: with the reason when the run stopped in that part's code, else with
        a pointer to the part that it did stop in (which says why, once)."""
        result = self.run(name)
        if result.outcome == NOT_ATTEMPTED:
            not_attempted(result.reason)
        if not result.ok:
            charged = self.charge_of(result, part)
            if charged == part:
                fail(result.reason)
            fail(f"not seen: {result.reason} (the part of {charged.replace('.', ' (')}))")
        return result

    def charge_of(self, result: ProbeResult, part: str) -> str:
        """The part a failed run is charged to (by default the part that asked for it)."""
        return part

    def note(self, *texts: str) -> None:
        """Notes of the check that is running: shown under the grade table, kept and re-checked
        with that check (plugin.pytest_runtest_call)."""
        self.answers.notes.extend(texts)

    def check_choice(self, question, wrong: str) -> None:
        """Fail unless the student's answer to a choice question is the key's option. For a
        question whose options are the variant's own, a failure also says when the
        submission is graded against the default variant (student_id missing or unknown)."""
        problem = self.key.student_problem(self.answers.student_id) if question.key in self.key.options else None
        if problem:  # their answer may be an option of their own variant, not of the default's
            option = question.normalise(self.answers.value(question))
        else:
            option = self.answers.option(question)
        self.graded_by_the_instructor(question, option)
        if not self.key.answer_is(question.key, option):
            fail(f"{question.key} = {option!r} {wrong}" + (f" ({problem})" if problem else ""))

    def graded_by_the_instructor(self, question, option) -> None:
        """Without the instructor's answer key (a student release), an answer of the right
        form ends its check here: recorded, graded by the instructor."""
        if not self.key.has_answers:
            recorded(f"{question.key} = {option!r}, graded by your instructor")

    def sandboxes(self) -> list[Sandbox]:
        """The run folders of this session (their paths are named relative in reasons)."""
        return [self.sandbox(name) for name in self.READERS]

    def report_code(self, gradebook) -> None:
        """Add what was read from the submission's code before it ran to the gradebook."""

    def figure_lines(self) -> list[str]:
        """The figures the submission's code produced, for the report."""
        return []

    @contextmanager
    def graded(self, request, gradebook, assignment):
        """Start the runs that the selected checks of `assignment` read; while the checks run,
        and after them, add this session's notes, figures and run folders to `gradebook`.
        In a partial grade (`gradebook.rechecked`), a check that reads an answer only starts
        its runs, if any, when it needs them."""
        from hw3.grading.gradebook import matches, question_of

        gradebook.notes += self.answers.notes
        self.answers.notes = gradebook.notes  # what the checks note of an answer goes to the check that read it
        self.report_code(gradebook)
        for sandbox in self.sandboxes():
            gradebook.roots.update({str(sandbox.work): "", str(sandbox.folder): ".."})
        checks = [item for item in request.session.items if Path(item.path).resolve().is_relative_to(assignment.folder)]
        watch = self.course.watch
        if gradebook.rechecked is not None and watch is not None:
            code = tuple(pattern for patterns in watch.files.values() for pattern in patterns)
            checks = [item for item in checks if matches(item.name, code)]
        self.start({question_of(item.name) for item in checks})
        try:
            yield self
            if gradebook.figures_due():
                try:
                    gradebook.figures += self.figure_lines()
                except Exception as exc:  # the checks that needed these figures said why already
                    gradebook.figures.append(f"the figures of your code could not be measured: {exc}")
        finally:
            self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._zygote is not None:
            self._zygote.close()
