"""What the checks of the 2023 homework serve on the grader's side while the student's flow
runs: a mail server that keeps what it receives (Q5), a webhook receiver that counts the
automation's calls (Q6), and a trip file whose first read fails (Q1).

The mail server listens on the grader's 127.0.0.1; the worker's sandbox relays its port into
the wall (runner.Sandbox.relayed_ports), so the flow reaches it at the same address. The
webhook is called by the Prefect server itself, which runs on the grader's side: no relay.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import shutil
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

POLL_S = 0.05  # how often the webhook receiver looks for a stop (socketserver's default, 0.5 s, is waited at the end)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- mail ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    received: float  # time.time()
    mail_from: str
    recipients: tuple[str, ...]
    subject: str
    text: str


class MailSink:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives."""

    def __init__(self):
        self.mails: list[Mail] = []
        self.port: int | None = None
        self._controller = None
        self._arrived = threading.Condition()

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                raw = envelope.original_content or envelope.content
                raw = raw if isinstance(raw, bytes) else str(raw).encode()
                message = message_from_bytes(raw, policy=default_policy)
                try:
                    body = message.get_body(("plain", "html"))
                    text = body.get_content() if body is not None else ""
                except Exception:
                    text = raw.decode(errors="replace")
                mail = Mail(time.time(), envelope.mail_from, tuple(envelope.rcpt_tos), str(message.get("Subject", "")), text)
                with sink._arrived:
                    sink.mails.append(mail)
                    sink._arrived.notify_all()
                return "250 Message accepted for delivery"

        def any_login(server, session, envelope, mechanism, auth_data):
            from aiosmtpd.smtp import AuthResult

            return AuthResult(success=True)  # a student's block keeps its username: any login is let in

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=any_login,
                                      auth_require_tls=False)
        self._controller.start()
        return self

    def to(self, address: str | None) -> list[Mail]:
        """The messages to `address` (None: all of them)."""
        return [m for m in list(self.mails) if address is None or any(r.lower() == address.lower() for r in m.recipients)]

    def wait_for(self, address: str | None, timeout: float) -> list[Mail]:
        """The messages to `address` (None: any), waiting up to `timeout` seconds for a first one."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not self.to(address) and time.monotonic() < deadline:
                self._arrived.wait(max(deadline - time.monotonic(), 0))
        return self.to(address)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# -- webhook ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    received: float  # time.time()
    method: str
    path: str
    body: str


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records each call to its path (any method)."""

    def __init__(self, token: str):
        self.path = f"/hw3-checks/{token}"
        self.calls: list[Call] = []
        self._server: ThreadingHTTPServer | None = None
        self._arrived = threading.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{self.path}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                if self.path.split("?")[0].rstrip("/") == receiver.path:
                    with receiver._arrived:
                        receiver.calls.append(Call(time.time(), self.command, self.path, body[:2000]))
                        receiver._arrived.notify_all()
                    self.send_response(200)
                else:
                    self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_PATCH = _record

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(POLL_S,), daemon=True, name="hw3-webhook").start()
        return self

    def calls_after(self, moment: float) -> list[Call]:
        return [c for c in list(self.calls) if c.received >= moment]

    def wait_for_call_after(self, moment: float, timeout: float) -> list[Call]:
        """The calls received from `moment` on, waiting up to `timeout` seconds for one."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not self.calls_after(moment) and time.monotonic() < deadline:
                self._arrived.wait(max(deadline - time.monotonic(), 0))
        return self.calls_after(moment)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# -- a read that fails once ---------------------------------------------------------------

IN_OPEN = 0x00000020
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC


@dataclass
class FlakyFile:
    """A copy of a trip file at `path` whose first read fails, as a download cut short does.

    The file starts truncated (its first half: no parquet footer, so any reader raises). A
    watcher thread sees it opened (inotify, IN_OPEN: a reader inside the sandbox opens the same
    inode) and right then puts the whole file in its place, atomically (a rename): the read
    that opened the truncated file fails, every later one reads the whole file. A task with
    retries (2 s apart) thus fails its first attempt and completes on its second, without any
    race: the swap takes milliseconds. Where inotify is missing (not Linux), or the file is
    never opened (a reader that gives up on the truncated file without opening it), the
    watcher also swaps once `retrying()` says the server has a retry of the task scheduled.
    """

    path: Path
    source: Path
    opened_at: float | None = None  # when the first read opened the truncated file
    swapped_at: float | None = None
    swapped_because: str | None = None  # "opened", "retrying" or "closed"
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def prepare(self) -> FlakyFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.source.read_bytes()
        self.path.write_bytes(data[: len(data) // 2])
        shutil.copyfile(self.source, self._whole)
        return self

    @property
    def _whole(self) -> Path:
        return self.path.with_name(f".{self.path.name}.whole")

    def watch(self, retrying=lambda: False, poll_s: float = 1.0) -> None:
        """Watch in a thread until the swap (or `stop`); `retrying()` is asked every poll_s."""
        self._thread = threading.Thread(target=self._watch, args=(retrying, poll_s), daemon=True, name="hw3-flaky-file")
        self._thread.start()

    def _watch(self, retrying, poll_s: float) -> None:
        fd = _inotify_watch(self.path)
        try:
            next_poll = time.monotonic() + poll_s
            while not self._stop.is_set() and self.swapped_at is None:
                if fd is not None:
                    ready, _, _ = select.select([fd], [], [], 0.1)
                    if ready and _opened(fd):
                        self.opened_at = time.time()
                        self._swap("opened")
                        return
                else:
                    self._stop.wait(0.1)
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + poll_s
                    try:
                        if retrying():
                            self._swap("retrying")
                            return
                    except Exception:  # the server is busy: ask again at the next poll
                        pass
        finally:
            if fd is not None:
                os.close(fd)

    def _swap(self, because: str) -> None:
        if self.swapped_at is None and self._whole.exists():
            os.replace(self._whole, self.path)
            self.swapped_at, self.swapped_because = time.time(), because

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _inotify_watch(path: Path) -> int | None:
    """An inotify descriptor watching `path` for IN_OPEN (None where there is no inotify)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6", use_errno=True)
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    except (OSError, AttributeError):
        return None
    if fd < 0:
        return None
    if libc.inotify_add_watch(fd, os.fsencode(path), IN_OPEN) < 0:
        os.close(fd)
        return None
    return fd


def _opened(fd: int) -> bool:
    """Whether the events waiting on the inotify descriptor include an IN_OPEN."""
    try:
        data = os.read(fd, 4096)
    except BlockingIOError:
        return False
    offset = 0
    while offset + 16 <= len(data):
        _, mask, _, length = struct.unpack_from("iIII", data, offset)
        if mask & IN_OPEN:
            return True
        offset += 16 + length
    return False
