"""A stand-in for TLC's web server on 127.0.0.1: serves given bytes by name, answers 404
otherwise, can break a transfer off after announcing its length, and records every path
it was asked for. The fixture `tlc_server` points hw3's TLC URLs at it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hw3.trips.sample import CACHE_ENV
from hw3.layout import PROJECT_ROOT
from hw3.trips.tripdata import URL_TEMPLATE_ENV

GREEN_DIR = PROJECT_ROOT.parent / "shared" / "data"  # real TLC files, beside the project

NOT_FOUND_BODY = b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code></Error>'


class FileServer:
    """`files` maps a URL path (e.g. "/tlc/fhv_tripdata_2021-06.parquet") to its body;
    paths in `broken` send half their body, then close the connection."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.broken: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", str(len(NOT_FOUND_BODY)))
                    self.end_headers()
                    self.wfile.write(NOT_FOUND_BODY)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in server.broken:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def tlc_template(self) -> str:
        """A value for HW3_TLC_URL_TEMPLATE that points TLC's URLs at /tlc/ here."""
        return self.url + "/tlc/{taxi}_tripdata_{year:04d}-{month:02d}.parquet"

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def tlc_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FileServer]:
    """A running FileServer standing in for TLC (under /tlc/); no HW3_DATA_MIRROR unless a
    test sets one, and a private sample cache under tmp_path/cache."""
    monkeypatch.delenv("HW3_DATA_MIRROR", raising=False)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    with FileServer() as running:
        monkeypatch.setenv(URL_TEMPLATE_ENV, running.tlc_template())
        yield running
