"""Download TLC trip files: from HW3_DATA_MIRROR first (a folder or a base URL), then from TLC.

A download goes to a hidden temporary file beside its target (hw3.fsutil.atomic_write), renamed into place
only once it is complete and checked (a parquet file; the published sha256 where the
manifest knows it). On any failure nothing is left behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

from hw3 import settings
from hw3.errors import Hw3Error
from hw3.fsutil import atomic_write
from hw3.trips.tripdata import known_checksum, parse_month_file, read_parquet_schema, url

CHUNK = 1 << 16
TIMEOUT_S = 60


class NotAvailable(Hw3Error):
    """No source had the file (as opposed to a source sending a damaged one)."""


class _Miss(Exception):
    """The source does not have the file (or cannot be reached); try the next one."""


def fetch_file(file_name: str, dest_dir: str | os.PathLike, *, mirror: str | None = None,
               progress: bool = True) -> Path:
    """Get one TLC file (e.g. fhv_tripdata_2021-06.parquet) into dest_dir; return its path.

    `mirror` defaults to HW3_DATA_MIRROR. Raises Hw3Error naming every place tried.
    """
    taxi, year, month = parse_month_file(file_name)
    mirror = settings.data_mirror() if mirror is None else mirror
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / file_name
    sources = []
    if mirror:
        is_url = "://" in mirror
        sources.append(f"{mirror.rstrip('/')}/{file_name}" if is_url else Path(mirror) / file_name)
    sources.append(url(taxi, year, month))
    tried = []
    for source in sources:
        fill = (lambda out, s=source: _copy(s, out)) if isinstance(source, Path) else \
            (lambda out, s=source: _download(s, out, file_name, progress))
        try:
            return atomic_write(target, fill, binary=True, check=lambda written, s=source: _verify(written, file_name, s))
        except _Miss as miss:
            tried.append(f"{source} ({miss})")
    raise NotAvailable(
        f"{file_name}: could not download it; tried " + "; ".join(tried) + ". Check the month "
        "(TLC publishes a month about two months later), set HW3_DATA_MIRROR to a folder or URL "
        "that has the file, or make a synthetic month offline with `hw3 data sample`"
    )


def fetch_files(file_names: list[str], dest_dir: str | os.PathLike, *, mirror: str | None = None,
                progress: bool = True) -> list[Path]:
    """fetch_file for each name, skipping files already in dest_dir and valid."""
    paths = []
    for name in file_names:
        present = Path(dest_dir) / name
        if present.exists() and _is_valid(present, name):
            paths.append(present)
        else:
            paths.append(fetch_file(name, dest_dir, mirror=mirror, progress=progress))
    return paths


def _is_valid(path: Path, name: str) -> bool:
    try:
        _verify(path, name, path)
    except Hw3Error:
        return False
    return True


def _copy(source: Path, out) -> None:
    if not source.is_file():
        raise _Miss("not in the mirror folder")
    with open(source, "rb") as handle:
        shutil.copyfileobj(handle, out, CHUNK)


def _download(source: str, out, file_name: str, progress: bool) -> None:
    request = urllib.request.Request(source, headers={"User-Agent": "hw3-course-tools"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            received = _stream(response, out, expected, file_name, progress)
    except urllib.error.HTTPError as exc:
        raise _Miss(f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise _Miss(f"connection failed: {getattr(exc, 'reason', exc)}") from exc
    if expected is not None and received != expected:
        raise _Miss(f"transfer broke off after {received:,} of {expected:,} bytes")


def _stream(response, out, expected: int | None, file_name: str, progress: bool) -> int:
    from tqdm import tqdm

    received = 0
    with tqdm(total=expected, unit="B", unit_scale=True, desc=file_name, file=sys.stderr,
              disable=not progress, leave=False) as bar:
        while chunk := response.read(CHUNK):
            out.write(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    return received


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, file_name: str, source: object) -> None:
    """A parquet file, with the published checksum if the manifest has one."""
    read_parquet_schema(path, f"{file_name} from {source}")
    expected = known_checksum(file_name)
    if expected:
        actual = sha256(path)
        if actual != expected:
            raise Hw3Error(
                f"{file_name} from {source}: sha256 {actual} differs from the published {expected}; "
                "the file is damaged or not TLC's. Nothing was saved: fetch it again, or fix the mirror"
            )
