"""`hw3 data ...` as real subprocesses, and hw3.trips.data.ensure_files, against a local TLC stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from http_server import GREEN_DIR, FileServer
from http_server import tlc_server as server  # noqa: F401 (a fixture)

from hw3.trips import data, fetch, sample
from hw3.errors import Hw3Error
from hw3.layout import PROJECT_ROOT

GREEN_JAN = GREEN_DIR / "green_tripdata_2021-01.parquet"
needs_green = pytest.mark.skipif(not GREEN_JAN.is_file(), reason="needs the real green files in ../shared/data")




def hw3(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    """Run `python -m hw3.cli ...` in a subprocess with this process's environment."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", "hw3.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def project_with(tmp_path: Path, relative: str, body: str) -> Path:
    """A small project folder holding one homework file."""
    project = tmp_path / "project"
    (project / relative).parent.mkdir(parents=True, exist_ok=True)
    (project / relative).write_text(textwrap.dedent(body))
    return project


def test_sample_then_check(server: FileServer, tmp_path: Path):
    dest = tmp_path / "data"
    made = hw3("data", "sample", "2021-06", "2021-07", "--rows", "2000", "--dest", str(dest))
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines() == [f"{dest}/fhv_tripdata_2021-0{m}.parquet: synthetic FHV month, 2,000 trips"
                                        for m in (6, 7)]
    assert all(sample.sample_info(p)["rows"] == 2000 for p in dest.iterdir())

    checked = hw3("data", "check", *sorted(map(str, dest.iterdir())))
    assert checked.returncode == 0, checked.stdout
    lines = checked.stdout.splitlines()
    assert len(lines) == 2
    assert all("ok, fhv trip file, 2,000 rows, 7 columns [SYNTHETIC sample, not a TLC file]" in line for line in lines)


@needs_green
def test_check_real_and_bad_files(tmp_path: Path):
    page = tmp_path / "fhv_tripdata_2021-06.parquet"
    page.write_text("<html>Not Found</html>")
    checked = hw3("data", "check", str(GREEN_JAN), str(page), str(tmp_path / "notes.txt"))
    assert checked.returncode == 2
    ok, bad, other = checked.stdout.splitlines()
    assert ok == f"{GREEN_JAN}: ok, green trip file, 76,518 rows, 20 columns"
    assert bad.startswith(f"FAILED {page}: not a parquet file")
    assert other == f"FAILED {tmp_path / 'notes.txt'}: no such file"


@needs_green
def test_fetch_months_then_skip_them(server: FileServer, tmp_path: Path):
    for name in ("green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"):
        server.files[f"/tlc/{name}"] = (GREEN_DIR / name).read_bytes()
    args = ("data", "fetch", "--taxi", "green", "2021-01", "2021-02", "--dest", str(tmp_path), "--no-progress")
    first = hw3(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count(": fetched") == 2
    for name in ("green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"):
        assert (tmp_path / name).read_bytes() == (GREEN_DIR / name).read_bytes()
    second = hw3(*args)
    assert second.returncode == 0 and second.stdout.count(": already there") == 2
    assert len(server.requests) == 2


def test_fetch_a_date_through_the_reference_get_paths(server: FileServer, tmp_path: Path):
    months = {}
    for month in (6, 7):
        path = sample.write_sample_month(tmp_path / "tlc" / f"fhv_tripdata_2021-0{month}.parquet", 2021, month, 2000)
        server.files[f"/tlc/{path.name}"] = months[path.name] = path.read_bytes()
    dest = tmp_path / "data"
    fetched = hw3("data", "fetch", "2021-08-15", "--dest", str(dest), "--project", str(PROJECT_ROOT), "--no-progress")
    assert fetched.returncode == 0, fetched.stderr
    assert sorted(server.requests) == ["/tlc/fhv_tripdata_2021-06.parquet", "/tlc/fhv_tripdata_2021-07.parquet"]
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == months


def test_a_date_uses_the_projects_get_paths_with_the_dest_as_data_dir(server: FileServer, tmp_path: Path):
    dest = tmp_path / "out"
    project = project_with(tmp_path, "solutions/homework.py", f"""
        import os

        def get_paths(date):
            assert os.environ["HW3_DATA_DIR"] == {str(dest)!r}, os.environ.get("HW3_DATA_DIR")
            assert date == "2022-03-01"
            folder = os.environ["HW3_DATA_DIR"]
            return folder + "/fhv_tripdata_2021-11.parquet", folder + "/fhv_tripdata_2021-12.parquet"
    """)
    made = hw3("data", "sample", "2022-03-01", "--rows", "2000", "--dest", str(dest), cwd=project)
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["fhv_tripdata_2021-11.parquet", "fhv_tripdata_2021-12.parquet"]


def test_a_stub_get_paths_says_what_to_do(server: FileServer, tmp_path: Path):
    project = project_with(tmp_path, "homework/homework.py", """
        def get_paths(date):
            raise NotImplementedError("Q2: get_paths(date) is not written yet")
    """)
    result = hw3("data", "fetch", "2021-08-15", "--dest", str(tmp_path / "data"), cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "hw3: homework/homework.py: get_paths is not written yet; fetch months explicitly, "
        "e.g. `hw3 data fetch 2021-06 2021-07`"
    )
    assert server.requests == [] and not (tmp_path / "data").exists()


def test_the_2023_homework_names_its_own_months_and_trip_type(server: FileServer, tmp_path: Path):
    """`--assignment deployments`: the flow's two green months by default, and months given as
    YYYY-MM are green; a date means nothing to a flow that takes paths, and says so."""
    dest = tmp_path / "data"
    made = hw3("data", "sample", "--assignment", "deployments", "--rows", "2000", "--dest", str(dest))
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["green_tripdata_2023-01.parquet", "green_tripdata_2023-02.parquet"]
    made = hw3("data", "sample", "--assignment", "deployments", "2023-03", "--rows", "2000", "--dest", str(dest))
    assert made.returncode == 0 and (dest / "green_tripdata_2023-03.parquet").is_file(), made.stderr
    refused = hw3("data", "fetch", "--assignment", "deployments", "2023-03-01", "--dest", str(dest))
    assert refused.returncode == 2 and "give months as YYYY-MM" in refused.stderr and "Traceback" not in refused.stderr
    assert server.requests == []


@pytest.mark.parametrize("arg", ["2021-13", "2021-6", "June", "2021-06-15x"])
def test_a_bad_month_is_refused(server: FileServer, tmp_path: Path, arg: str):
    result = hw3("data", "fetch", arg, "--dest", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"hw3: {arg!r} is not a month: give months as YYYY-MM")
    assert "Traceback" not in result.stderr and server.requests == []


def test_an_unpublished_month_is_a_clear_error(server: FileServer, tmp_path: Path):
    result = hw3("data", "fetch", "2031-01", "--dest", str(tmp_path / "data"), "--no-progress")
    assert result.returncode == 2
    assert f"{server.url}/tlc/fhv_tripdata_2031-01.parquet (HTTP 404" in result.stderr
    assert "`hw3 data sample`" in result.stderr
    assert list((tmp_path / "data").iterdir()) == []


def test_ensure_files_keeps_what_is_there(server: FileServer, tmp_path: Path):
    path = sample.ensure_sample_month(tmp_path, 2021, 6, 2000)
    before = path.read_bytes()
    assert data.ensure_files([path], progress=False) == [path]
    assert path.read_bytes() == before and server.requests == []


@needs_green
def test_ensure_files_downloads_first(server: FileServer, tmp_path: Path):
    server.files["/tlc/green_tripdata_2021-01.parquet"] = GREEN_JAN.read_bytes()
    wanted = tmp_path / "data" / "green_tripdata_2021-01.parquet"
    assert data.ensure_files([str(wanted)], progress=False) == [wanted]
    assert wanted.read_bytes() == GREEN_JAN.read_bytes()


def test_ensure_files_falls_back_to_a_sample_for_fhv(server: FileServer, tmp_path: Path, capsys):
    wanted = tmp_path / "fhv_tripdata_2021-06.parquet"
    assert data.ensure_files([wanted], rows=2000, progress=False) == [wanted]
    assert sample.sample_info(wanted) == {"generator": sample.GENERATOR_VERSION, "year": 2021, "month": 6, "rows": 2000}
    assert server.requests == ["/tlc/fhv_tripdata_2021-06.parquet"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"hw3: {wanted} is a SYNTHETIC sample (2,000 trips)")
    assert "hw3 data fetch 2021-06" in err[0]


def test_ensure_files_without_samples_or_for_green_raises(server: FileServer, tmp_path: Path):
    with pytest.raises(fetch.NotAvailable, match="green_tripdata_2021-01.parquet: could not download it"):
        data.ensure_files([tmp_path / "green_tripdata_2021-01.parquet"], progress=False)
    with pytest.raises(fetch.NotAvailable, match="fhv_tripdata_2021-06.parquet: could not download it"):
        data.ensure_files([tmp_path / "fhv_tripdata_2021-06.parquet"], allow_sample=False, progress=False)
    assert list(tmp_path.iterdir()) == []  # no file, no sample


def test_ensure_files_does_not_hide_a_damaged_download(server: FileServer, tmp_path: Path):
    server.files["/tlc/fhv_tripdata_2021-06.parquet"] = b"<html>maintenance</html>"
    with pytest.raises(Hw3Error, match="not a parquet file"):
        data.ensure_files([tmp_path / "fhv_tripdata_2021-06.parquet"], progress=False)
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob(".*.part"))
