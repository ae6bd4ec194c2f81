"""One grading session: the submission, the answer key, the data, and the child runs whose
results several questions read.

The expensive runs (READERS) start together, in parallel, as soon as the session opens, and
each runs once: those that the selected checks read.
"""

from __future__ import annotations

import datetime
import secrets
import shlex
from functools import cached_property
from pathlib import Path

import pytest

from checks.flows import migration
from hw3.grading import cron, measure
from hw3.grading import prefect_api as api
from hw3.grading.gradebook import fail, figure_line
from hw3.grading.session import Session
from hw3.sandbox.runner import ProbeResult, Sandbox
from checks.flows import oracle
from hw3 import settings
from hw3.grading.answer_key import AnswerKey
from hw3.catalogue import Catalogue
from hw3.errors import Hw3Error
from hw3.trips.sample import DEFAULT_ROWS, is_sample
from hw3.trips.tripdata import check_trip_file, month_file, parse_month_file, trip_type
from checks.flows.variants import ensure_sample_as


def drop_a_zone(path: Path, column: str) -> str:
    """Remove the trips of one zone from a validation month, as real months differ in their
    zones (every sample month has them all): a DictVectorizer fitted again on the validation
    month, instead of only transforming it, then has a feature fewer and the flow fails.
    Returns that feature's name ("PUlocationID=1")."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    zone = pc.min(table[column]).as_py()
    pq.write_table(table.filter(pc.fill_null(pc.not_equal(table[column], zone), True)), path)
    return f"{column}={int(zone)}"


# The runs, and the questions whose checks read them.
READERS = {
    "paths": {"Q2"},  # get_paths over the key's days
    "course": {"Q1", "Q2", "Q3"},  # main(date=<course date>) on the synthetic sample
    "today": {"Q3"},  # main() with the clock set to the key's first frozen day
    "deployment": {"Q4", "Q5"},  # CRON, TIMEZONE and register()
    "real": {"Q2", "Q3"},  # main(date=<course date>) on the student's real files, if any
    "q6": {"Q6"},  # the student's q6 command line, once a work queue is on the server
}


class GradingSession(Session):
    READERS = READERS
    JOBS_FILE = Path(__file__).with_name("jobs.py")
    PRELOAD = (*Session.PRELOAD, "pyarrow.dataset", "dateutil.relativedelta", "sklearn.feature_extraction", "sklearn.linear_model",
               "sklearn.metrics", "fastapi.encoders", "time_machine")

    def __init__(self, target: Path, key: AnswerKey, course: Catalogue, api_url: str, folder: Path):
        super().__init__(target, key, course, api_url, folder)
        self.findings = migration.scan(self.target)
        self.compat = migration.compat_flags(self.findings, self.target)
        self._records: dict[str, api.FlowRunRecord] = {}
        self.real_files_problem: str | None = None
        self.dropped_feature: str | None = None  # a training month's zone the validation sample lacks
        self._expected_files: dict[str, tuple[str, str]] = {}  # by day (found by hashing pairs of names)

    # -- data -------------------------------------------------------------------------

    def expected_files(self, day: str) -> tuple[str, str]:
        """The file names get_paths(day) must return, found with the key."""
        if day not in self._expected_files:
            year = datetime.date.fromisoformat(day).year
            names = [month_file(self.key.taxi, y, m) for y in (year - 1, year) for m in range(1, 13)]
            found = self.key.find_paths(day, names)
            if found is None:
                raise Hw3Error(f"the answer key has no get_paths entry for {day} among the months of {year - 1}-{year}")
            self._expected_files[day] = found
        return self._expected_files[day]

    @cached_property
    def sample_dir(self) -> Path:
        """The synthetic months the course-date run and the frozen-clock run read."""
        folder = self.folder / "data"
        for day in (self.key.date, self.key.frozen_days[0]):
            for name in self.expected_files(day):
                _, year, month = parse_month_file(name)
                ensure_sample_as(folder, self.key.taxi, year, month, DEFAULT_ROWS)
        self.dropped_feature = drop_a_zone(folder / self.expected_files(self.key.date)[1], trip_type(self.key.taxi).pickup_location)
        return folder

    @cached_property
    def placeholders(self) -> tuple[Path, ...]:
        """Empty files under the names of every month get_paths is asked for, so a get_paths
        that downloads a month only when its file is missing does not try to (no network)."""
        folder = self.folder / "placeholders"
        folder.mkdir(parents=True, exist_ok=True)
        names = {name for day in [*self.key.paths, *self.key.frozen_days] for name in self.expected_files(day)}
        for name in names:
            (folder / name).touch()
        return tuple(sorted(folder / name for name in names))

    @cached_property
    def expected(self) -> oracle.Figures:
        """The course pipeline's figures on the sample months of the course date."""
        train, val = self.expected_files(self.key.date)
        return oracle.figures(self.sample_dir / train, self.sample_dir / val, trip_type(self.key.taxi))

    @cached_property
    def real_files(self) -> tuple[Path, Path] | None:
        """The student's real trip files of the course date, if both are in their data folder
        and are good trip files (else `real_files_problem` says what is wrong with one)."""
        folder = settings.data_dir().resolve()
        files = tuple(folder / name for name in self.expected_files(self.key.date))
        if not all(f.is_file() and not is_sample(f) for f in files):
            return None
        try:
            for file in files:
                check_trip_file(file)
        except Hw3Error as exc:
            self.real_files_problem = f"your real trip files are not used: {exc}"
            return None
        return files

    # -- child runs ---------------------------------------------------------------------

    def months(self, day: str, folder: Path | None = None) -> dict[str, Path]:
        """{"train": file, "val": file} of the run for `day`: the sample months, else in `folder`."""
        folder = folder or self.sample_dir
        return dict(zip(("train", "val"), (folder / name for name in self.expected_files(day))))

    def spec(self, name: str) -> tuple[str, Sandbox, dict]:
        """(probe job, sandbox, request) of the run called `name`."""
        if name == "paths":
            request = {"dates": sorted(self.key.paths), "frozen_days": list(self.key.frozen_days)}
            return "get_paths", self.sandbox(name, self.placeholders), request
        if name == "deployment":
            return "deployment", self.sandbox(name), {}
        if name == "q6":
            api.create_work_queue(self.api_url, self.q6_queue)
            return "command", self.sandbox(name), {"argv": self.q6_command()}
        day = self.key.frozen_days[0] if name == "today" else self.key.date
        months = self.months(day, self.real_files[0].parent if name == "real" else None)
        request = {"frozen_day": day} if name == "today" else {"date": day}
        return "flow", self.sandbox(name, tuple(months.values())), {**request, "months": {k: str(v) for k, v in months.items()}}

    def report_code(self, gradebook) -> None:
        """What was written for Prefect 2 (or older libraries): notes, and the causes of the
        parts it costs."""
        gradebook.notes += [f.message for f in self.findings if f.charge is None]
        gradebook.causes += [f.cause for f in self.findings if f.charge]
        gradebook.explained |= {f.charge for f in self.findings if f.charge}

    def wanted(self, name: str) -> bool:
        if name == "q6":  # a q6 that is no such command fails, or is not attempted, in its check
            try:
                return self.q6_problem() is None
            except (pytest.fail.Exception, pytest.skip.Exception):
                return False
        return name != "real" or bool(self.real_files)

    @cached_property
    def q6_queue(self) -> str:
        """The work queue the checks create for q6's command to list."""
        return f"hw3-checks-{secrets.token_hex(4)}"

    def q6_command(self) -> list[str]:
        """The argv of the student's q6 (a `prefect work-queue ...` command line)."""
        return shlex.split(str(self.answers.value(self.course["Q6"])))

    def q6_problem(self) -> str | None:
        """Why q6 is not a command line the checks run (None: it is one)."""
        answer = self.answers.value(self.course["Q6"])
        try:
            argv = self.q6_command()
        except ValueError as exc:
            return f"q6 = {answer!r} is not a command line ({exc})"
        if argv[:2] != ["prefect", "work-queue"]:
            return f"q6 = {answer!r}: the checks run `prefect work-queue ...` commands only"
        return None

    def charge_of(self, result: ProbeResult, part: str) -> str:
        """The part a failed flow run is charged to, by where in the submission it raised:
        in get_paths, Q2's; on a line that saves a file, Q3's; else Q1's (the flow)."""
        if result.job != "flow":
            return part
        where = result.data.get("failure") or {}
        code = where.get("code", "")
        if where.get("function") == "get_paths" or not where and "get_paths" in str(result.data.get("phase")):
            return "Q2.get_paths"
        if any(word in code for word in ("pickle", "dump", "'wb'", '"wb"', "models", ".bin", "joblib")):
            return "Q3.artifacts"
        return "Q1.flow"

    def check_written_for_today(self, part: str) -> None:
        """The check of `part` that fails on what was written for Prefect 2 (or an older
        library) in it, with every such idiom and its line; skipped where there is none."""
        problems = self.findings_of(part)
        if problems:
            fail("; ".join(problems))
        pytest.skip("nothing written for Prefect 2 or an older library here")

    def findings_of(self, part: str) -> list[str]:
        """The messages of what was written for Prefect 2 (or older libraries) in `part`,
        read from the code, and the `.result()` calls on plain values seen while it ran."""
        messages = [f.message for f in self.findings if f.charge == part]
        if part == "Q1.flow":
            seen = {(f.file, f.line) for f in self.findings if f.cause.endswith(".result() on a task's value")}
            for name in ("course", "today"):
                if name not in self._jobs:
                    continue
                for call in self.run(name).data.get("result_calls", []):
                    if (call["file"], call["line"]) not in seen:
                        seen.add((call["file"], call["line"]))
                        messages.append(f"written for Prefect 2: `.result()` on the value {call['task']} returned "
                                        f"({call['file']}, line {call['line']}); " + migration.RESULT_WAY.format(task=call["task"]))
        return messages

    def record(self, name: str) -> api.FlowRunRecord | None:
        """What the server recorded of a flow run (None when the flow never ran on it)."""
        run_id = self.run(name).data.get("flow_run_id")
        if run_id and name not in self._records:
            self._records[name] = api.flow_run(self.api_url, run_id)
        return self._records.get(name) if run_id else None

    def reported_mse(self, name: str) -> measure.Reading | None:
        """The validation MSE a run reported: from its logs on the server, else from what it
        printed, else what run_model returned (so that not logging it costs Q1, not Q2 too)."""
        record = self.record(name)
        reading = measure.validation_mse(record.log_messages) if record else None
        reading = reading or measure.validation_mse(self.run(name).stdout.splitlines())
        returned = self.run(name).data.get("returned", {}).get("run_model")
        if reading is None and returned is not None:
            reading = measure.Reading(returned, measure.TOLERANCE, f"run_model returned {returned}")
        return reading

    def artifact(self, name: str, kind: str, day: str) -> Path:
        """Where run `name` must have saved its model ("model") or DictVectorizer ("dv")."""
        suffix = {"model": "bin", "dv": "b"}[kind]
        return self.sandbox(name).models_dir / f"{kind}-{day}.{suffix}"

    def schedule_problem(self) -> str | None:
        """Why the deployment register() made is not on the expected schedule (None: it is)."""
        result = self.finished("deployment", "Q4.deployment")
        schedules = api.deployment_schedules(self.api_url, result.data["deployment_id"])
        crons = [s.cron for s in schedules if s.active and s.cron]
        if not crons:
            return "the deployment register() made has no active cron schedule on the server"
        question = self.course["Q4"]
        if not self.key.has_answers:  # without the key: on the schedule CRON says
            try:
                ours = cron.as_option(result.data.get("cron"), question.options)
            except (cron.CronError, TypeError):
                ours = None
            if ours is None or not any(cron.as_option(c, question.options) == ours for c in crons):
                return f"the deployment register() made is scheduled by cron {', '.join(crons)}, not by CRON = {result.data.get('cron')!r}"
        elif not any(self.key.answer_is(question.key, cron.as_option(c, question.options)) for c in crons):
            return f"the deployment register() made is scheduled by cron {', '.join(crons)}, not at the times asked for"
        zone = result.data.get("timezone")
        zones = {s.timezone for s in schedules if s.active and s.cron}
        if isinstance(zone, str) and zone not in zones:
            return f"the deployment's schedule is in time zone {', '.join(map(str, zones))}, not in TIMEZONE = {zone!r}"
        return None

    @cached_property
    def scheduled_runs(self) -> int:
        """How many runs the server schedules in advance for a deployment on the expected cron:
        the student's if register() made one, else one the checks make (so that a wrong CRON
        costs Q4 only)."""
        if self.run("deployment").ok and self.schedule_problem() is None:
            deployment_id = self.run("deployment").data["deployment_id"]
        else:
            expected = self.key.answer_option(self.course["Q4"])
            name = f"expected-schedule-{self.folder.name}"
            deployment_id = api.create_deployment(self.api_url, "hw3-checks", name, expected, "UTC")
        return api.schedule_and_count(self.api_url, deployment_id)

    # -- report -------------------------------------------------------------------------

    def figure_lines(self) -> list[str]:
        """The validation MSE and the DictVectorizer size the student's code produced, whether
        they are the reference pipeline's on the same data, and the closest options (never a
        figure of the reference itself: on the realistic sample it would point at an answer)."""
        q2, q3 = self.course["Q2"], self.course["Q3"]
        lines = []
        for name, where in (("course", "synthetic sample"), ("real", "your real files")):
            if name not in self._jobs:
                continue
            reading = self.reported_mse(name)
            dv = self.artifact(name, "dv", self.key.date)
            size = dv.stat().st_size if dv.is_file() else None
            same_mse = reading.matches(self.expected.val_mse) if name == "course" and reading else None
            same_dv = size == self.expected.dv_size_bytes if name == "course" and size else None
            lines.append(figure_line("validation MSE", reading and reading.value, same_mse, q2, where=where))
            lines.append(figure_line(dv.name, size, same_dv, q3, unit=" bytes", where=where))
        if lines and self.real_files_problem:
            lines.append(self.real_files_problem)
        elif lines and not self.real_files and not settings.in_cohort():
            lines.append(
                f"real trip files for {self.key.date} not found in {settings.data_dir()}/: the figures of your answers "
                f"come from them (`hw3 data fetch {self.key.date}` downloads them)"
            )
        return lines
