"""`hw3 key --assignment flows` (the default): the 2022 homework's answer key, measured by
running the reference solution. Instructors only: a student release leaves this file out.

    hw3 key [--assignment flows] [--taxi fhv|green|yellow] [--date YYYY-MM-DD] [--out FILE] [--student-key FILE]
            [--sample [--sample-rows N]] [--variants ROSTER.csv [--months YYYY-MM..YYYY-MM]
            [--handout FILE]]

Steps (each is timed; progress goes to stderr):
  1. paths: the reference get_paths (for the trip type) over the key's table of days and
     the variants' dates, in a child process;
  2. data: the two months of each variant's date, fetched (HW3_DATA_MIRROR, then TLC) into
     the data folder, or synthetic FHV months with --sample;
  3. server: an isolated `prefect server start` (hw3/grading/server.py), unless
     --prefect-api-url names a running server;
  4. flow <date>: the reference's main(date) on that server, per variant date; its logs give
     the training and validation rows, the feature count and the validation MSE (full
     precision), its saved dv-<date>.b the DictVectorizer's size in bytes;
  5. schedule: the reference deployment registered on the server, its cron read back, and
     its runs scheduled (POST /deployments/{id}/schedule) and counted;
  6. work queues: a work queue created, and every Q6 option run as a subprocess against
     the server; the answer is the one command that exits 0 and lists the queue.

The INSTRUCTOR key (--out; .toml, .json, or plain text for any other name; printed as plain
text without --out) holds `taxi`, `date`, `data`, `timings` (seconds per step) and, for the
default variant (`[variant]`) and for each student (`[students.<id>]`): `date`,
`training_file`, `validation_file`, `figures` (train_rows, val_rows, feature_count, val_mse,
dv_size_bytes, scheduled_runs) and, per question, `expected` (the measured value), `answer`
(the correct option) and `options`. Q1's answer is the catalogue's (the reference's
structure cannot be measured). Q2/Q3 options: see checks/flows/variants.py; `option_secret` (or
HW3_KEY_SECRET) places the correct option in generated lists.

The STUDENT key (--student-key, the checks' --answer-key / checks/key.json) holds salted
digests only (hw3/grading/answer_key.py), with one row per student of the roster. The handout CSV
tells each student their date and Q2/Q3 options (checks/flows/variants.py: HANDOUT_COLUMNS).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import secrets
import shlex
import sys
import tempfile
from contextlib import ExitStack, nullcontext
from pathlib import Path

from hw3 import settings
from hw3.errors import Hw3Error
from hw3.authoring.key import KEY_FORMAT, Steps, warn_if_unpublished, write_instructor_key

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")
JOBS_FILE = Path(__file__).with_name("jobs.py")
FIGURE_QUESTIONS = {"q2": "val_mse", "q3": "dv_size_bytes"}  # question -> the figure it asks for
_SHAPE = re.compile(r"X_(train|val) has shape \((\d+), (\d+)\)")


def add_options(group) -> None:
    """The options of `hw3 key` for this assignment."""
    group.add_argument("--taxi", help="trip type: fhv, green or yellow (default: the catalogue's)")
    group.add_argument("--date", help="the course date YYYY-MM-DD (default: the catalogue's)")
    group.add_argument("--sample", action="store_true", help="use synthetic FHV months instead of the real files")
    group.add_argument("--sample-rows", type=int, help="trips per synthetic month (default: real scale, 1,200,000)")
    group.add_argument("--variants", type=Path, metavar="ROSTER", help="CSV roster (student_id column): one variant per student")
    group.add_argument("--months", help="range of the students' dates, YYYY-MM..YYYY-MM (default: March..December of the course year)")
    group.add_argument("--handout", type=Path, help="the students' handout CSV (default with --variants: handout.csv)")


def make_key(args: argparse.Namespace) -> int:
    """The 2022 homework's key (see the module's docstring)."""
    from checks.flows import variants
    from hw3 import catalogue
    from hw3.grading import answer_key
    from hw3.trips.tripdata import trip_type

    course = catalogue.load(CATALOGUE_FILE)
    if any(q.answer is None for q in course.questions):
        raise Hw3Error(f"{CATALOGUE_FILE}: a student release has no answers; make the key in the course's own project")
    taxi, date = args.taxi or course.taxi, _date(args.date or course.date)
    trip_type(taxi)
    if args.sample and taxi != "fhv":
        raise Hw3Error(f"--sample makes FHV months only; drop --sample to use real {taxi} files")
    if not (args.project / "solutions" / "homework.py").is_file():
        raise Hw3Error(f"{args.project / 'solutions'}: no reference solution; the key is measured by running it")
    students: dict[str, str] = {}
    if args.variants:
        months = variants.parse_months(args.months or f"{date[:4]}-03..{date[:4]}-12")
        students = {sid: variants.student_date(sid, months) for sid in variants.read_roster(args.variants)}
    dates = list(dict.fromkeys([date, *students.values()]))

    steps = Steps()
    with tempfile.TemporaryDirectory(prefix="hw3-key-") as work:
        work = Path(work)
        with steps.step("paths", f"the reference get_paths for {taxi} trips"):
            paths = answer_key.reference_paths(args.project / "solutions", course, JOBS_FILE, tuple(dates), taxi)
        files = {day: tuple(Path(p).name for p in paths[day]) for day in dates}
        with steps.step("data", "sample months" if args.sample else f"real files in {settings.data_dir()}"):
            data_dir, source = _data(args, work, [name for day in dates for name in files[day]])
        measured = _measure(args.project, work, taxi, {day: tuple(data_dir / n for n in files[day]) for day in dates}, steps, course,
                            args.prefect_api_url)

    # Where a generated Q2/Q3 option list puts the correct option: set HW3_KEY_SECRET to
    # make the same lists again; it never leaves the instructor key.
    secret = os.environ.get("HW3_KEY_SECRET") or secrets.token_hex(16)
    default = _row(course, taxi, date, files[date], measured, secret)
    rows = {sid: _row(course, taxi, day, files[day], measured, secret) for sid, day in students.items()}
    warn_if_unpublished(course, taxi, date, default)
    document = {"format": KEY_FORMAT, "assignment": "flows", "made": datetime.datetime.now().isoformat(timespec="seconds"), "taxi": taxi,
                "date": date, "edition": course.edition, "data": source, "timings": steps.timings, "option_secret": secret,
                "variant": default}
    if rows:
        document["students"] = rows
    write_instructor_key(document, args.out)

    student_key_file = args.student_key or (Path("key.json") if rows else None)
    if student_key_file:
        key = _student_key(paths, taxi, date, default, rows)
        print(f"student key (salted digests): {key.save(student_key_file)}", file=sys.stderr)
    if rows:
        handout = variants.write_handout(args.handout or Path("handout.csv"), [_handout_line(sid, row) for sid, row in rows.items()])
        print(f"handout for {len(rows)} students: {handout}", file=sys.stderr)
    return 0


def _date(text: str) -> str:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise Hw3Error(f"--date {text!r}: write the day as YYYY-MM-DD, e.g. 2021-08-15")


def _data(args: argparse.Namespace, work: Path, names: list[str]) -> tuple[Path, str]:
    """The folder holding the month files `names`, and a note on where they came from."""
    from hw3.trips import data
    from hw3.trips.sample import REAL_ROWS, ensure_sample_month
    from hw3.trips.tripdata import parse_month_file

    if args.sample:
        rows = args.sample_rows or REAL_ROWS
        folder = work / "sample-data"
        for name in dict.fromkeys(names):
            _, year, month = parse_month_file(name)
            ensure_sample_month(folder, year, month, rows)
        return folder, f"synthetic FHV sample months, {rows:,} trips each (hw3.trips.sample)"
    folder = settings.data_dir().resolve()
    data.ensure_files([folder / name for name in dict.fromkeys(names)], allow_sample=False)
    return folder, f"TLC trip files in {folder}"


def _measure(project: Path, work: Path, taxi: str, months: dict[str, tuple[Path, ...]], steps: Steps, course,
             api_url: str | None) -> dict:
    """Figures per date (from its `months`, the training and the validation file), plus the schedule and the work-queue command, on a Prefect server
    (the one at `api_url`, else a fresh one)."""
    from hw3.grading.server import prefect_server

    measured: dict = {}
    with ExitStack() as stack:
        with nullcontext() if api_url else steps.step("server", "starting an isolated Prefect server"):
            url = stack.enter_context(prefect_server(api_url, work / "prefect-server", what="the key"))
        for day, files in months.items():
            with steps.step(f"flow {day}", f"the reference's main(date={day!r}) on {taxi} trips"):
                measured[day] = _flow_figures(project, work, url, taxi, day, files)
        with steps.step("schedule", "register the reference deployment, schedule its runs, count them"):
            measured["schedule"] = _schedule(project, work, url, taxi, course["Q4"].options)
        with steps.step("work queues", "run each Q6 option against the server"):
            measured["work_queues"] = _work_queue_commands(work, url, taxi, course["Q6"].options)
    return measured


def _sandbox(work: Path, name: str, url: str, taxi: str, data_files: tuple[Path, ...] = ()):
    from hw3.sandbox.runner import Sandbox

    return Sandbox(work / "runs" / name, url, data_files, taxi=taxi)


def _flow_figures(project: Path, work: Path, url: str, taxi: str, day: str, data_files: tuple[Path, ...]) -> dict:
    from hw3.grading import measure, prefect_api as api
    from hw3.sandbox.runner import run_probe

    reference = project / "solutions"
    sandbox = _sandbox(work, f"flow-{day}", url, taxi, data_files)
    result = run_probe("flow", reference, sandbox, jobs=JOBS_FILE, date=day)
    if not result.ok:
        raise Hw3Error(f"{reference / 'homework.py'}: the reference flow failed for {day}: {result.reason}")
    messages = api.flow_run(url, result.data["flow_run_id"]).log_messages
    shapes = {m[1]: (int(m[2]), int(m[3])) for message in messages for m in _SHAPE.finditer(message)}
    reading = measure.validation_mse(messages)
    if reading is None or set(shapes) != {"train", "val"}:
        raise Hw3Error(f"{reference / 'homework.py'}: its logs for {day} lack the X_train/X_val shapes or the validation MSE")
    dv = sandbox.models_dir / f"dv-{day}.b"
    return {"train_rows": shapes["train"][0], "val_rows": shapes["val"][0], "feature_count": shapes["train"][1],
            "val_mse": reading.value, "dv_size_bytes": dv.stat().st_size}


def _schedule(project: Path, work: Path, url: str, taxi: str, options: tuple[str, ...]) -> dict:
    from hw3.grading import cron, prefect_api as api
    from hw3.sandbox.runner import run_probe

    reference = project / "solutions"
    result = run_probe("deployment", reference, _sandbox(work, "deployment", url, taxi), jobs=JOBS_FILE)
    if not result.ok:
        raise Hw3Error(f"{reference / 'deployment.py'}: registering the reference deployment failed: {result.reason}")
    deployment_id = result.data["deployment_id"]
    crons = [s.cron for s in api.deployment_schedules(url, deployment_id) if s.active and s.cron]
    if len(crons) != 1:
        raise Hw3Error(f"{reference / 'deployment.py'}: the deployment has {len(crons)} active cron schedules, not one")
    return {"cron": crons[0], "cron_option": cron.as_option(crons[0], options),
            "scheduled_runs": api.schedule_and_count(url, deployment_id)}


def _work_queue_commands(work: Path, url: str, taxi: str, options: tuple[str, ...]) -> dict:
    from hw3.grading import prefect_api as api
    from hw3.sandbox.runner import prefect_command, run_command

    queue = f"hw3-key-{secrets.token_hex(4)}"
    api.create_work_queue(url, queue)
    sandbox = _sandbox(work, "work-queues", url, taxi)
    outcomes = {}
    for option in options:
        done = run_command(prefect_command(shlex.split(option)), sandbox)
        outcomes[option] = done.returncode == 0 and queue in done.stdout
    listing = [option for option, ok in outcomes.items() if ok]
    if len(listing) != 1:
        raise Hw3Error(f"{len(listing)} of the Q6 options list the work queues ({', '.join(listing) or 'none'}); expected exactly one")
    return {"command": listing[0], "listed": outcomes}


def _row(course, taxi: str, day: str, files: tuple[str, str], measured: dict, secret: str) -> dict:
    """One variant's row of the instructor key."""
    from checks.flows import variants

    flow, schedule, queues = measured[day], measured["schedule"], measured["work_queues"]
    figures = {**flow, "scheduled_runs": schedule["scheduled_runs"]}
    chosen = variants.measured_options(course, taxi, day, {q: flow[f] for q, f in FIGURE_QUESTIONS.items()}, secret)
    q1, q4, q5, q6 = (course[q] for q in ("Q1", "Q4", "Q5", "Q6"))
    questions = {
        "q1": {"expected": q1.answer, "answer": q1.answer, "options": list(q1.options)},
        **{q: {"expected": flow[f], "answer": chosen[q][1], "options": chosen[q][0]} for q, f in FIGURE_QUESTIONS.items()},
        "q4": {"expected": schedule["cron"], "answer": schedule["cron_option"] or "", "options": list(q4.options)},
        "q5": {"expected": schedule["scheduled_runs"], "answer": str(schedule["scheduled_runs"]), "options": list(q5.options)},
        "q6": {"expected": queues["command"], "answer": queues["command"], "options": list(q6.options)},
    }
    return {"taxi": taxi, "date": day, "training_file": files[0], "validation_file": files[1],
            "figures": figures, "questions": questions}


def _student_key(paths: dict, taxi: str, date: str, default: dict, rows: dict):
    """The salted key of the checks: the default variant, plus one row per student."""
    from hw3 import catalogue
    from hw3.grading import answer_key

    def answers(row: dict) -> dict[str, str]:
        return {key: entry["answer"] for key, entry in row["questions"].items()}

    def options(row: dict) -> dict[str, list[str]]:
        return {key: row["questions"][key]["options"] for key in FIGURE_QUESTIONS}

    course = catalogue.load(CATALOGUE_FILE)
    table = {day: paths[day] for day in (*course.key_dates, *course.key_frozen_days)}
    key = answer_key.make(answers(default), table, taxi=taxi, date=date, options=options(default),
                          frozen_days=course.key_frozen_days)
    for student, row in rows.items():
        key = key.with_student(student, row["date"], answers(row), options(row))
    return key


def _handout_line(student: str, row: dict) -> dict[str, str]:
    return {"student_id": student, "date": row["date"], "training_month": row["training_file"],
            "validation_month": row["validation_file"],
            "q2_options": " | ".join(row["questions"]["q2"]["options"]),
            "q3_options": " | ".join(row["questions"]["q3"]["options"])}
