"""The one road from a confined child to the grader's Prefect API.

A confined child (confine.py) has a network of its own with loopback only. The grader serves
the API on a Unix socket inside the child's folder (`serve_unix`, a thread of the grader
that forwards each connection to the real server), and the child listens on its own
127.0.0.1:<the server's port> and forwards to that socket (`serve_tcp`), so PREFECT_API_URL
reads the same inside and out. Standard library only: the probe loads this file by its path.

    python -I relay.py SOCKET PORT [SOCKET PORT ...] -- COMMAND...
        run COMMAND with the child's side started, for each SOCKET and PORT (the API's, and
        any other port of the grader's 127.0.0.1 relayed to the child, e.g. an SMTP server)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

CHUNK = 65536
THREAD = "hw3-relay"  # the name of every relay thread (the probe's audit hook lets them be)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (sink, source):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _forward(client: socket.socket, connect) -> None:
    try:
        upstream = connect()
    except OSError:
        client.close()
        return
    threading.Thread(target=_pump, args=(upstream, client), daemon=True, name=THREAD).start()
    _pump(client, upstream)
    client.close()
    upstream.close()


def _accept(listener: socket.socket, connect) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_forward, args=(client, connect), daemon=True, name=THREAD).start()


def serve_unix(path: str, port: int) -> socket.socket:
    """The grader's side: connections to the Unix socket `path` reach 127.0.0.1:`port`.
    Close the returned socket to stop."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    threading.Thread(target=_accept, args=(listener, lambda: socket.create_connection(("127.0.0.1", port))), daemon=True,
                     name=THREAD).start()
    return listener


def serve_tcp(path: str, port: int) -> socket.socket:
    """The child's side: connections to its own 127.0.0.1:`port` reach the Unix socket `path`."""

    def connect() -> socket.socket:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(path)
        return upstream

    listener = socket.create_server(("127.0.0.1", port))
    threading.Thread(target=_accept, args=(listener, connect), daemon=True, name=THREAD).start()
    return listener


def main(argv: list[str]) -> int:
    end = argv.index("--")
    pairs, command = argv[1:end], argv[end + 1:]
    for path, port in zip(pairs[::2], pairs[1::2]):
        serve_tcp(path, int(port))
    sys.stdout.flush()
    return subprocess.call(command, env=os.environ)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
