"""Variants of the homework: another trip type or course date, and one date per student.

A variant's Q2/Q3 options. The course's own variant (the catalogue's taxi and date) keeps
the published options. Any other variant gets four options spaced like the 2022 ones
around the figure the reference measured on it:
  * Q2 (validation MSE): the figure rounded to 3 decimals, the others 0.2 apart;
  * Q3 (dv size): the size rounded to the nearest 1,000 bytes, the others 10,000 apart.
The correct option's position (0..3) comes from a hash of the trip type, the date and the
question, so it is the same every time the key is made, but not always the first; it is
lowered when needed so that no option is 0 or less.

Per-student dates: a student's date is the 15th of a month of the instructor's range
(`--months 2021-03..2021-12`), picked by a hash of their student id, so the same roster
always gives the same dates. The flow of that date trains on the month two months
before it and validates on the month before.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from hw3.catalogue import Catalogue
from hw3.errors import Hw3Error
from hw3.fsutil import atomic_write

OPTION_COUNT = 4
DAY_OF_MONTH = 15  # like the course date, 2021-08-15
ROSTER_COLUMN = "student_id"
_RANGE = re.compile(r"(\d{4})-(\d{2})\.\.(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Spacing:
    step: float  # between two options
    unit: float  # the correct option is the figure rounded to this
    text: str  # format of an option

    def option(self, value: float) -> str:
        return self.text.format(value)


# How the 2022 options of the measured questions are spaced (see hw3/catalogue.toml).
SPACINGS = {"q2": Spacing(0.2, 0.001, "{:.3f}"), "q3": Spacing(10_000, 1_000, "{:,.0f} bytes")}


def _hash(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()[:8], "big")


def generated_options(question_key: str, figure: float, taxi: str, date: str, secret: str) -> tuple[list[str], str]:
    """(options, correct option) of Q2 or Q3 for a measured figure, spaced like 2022's.

    The correct option's place among the four comes from `secret`, which only the instructor
    has (this module ships to students): without it the place cannot be worked out.
    """
    spacing = SPACINGS[question_key]
    correct = round(figure / spacing.unit) * spacing.unit
    below = max(0, int((correct - spacing.unit) / spacing.step + 1e-9))  # options that fit under it
    position = _hash(secret, taxi, date, question_key) % (min(OPTION_COUNT - 1, below) + 1)
    values = [correct + (i - position) * spacing.step for i in range(OPTION_COUNT)]
    return [spacing.option(v) for v in values], spacing.option(correct)


def measured_options(
    course: Catalogue, taxi: str, date: str, figures: dict[str, float], secret: str
) -> dict[str, tuple[list[str], str]]:
    """Per measured question (q2, q3): (options, correct option) of the variant.

    `figures` holds the measured figure of each ("q2": validation MSE, "q3": dv bytes).
    The course's own variant keeps the catalogue's options; its answer is the option
    closest to the figure.
    """
    chosen = {}
    for key, figure in figures.items():
        question = course[key]
        if (taxi, date) == (course.taxi, course.date):
            chosen[key] = (list(question.options), question.closest_option(figure))
        else:
            chosen[key] = generated_options(key, figure, taxi, date, secret)
    return chosen


def parse_months(text: str) -> list[tuple[int, int]]:
    """The months of a range "YYYY-MM..YYYY-MM", both ends included."""
    match = _RANGE.fullmatch(text.strip())
    if not match:
        raise Hw3Error(f"--months {text!r}: write the range as YYYY-MM..YYYY-MM, e.g. 2021-03..2021-12")
    first, last = (int(match[1]), int(match[2])), (int(match[3]), int(match[4]))
    if not (1 <= first[1] <= 12 and 1 <= last[1] <= 12) or last < first:
        raise Hw3Error(f"--months {text!r}: months run 01..12 and the range must not end before it starts")
    months, (year, month) = [], first
    while (year, month) <= last:
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def student_date(student_id: str, months: list[tuple[int, int]]) -> str:
    """The course date of a student's variant: the 15th of a month of `months`."""
    year, month = months[_hash("date", student_id) % len(months)]
    return f"{year:04d}-{month:02d}-{DAY_OF_MONTH:02d}"


def read_roster(path: str | os.PathLike) -> list[str]:
    """The student ids of a roster CSV: its `student_id` column (else its first column)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError) as exc:
        raise Hw3Error(f"{path}: cannot read the roster ({exc}); give a CSV file with a {ROSTER_COLUMN} column") from exc
    if len(rows) < 2:
        raise Hw3Error(f"{path}: no students; the roster is a CSV file with a header row and one row per student")
    header = [cell.strip().lower() for cell in rows[0]]
    column = header.index(ROSTER_COLUMN) if ROSTER_COLUMN in header else 0
    ids, seen = [], {}
    for number, row in enumerate(rows[1:], start=2):
        student = row[column].strip() if column < len(row) else ""
        if not student:
            raise Hw3Error(f"{path}, row {number}: no {header[column] or ROSTER_COLUMN}; give every student an id")
        if student in seen:
            raise Hw3Error(f"{path}, rows {seen[student]} and {number}: student id {student!r} twice; ids must be unique")
        seen[student] = number
        ids.append(student)
    return ids


HANDOUT_COLUMNS = ("student_id", "date", "training_month", "validation_month", "q2_options", "q3_options")


def write_handout(path: str | os.PathLike, rows: list[dict[str, str]]) -> Path:
    """Write the students' handout CSV (HANDOUT_COLUMNS; options joined by " | ")."""
    def write(handle) -> None:
        writer = csv.DictWriter(handle, fieldnames=HANDOUT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

    return atomic_write(path, write)


def ensure_sample_as(folder: str | os.PathLike, taxi: str, year: int, month: int, rows: int) -> Path:
    """A synthetic month in `folder` under the trip type's file name and column names
    (hw3.trips.sample makes FHV months; other types get the same trips, columns renamed)."""
    import pyarrow.parquet as pq

    from hw3.trips.sample import ensure_sample_month
    from hw3.trips.tripdata import month_file, trip_type

    folder = Path(folder)
    if taxi == "fhv":
        return ensure_sample_month(folder, year, month, rows)
    fhv, kind = trip_type("fhv"), trip_type(taxi)
    target = folder / month_file(taxi, year, month)
    source = ensure_sample_month(folder / ".fhv-samples", year, month, rows)
    if target.exists() and pq.read_schema(target).metadata == pq.read_schema(source).metadata:
        return target
    names = {fhv.pickup: kind.pickup, fhv.dropoff: kind.dropoff,
             fhv.pickup_location: kind.pickup_location, fhv.dropoff_location: kind.dropoff_location}
    table = pq.read_table(source)
    renamed = table.rename_columns([names.get(c, c) for c in table.column_names])
    table = renamed.replace_schema_metadata(table.schema.metadata)  # keeps the sample's mark
    return atomic_write(target, lambda out: pq.write_table(table, out, compression="zstd"), binary=True)
