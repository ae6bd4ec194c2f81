"""Bad trip files: each gives one clear error that names the file and says what to do, in
`hw3 data check`, `hw3 train`, the reference flow and the checks; nothing is left half-written.

The course date 2021-08-15 reads 2021-06 (training) and 2021-07 (validation); here 2021-06
is made bad in one way at a time, 2021-07 is a good synthetic month.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from http_server import tlc_server  # noqa: F401 (a fixture: a local stand-in for TLC's web server)
from submissions import SOLUTIONS, grade

from hw3 import catalogue
from hw3.layout import PROJECT_ROOT

BAD_MONTH = "fhv_tripdata_2021-06.parquet"
GOOD_MONTH = "fhv_tripdata_2021-07.parquet"
COURSE = catalogue.load()


def rewrite(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)


def renamed(table, path):
    rewrite(table.rename_columns(["PULocationID" if n == "PUlocationID" else n for n in table.column_names]), path)


def string_zones(table, path):
    index = table.column_names.index("PUlocationID")
    rewrite(table.set_column(index, "PUlocationID", pa.compute.cast(table["PUlocationID"], pa.string())), path)


def no_trip_survives(table, path):
    rewrite(table.set_column(table.column_names.index("dropOff_datetime"), "dropOff_datetime", table["pickup_datetime"]), path)


# kind -> (how to spoil the file, what `hw3 data check` says, what the reference flow says)
BAD = {
    "truncated": (lambda t, p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "not a parquet file", "not a readable parquet file"),
    "an error page": (lambda t, p: p.write_text("<html>403 Forbidden</html>"), "not a parquet file", "not a readable parquet file"),
    "renamed column": (renamed, "missing column(s) PUlocationID that a fhv file has", "no column PUlocationID, so it is no fhv trip file"),
    "missing column": (lambda t, p: rewrite(t.drop_columns(["dropOff_datetime"]), p), "missing column(s) dropOff_datetime", "no column dropOff_datetime"),
    "string zones": (string_zones, "PUlocationID is string; expected timestamps", "PUlocationID should hold timestamps (times) and numbers (zones)"),
    "empty": (lambda t, p: rewrite(t.slice(0, 0), p), "the file has no trips", "the file has no trips"),
    "no trip survives": (no_trip_survives, "lasts 1 to 60 minutes", "no trip lasts 1 to 60 minutes, so nothing is left"),
}


@pytest.fixture(params=list(BAD))
def bad_data(request, sample_data_dir, tmp_path) -> tuple[Path, str, str]:
    """(data folder with one bad month, `hw3 data check`'s words, the flow's words)."""
    spoil, check_says, flow_says = BAD[request.param]
    folder = tmp_path / "data"
    folder.mkdir()
    for name in (BAD_MONTH, GOOD_MONTH):
        shutil.copy(sample_data_dir / name, folder / name)
    spoil(pq.read_table(folder / BAD_MONTH), folder / BAD_MONTH)
    return folder, check_says, flow_says


def hw3(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hw3.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})})


def test_hw3_data_check(bad_data, tmp_path):
    folder, check_says, _ = bad_data
    done = hw3("data", "check", str(folder / BAD_MONTH), str(folder / GOOD_MONTH), cwd=tmp_path)
    assert done.returncode == 2
    failed, ok = done.stdout.splitlines()
    assert failed.startswith(f"FAILED {folder / BAD_MONTH}: ") and check_says in failed
    assert ok.startswith(f"{folder / GOOD_MONTH}: ok")


def test_the_reference_flow(bad_data, reference, prefect_api_url, monkeypatch, tmp_path):
    folder, _, flow_says = bad_data
    monkeypatch.setenv("HW3_DATA_DIR", str(folder))
    monkeypatch.setenv("HW3_MODELS_DIR", str(tmp_path / "models"))
    with pytest.raises(ValueError) as failure:
        reference.main(date=COURSE.date)
    message = str(failure.value)
    assert message.startswith(str(folder / BAD_MONTH)) and flow_says in message and "\n" not in message
    assert not (tmp_path / "models").exists()


def test_hw3_train(bad_data, prefect_api_url, tlc_server, tmp_path):  # noqa: F811
    folder, check_says, _ = bad_data
    env = {"HW3_DATA_DIR": str(folder), "HW3_MODELS_DIR": str(tmp_path / "models")}
    done = hw3("train", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert done.stderr.startswith(f"hw3: {folder / BAD_MONTH}: ") and check_says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "models").exists()


def test_a_missing_month_in_the_flow_and_in_data_check(sample_data_dir, reference, prefect_api_url, monkeypatch, tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(sample_data_dir / GOOD_MONTH, tmp_path / "data" / GOOD_MONTH)
    monkeypatch.setenv("HW3_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HW3_MODELS_DIR", str(tmp_path / "models"))
    with pytest.raises(FileNotFoundError, match=f"{BAD_MONTH}: no such trip file; download that month"):
        reference.main(date=COURSE.date)
    done = hw3("data", "check", str(tmp_path / "data" / BAD_MONTH), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, f"FAILED {tmp_path / 'data' / BAD_MONTH}: no such file\n")
    assert not (tmp_path / "models").exists()


def test_the_checks_do_not_use_bad_real_files(prefect_api_url, sample_data_dir, tmp_path):
    """A student's bad real month costs nothing and the grade's notes name it."""
    data = tmp_path / "data"  # the student's data folder: their working directory's data/
    data.mkdir()
    table = pq.read_table(sample_data_dir / GOOD_MONTH).replace_schema_metadata(None)  # no sample mark: "real"
    string_zones(table, data / BAD_MONTH)
    rewrite(table, data / GOOD_MONTH)
    run = grade(SOLUTIONS, tmp_path, prefect_api_url, "-k", "real_data")
    assert run.question("Q2")["output"].endswith("test_q2_mse_on_real_data: skipped (the real trip files of the course date are not in your data folder)")
    assert f"your real trip files are not used: {data / BAD_MONTH}: PUlocationID is string" in run.results["output"]
