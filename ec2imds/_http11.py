"""A minimal HTTP/1.1 client connection over a socket, for the one-shot driver.

Why not ``http.client``: importing it brings ``ssl`` and ``email`` (about 14 ms), a fifth
of a one-value command's run time, for features IMDS never uses. This module speaks just
what IMDS needs: one request at a time on a keep-alive connection, no TLS, no proxy, no
redirect, ``Content-Length``, chunked or close-delimited bodies, and hard limits on the
status line, the headers and the body. Anything else is a :class:`ProtocolError`.
"""

from __future__ import annotations

import math
import socket
import time

__all__ = ["BodyTooLarge", "Connection", "DeadlineExceeded", "IncompleteBody", "ProtocolError"]

MAX_LINE = 8192
MAX_HEADERS = 100


class ProtocolError(ValueError):
    """The peer did not speak HTTP/1.x as expected."""


class IncompleteBody(ConnectionError):
    """The connection closed before the response was complete (dropped or reset)."""


class BodyTooLarge(ValueError):
    """The body is larger than the caller's limit."""


class DeadlineExceeded(TimeoutError):
    """The answer began but was not complete by the request's deadline (a trickle)."""


class Connection:
    """One TCP connection to ``host:port``; :meth:`request` may be called repeatedly."""

    def __init__(self, host: str, port: int, timeout: float, user_agent: str) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.user_agent = user_agent
        self._sock: socket.socket | None = None
        self._buffer = b""
        #: False once the peer asked to close or the body was close-delimited.
        self.reusable = True
        self._deadline = math.inf
        self._received = False

    @classmethod
    def over(cls, sock: socket.socket, host: str, port: int, user_agent: str) -> Connection:
        """A connection over an already connected socket (tests, socket pairs)."""
        conn = cls(host, port, sock.gettimeout() or 1.0, user_agent)
        conn._sock = sock
        return conn

    def connect(self) -> None:
        """Open the TCP connection (raises ``OSError``/``TimeoutError``)."""
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.reusable = False

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        limit: int,
        deadline: float | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request and read its whole response: ``(status, headers, body)``.

        Header names in the result are lower-case. Raises :class:`BodyTooLarge` past
        ``limit`` bytes, :class:`IncompleteBody` or ``OSError`` when the connection fails,
        ``TimeoutError`` when the peer is silent for the timeout,
        :class:`DeadlineExceeded` when the answer has begun but is not complete at
        ``deadline`` (a :func:`time.monotonic` time: no read waits past it),
        :class:`ProtocolError` on garbage.
        """
        if self._sock is None:
            raise ConnectionError("not connected")
        self._deadline = math.inf if deadline is None else deadline
        self._received = bool(self._buffer)
        host = f"[{self.host}]" if ":" in self.host else self.host
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {host}:{self.port}",
            f"User-Agent: {self.user_agent}",
            "Accept: */*",
        ]
        if method in ("PUT", "POST"):
            lines.append("Content-Length: 0")
        for name, value in headers.items():
            if any(c in "\r\n" for c in name + value):
                raise ProtocolError(f"header {name!r} would split the request")
            lines.append(f"{name}: {value}")
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status, response_headers = self._read_head()
        body = self._read_body(method, status, response_headers, limit)
        if response_headers.get("connection", "").lower() == "close":
            self.reusable = False
        return status, response_headers, body

    # -- reading ---------------------------------------------------------------------

    def _recv(self) -> bytes:
        assert self._sock is not None
        left = self._deadline - time.monotonic()
        wait = min(self.timeout, left)
        try:
            if wait <= 0:
                raise TimeoutError("timed out")
            self._sock.settimeout(wait)
            data = self._sock.recv(65536)
        except TimeoutError:
            if self._received and left <= self.timeout:
                raise DeadlineExceeded("the answer was not complete in time") from None
            raise
        if not data:
            raise IncompleteBody("the connection was closed")
        self._received = True
        return data

    def _readline(self) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise ProtocolError("a line longer than 8 KiB")
            self._buffer += self._recv()
        line, _, self._buffer = self._buffer.partition(b"\n")
        if len(line) > MAX_LINE:
            raise ProtocolError("a line longer than 8 KiB")
        return line.rstrip(b"\r")

    def _read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._buffer += self._recv()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _read_head(self) -> tuple[int, dict[str, str]]:
        try:
            status_line = self._readline().decode("latin-1")
        except IncompleteBody:
            raise IncompleteBody("the server closed the connection without a response") from None
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:40]!r}")
        status = int(parts[1])
        if not 100 <= status <= 599:
            raise ProtocolError(f"status {status} out of range")
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self._readline()
            if not line:
                return status, headers
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                raise ProtocolError(f"malformed header line {line[:40]!r}")
            headers[name.lower()] = value.strip()
        raise ProtocolError(f"more than {MAX_HEADERS} headers")

    def _read_body(self, method: str, status: int, headers: dict[str, str], limit: int) -> bytes:
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked(limit)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise ProtocolError(f"bad Content-Length {length[:20]!r}")
            if int(length) > limit:
                self.reusable = False
                raise BodyTooLarge(f"Content-Length {length}")
            return self._read_exactly(int(length))
        self.reusable = False  # delimited by the close of the connection
        body = self._buffer
        self._buffer = b""
        while True:
            if len(body) > limit:
                raise BodyTooLarge(f"more than {limit} bytes")
            try:
                body += self._recv()
            except IncompleteBody:
                return body

    def _read_chunked(self, limit: int) -> bytes:
        body = b""
        while True:
            size_text = self._readline().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
            if size < 0:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}")
            if size == 0:
                while self._readline():  # trailers, then the blank line
                    pass
                return body
            if len(body) + size > limit:
                self.reusable = False
                raise BodyTooLarge(f"more than {limit} bytes")
            body += self._read_exactly(size)
            if self._read_exactly(2) != b"\r\n":
                raise ProtocolError("chunk not followed by CRLF")
