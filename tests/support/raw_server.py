"""Servers that answer with bytes (:class:`RawServer`), loopback only."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ec2imds._closing import Closing
from ec2imds.endpoints import Endpoint

if TYPE_CHECKING:
    pass


RawAnswer = Callable[[str, str, Mapping[str, str]], bytes]


def http_answer(
    status: str, body: bytes, headers: Mapping[str, str] | None = None, *, version: str = "1.1"
) -> bytes:
    """An answer as EC2 frames it: status line, ``Content-Length`` (left out when
    ``headers`` sets it to ``""``), ``Server: EC2ws``, ``Connection: close``, the given
    headers, the body."""
    lines = [f"HTTP/{version} {status}"]
    head = {"Content-Length": str(len(body)), "Server": "EC2ws", "Connection": "close"}
    head.update(headers or {})
    lines += [f"{name}: {value}" for name, value in head.items() if value]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_answer(sock: socket.socket) -> bytes:
    """Everything the peer sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


class RawServer(Closing):
    """A loopback HTTP server whose answers are bytes: ``answer(method, path, headers)``
    for each request, written as they are, then the connection is closed."""

    def __init__(self, answer: RawAnswer) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.endpoint: Endpoint = ("127.0.0.1", self.sock.getsockname()[1])
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.endpoint[1]}"

    def _serve(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):  # not a TimeoutError before Python 3.10
                continue
            except OSError:
                return
            conn.settimeout(10)
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            try:
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
            except OSError:
                return
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            with self._lock:
                self.requests.append((method, path))
            try:
                conn.sendall(self.answer(method, path, headers))
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                return

    def gets(self) -> list[str]:
        with self._lock:
            return [path for method, path in self.requests if method == "GET"]

    def close(self) -> None:
        self._stop.set()
        self._accept.join(10)
        self.sock.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(10)
