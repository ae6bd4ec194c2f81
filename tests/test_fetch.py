"""hw3.trips.fetch against a local stand-in for TLC's server, with real green files as payload."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from http_server import GREEN_DIR, FileServer
from http_server import tlc_server as server  # noqa: F401 (a fixture)

from hw3.trips import fetch
from hw3.errors import Hw3Error
from hw3.trips.tripdata import URL_TEMPLATE_ENV

JAN, FEB = "green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"
pytestmark = pytest.mark.skipif(not (GREEN_DIR / JAN).is_file(), reason="needs the real green files in ../shared/data")




def real(name: str) -> bytes:
    return (GREEN_DIR / name).read_bytes()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_is_byte_identical(server: FileServer, tmp_path: Path, capfd: pytest.CaptureFixture):
    server.files[f"/tlc/{JAN}"] = real(JAN)
    path = fetch.fetch_file(JAN, tmp_path / "data", progress=True)
    assert path == tmp_path / "data" / JAN
    assert path.read_bytes() == real(JAN)
    assert leftovers(tmp_path / "data") == [JAN]
    assert server.requests == [f"/tlc/{JAN}"]
    assert JAN in capfd.readouterr().err  # the progress bar, on stderr


def test_missing_month_names_the_url_and_the_ways_out(server: FileServer, tmp_path: Path):
    with pytest.raises(fetch.NotAvailable) as caught:
        fetch.fetch_file("fhv_tripdata_2030-01.parquet", tmp_path, progress=False)
    message = str(caught.value)
    assert f"{server.url}/tlc/fhv_tripdata_2030-01.parquet (HTTP 404" in message
    assert "HW3_DATA_MIRROR" in message and "`hw3 data sample`" in message
    assert leftovers(tmp_path) == []


def test_broken_transfer_leaves_nothing(server: FileServer, tmp_path: Path):
    server.files[f"/tlc/{JAN}"] = real(JAN)
    server.broken.add(f"/tlc/{JAN}")
    with pytest.raises(fetch.NotAvailable, match=r"transfer broke off after [\d,]+ of 1,333,519 bytes"):
        fetch.fetch_file(JAN, tmp_path, progress=True)
    assert leftovers(tmp_path) == []


def test_checksum_mismatch_is_refused(server: FileServer, tmp_path: Path):
    server.files[f"/tlc/{JAN}"] = real(FEB)  # a real parquet file, but not January's
    with pytest.raises(Hw3Error) as caught:
        fetch.fetch_file(JAN, tmp_path, progress=False)
    message = str(caught.value)
    assert hashlib.sha256(real(FEB)).hexdigest() in message
    assert "b8e2c9496c5eada0f10adbd88f98d91721ec6fe2787a2b355cf0ccfa9678ee7b" in message
    assert message.startswith(f"{JAN} from {server.url}/tlc/{JAN}: sha256")
    assert not isinstance(caught.value, fetch.NotAvailable)
    assert leftovers(tmp_path) == []


def test_error_page_with_status_200_is_refused(server: FileServer, tmp_path: Path):
    server.files["/tlc/fhv_tripdata_2021-06.parquet"] = b"<?xml version='1.0'?><Error>NoSuchKey</Error>"
    with pytest.raises(Hw3Error, match="fhv_tripdata_2021-06.parquet from .*: not a parquet file .*error page"):
        fetch.fetch_file("fhv_tripdata_2021-06.parquet", tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_folder_mirror_comes_first(server: FileServer, tmp_path: Path):
    path = fetch.fetch_file(JAN, tmp_path / "data", mirror=str(GREEN_DIR), progress=False)
    assert path.read_bytes() == real(JAN)
    assert server.requests == []  # TLC was not asked


def test_mirror_from_the_environment(server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HW3_DATA_MIRROR", str(GREEN_DIR))
    assert fetch.fetch_file(FEB, tmp_path, progress=False).read_bytes() == real(FEB)
    assert server.requests == []


def test_url_mirror_comes_first(server: FileServer, tmp_path: Path):
    server.files[f"/mirror/{JAN}"] = real(JAN)
    server.files[f"/tlc/{JAN}"] = b"not to be used"
    path = fetch.fetch_file(JAN, tmp_path, mirror=f"{server.url}/mirror/", progress=False)
    assert path.read_bytes() == real(JAN)
    assert server.requests == [f"/mirror/{JAN}"]


def test_mirror_miss_falls_through_to_tlc(server: FileServer, tmp_path: Path):
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    server.files[f"/tlc/{FEB}"] = real(FEB)
    assert fetch.fetch_file(FEB, tmp_path / "a", mirror=str(empty), progress=False).read_bytes() == real(FEB)
    assert fetch.fetch_file(FEB, tmp_path / "b", mirror=f"{server.url}/mirror", progress=False).read_bytes() == real(FEB)
    assert server.requests == [f"/tlc/{FEB}", f"/mirror/{FEB}", f"/tlc/{FEB}"]


def test_every_source_is_named_when_all_miss(server: FileServer, tmp_path: Path):
    with pytest.raises(fetch.NotAvailable) as caught:
        fetch.fetch_file(JAN, tmp_path, mirror=f"{server.url}/mirror", progress=False)
    assert f"{server.url}/mirror/{JAN} (HTTP 404" in str(caught.value)
    assert f"{server.url}/tlc/{JAN} (HTTP 404" in str(caught.value)


def test_unreachable_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    with FileServer() as stopped:
        template = stopped.tlc_template()
    monkeypatch.setenv(URL_TEMPLATE_ENV, template)  # nothing listens there any more
    with pytest.raises(fetch.NotAvailable, match="connection failed"):
        fetch.fetch_file(JAN, tmp_path, mirror="", progress=False)
    assert leftovers(tmp_path) == []


def test_present_valid_files_are_skipped(server: FileServer, tmp_path: Path):
    shutil.copy(GREEN_DIR / JAN, tmp_path / JAN)
    (tmp_path / FEB).write_bytes(real(FEB)[:1000])  # a damaged leftover is fetched again
    server.files[f"/tlc/{FEB}"] = real(FEB)
    paths = fetch.fetch_files([JAN, FEB], tmp_path, progress=False)
    assert paths == [tmp_path / JAN, tmp_path / FEB]
    assert server.requests == [f"/tlc/{FEB}"]
    assert (tmp_path / FEB).read_bytes() == real(FEB)


def test_a_bad_name_is_refused_before_any_request(server: FileServer, tmp_path: Path):
    with pytest.raises(Hw3Error, match="not a TLC monthly trip file name"):
        fetch.fetch_file("fhv_2021-06.parquet", tmp_path)
    assert server.requests == []
