"""`hw3 key` as a subprocess: the course's default variant at real scale, the output formats,
and clear errors before any work starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from hw3 import catalogue
from hw3.trips.sample import REAL_ROWS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COURSE = catalogue.load()
FIGURES = ("train_rows", "val_rows", "feature_count", "val_mse", "dv_size_bytes", "scheduled_runs")


def hw3_key(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HW3_CACHE_DIR": str(cwd / "cache"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "hw3.cli", "key", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_the_default_variant_at_real_scale_gives_the_published_key(prefect_api_url, tmp_path):
    done = hw3_key("--sample", "--sample-rows", str(REAL_ROWS), "--out", "key.toml", "--student-key", "student.json",
                   "--prefect-api-url", prefect_api_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr
    key = tomllib.loads((tmp_path / "key.toml").read_text())
    row = key["variant"]
    assert (key["taxi"], key["date"], key["edition"]) == (COURSE.taxi, COURSE.date, COURSE.edition)
    assert (row["training_file"], row["validation_file"]) == ("fhv_tripdata_2021-06.parquet", "fhv_tripdata_2021-07.parquet")
    figures = row["figures"]
    assert set(figures) == set(FIGURES) and all(figures[name] > 0 for name in FIGURES)
    assert figures["train_rows"] > 1_000_000 and figures["feature_count"] == 525 and figures["scheduled_runs"] == 3
    for question in COURSE.questions:  # the published options and answers of the 2022 edition
        entry = row["questions"][question.key]
        assert entry["options"] == list(question.options) and entry["answer"] == question.answer, question.id
    assert row["questions"]["q2"]["expected"] == figures["val_mse"] and row["questions"]["q4"]["expected"] == "0 9 15 * *"
    assert set(key["timings"]) == {"paths", "data", "flow 2021-08-15", "schedule", "work queues"}
    student = json.loads((tmp_path / "student.json").read_text())
    assert (student["taxi"], student["date"], len(student["answers"])) == ("fhv", "2021-08-15", 6)
    assert "train_model" not in json.dumps(student["answers"])


def test_plain_output_of_a_small_sample(prefect_api_url, tmp_path):
    done = hw3_key("--sample", "--sample-rows", "3000", "--prefect-api-url", prefect_api_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[default variant] date 2021-08-15: trains on fhv_tripdata_2021-06.parquet" in done.stdout
    assert "q5: answer '3' (measured 3)" in done.stdout and "timings (s): paths " in done.stdout
    for step in ("paths", "data", "flow 2021-08-15", "schedule", "work queues"):
        assert f"hw3 key: {step} done in" in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--taxi", "limo"], "unknown trip type 'limo'"),
    (["--date", "2021-8-15"], "--date '2021-8-15': write the day as YYYY-MM-DD"),
    (["--taxi", "green", "--sample"], "--sample makes FHV months only"),
    (["--variants", "missing.csv"], "missing.csv: cannot read the roster"),
    (["--variants", "roster.csv", "--months", "2021-12..2021-03"], "must not end before it starts"),
])  # fmt: skip
def test_bad_arguments_are_clear_errors(tmp_path, args, message):
    (tmp_path / "roster.csv").write_text("student_id\na1\n")
    done = hw3_key(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.csv"]  # nothing written


def test_a_month_nobody_has_fails_naming_it(tmp_path):
    empty = tmp_path / "mirror"
    empty.mkdir()
    done = hw3_key("--taxi", "green", "--date", "2030-03-15", cwd=tmp_path,
                   env={"HW3_DATA_MIRROR": str(empty), "HW3_TLC_URL_TEMPLATE": "http://127.0.0.1:9/{taxi}_{year}-{month:02d}.parquet",
                        "HW3_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 2 and "green_tripdata_2030-01.parquet" in done.stderr, done.stderr
    assert not (tmp_path / "key.json").exists()
