"""A minimal HTTP/1.1 client connection over a socket, for the default drivers.

Why not ``http.client``: importing it brings ``ssl`` and ``email`` (about 14 ms), a fifth
of a one-value command's run time, for features IMDS never uses. This module speaks just
what IMDS needs: one request at a time on a keep-alive connection, no TLS, no proxy, no
redirect, ``Content-Length``, chunked or close-delimited bodies, and hard limits on the
status line, the headers and the body. Anything else is a :class:`ProtocolError`.

A request and its response are one flow without I/O (:meth:`Reader.exchange`, a flow of
:mod:`ec2imds._flow`): it builds the request head, asks to :class:`Send` it, then asks
for bytes (:data:`RECV`) until the response is parsed. The blocking :class:`Connection`
runs it with :func:`~ec2imds._flow.run`, the non-blocking :class:`AsyncConnection` with
:func:`~ec2imds._flow.arun`: they share every line of the request, the parsing and its
limits, and differ only in how they send and receive. (This module imports neither
``asyncio`` nor any driver: the command line's start-up path.)
"""

from __future__ import annotations

import math
import socket
import sys
import time
from collections.abc import Generator
from typing import Any, Final, TypeVar

from ec2imds._flow import IO, Flow, arun, run

__all__ = [
    "RECV",
    "AsyncConnection",
    "BodyTooLarge",
    "Connection",
    "DeadlineExceeded",
    "IncompleteBody",
    "ProtocolError",
    "Reader",
    "Send",
    "connect_async",
    "ip_family",
    "request_bytes",
]

MAX_LINE = 8192
MAX_HEADERS = 100

T = TypeVar("T")


class _Recv:
    def __repr__(self) -> str:
        return "RECV"


#: Ask: the next bytes from the peer (``b""`` once it closed the connection).
RECV: Final = _Recv()


class Send:
    """Ask: send ``data`` to the peer."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


#: A parsing step: asks :data:`RECV` when it needs more bytes, is sent them (``b""`` at
#: the end of the stream), returns its result.
Needs = Generator[_Recv, bytes, T]
Answer = tuple[int, dict[str, str], bytes]


class ProtocolError(ValueError):
    """The peer did not speak HTTP/1.x as expected."""


class IncompleteBody(ConnectionError):
    """The connection closed before the response was complete (dropped or reset)."""


class BodyTooLarge(ValueError):
    """The body is larger than the caller's limit."""


class DeadlineExceeded(TimeoutError):
    """The answer began but was not complete by the request's deadline (a trickle)."""


#: What a socket raises when its timeout expires: ``TimeoutError``, but before Python
#: 3.10 ``socket.timeout``, an ``OSError`` of its own, which this module raises as a
#: ``TimeoutError`` (:func:`_timeout_error`) so that its callers see one class throughout.
_TIMEOUTS: tuple[type[OSError], ...] = (TimeoutError, socket.timeout)


def _timeout_error(exc: OSError) -> None:
    """Before Python 3.10, raise ``socket.timeout`` ``exc`` as a ``TimeoutError``."""
    if sys.version_info < (3, 10) and not isinstance(exc, TimeoutError):
        raise TimeoutError(*exc.args) from None


def ip_family(host: str) -> int | None:
    """``AF_INET``/``AF_INET6`` for an IP literal (no name lookup needed), else None."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return family
    return None


def request_bytes(
    method: str, path: str, host: str, port: int, user_agent: str, headers: dict[str, str]
) -> bytes:
    """The request head; a header that would split the request is a :class:`ProtocolError`."""
    shown = f"[{host}]" if ":" in host else host
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {shown}:{port}",
        f"User-Agent: {user_agent}",
        "Accept: */*",
    ]
    if method in ("PUT", "POST"):
        lines.append("Content-Length: 0")
    for name, value in headers.items():
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise ProtocolError(f"header {name!r} would split the request")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Reader:
    """One HTTP/1.1 connection's requests and responses as flows (no I/O of its own)."""

    def __init__(self, host: str, port: int, user_agent: str) -> None:
        self.host = host
        self.port = port
        self.user_agent = user_agent
        self._buffer = b""
        #: False once the peer asked to close or the body was close-delimited.
        self.reusable = True
        #: Bytes of the current answer arrived (a deadline then cuts a trickle short).
        self.received = False

    def exchange(self, method: str, path: str, headers: dict[str, str], limit: int) -> Flow[Answer]:
        """Send one request and read its whole response: ``(status, headers, body)``,
        header names lower-case. Raises :class:`BodyTooLarge` past ``limit`` bytes,
        :class:`IncompleteBody` when the peer closes early, :class:`ProtocolError` on
        garbage or a header that would split the request."""
        head = request_bytes(method, path, self.host, self.port, self.user_agent, headers)
        self.received = bool(self._buffer)
        yield Send(head)
        return (yield from self.response(method, limit))

    def response(self, method: str, limit: int) -> Needs[Answer]:
        """One whole response: ``(status, headers, body)``, header names lower-case."""
        status, response_headers = yield from self._read_head()
        body = yield from self._read_body(method, status, response_headers, limit)
        if response_headers.get("connection", "").lower() == "close":
            self.reusable = False
        return status, response_headers, body

    def _more(self) -> Needs[None]:
        data = yield RECV
        if not data:
            raise IncompleteBody("the connection was closed")
        self.received = True
        self._buffer += data

    def _readline(self) -> Needs[bytes]:
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise ProtocolError("a line longer than 8 KiB")
            yield from self._more()
        line, _, self._buffer = self._buffer.partition(b"\n")
        if len(line) > MAX_LINE:
            raise ProtocolError("a line longer than 8 KiB")
        return line.rstrip(b"\r")

    def _read_exactly(self, n: int) -> Needs[bytes]:
        while len(self._buffer) < n:
            yield from self._more()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _read_head(self) -> Needs[tuple[int, dict[str, str]]]:
        try:
            status_line = (yield from self._readline()).decode("latin-1")
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
            line = yield from self._readline()
            if not line:
                return status, headers
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                raise ProtocolError(f"malformed header line {line[:40]!r}")
            headers[name.lower()] = value.strip()
        raise ProtocolError(f"more than {MAX_HEADERS} headers")

    def _read_body(
        self, method: str, status: int, headers: dict[str, str], limit: int
    ) -> Needs[bytes]:
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return (yield from self._read_chunked(limit))
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise ProtocolError(f"bad Content-Length {length[:20]!r}")
            if int(length) > limit:
                self.reusable = False
                raise BodyTooLarge(f"Content-Length {length}")
            return (yield from self._read_exactly(int(length)))
        self.reusable = False  # delimited by the close of the connection
        body = self._buffer
        self._buffer = b""
        while True:
            if len(body) > limit:
                raise BodyTooLarge(f"more than {limit} bytes")
            data = yield RECV
            if not data:
                return body
            self.received = True
            body += data

    def _read_chunked(self, limit: int) -> Needs[bytes]:
        body = b""
        while True:
            size_text = (yield from self._readline()).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
            if size < 0:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}")
            if size == 0:
                while (yield from self._readline()):  # trailers, then the blank line
                    pass
                return body
            if len(body) + size > limit:
                self.reusable = False
                raise BodyTooLarge(f"more than {limit} bytes")
            body += yield from self._read_exactly(size)
            if (yield from self._read_exactly(2)) != b"\r\n":
                raise ProtocolError("chunk not followed by CRLF")


class Connection(Reader):
    """One blocking TCP connection to ``host:port``; :meth:`request` may be called
    repeatedly."""

    def __init__(self, host: str, port: int, timeout: float, user_agent: str) -> None:
        super().__init__(host, port, user_agent)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._deadline = math.inf

    def connect(self) -> None:
        """Open the TCP connection (raises ``OSError``/``TimeoutError``).

        An IP literal (every IMDS endpoint) is connected to directly, without the name
        lookup of ``socket.create_connection``: a tenth of a request's CPU here.
        """
        family = ip_family(self.host)
        try:
            if family is None:
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            else:
                sock = socket.socket(family, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.timeout)
                    sock.connect((self.host, self.port))
                except BaseException:
                    sock.close()
                    raise
        except _TIMEOUTS as exc:
            _timeout_error(exc)
            raise
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
    ) -> Answer:
        """:meth:`Reader.exchange`, blocking; also raises ``OSError`` when the connection
        fails, ``TimeoutError`` when the peer is silent for the timeout,
        :class:`DeadlineExceeded` when the answer has begun but is not complete at
        ``deadline`` (a :func:`time.monotonic` time: no read waits past it).
        """
        if self._sock is None:
            raise ConnectionError("not connected")
        self._deadline = math.inf if deadline is None else deadline
        return run(self.exchange(method, path, headers, limit), IO(self._perform))

    def _perform(self, ask: Send | _Recv) -> bytes | None:
        assert self._sock is not None
        if isinstance(ask, Send):
            self._sock.sendall(ask.data)
            return None
        return self._recv(self._sock)

    def _recv(self, sock: socket.socket) -> bytes:
        """The next bytes from the peer; ``b""`` once it closed the connection. No read
        waits past the timeout, nor past the request's deadline."""
        left = self._deadline - time.monotonic()
        wait = min(self.timeout, left)
        try:
            if wait <= 0:
                raise TimeoutError("timed out")
            sock.settimeout(wait)
            return sock.recv(65536)
        except _TIMEOUTS as exc:
            if self.received and left <= self.timeout:
                raise DeadlineExceeded("the answer was not complete in time") from None
            _timeout_error(exc)
            raise


class AsyncConnection(Reader):
    """One non-blocking TCP connection for an asyncio loop (:func:`connect_async`), over
    the same flows; the caller bounds it with ``asyncio.timeout``."""

    def __init__(self, sock: socket.socket, host: str, port: int, user_agent: str) -> None:
        super().__init__(host, port, user_agent)
        self.sock = sock

    def close(self) -> None:
        self.sock.close()
        self.reusable = False

    async def request(self, method: str, path: str, headers: dict[str, str], limit: int) -> Answer:
        """:meth:`Reader.exchange` on the running event loop."""
        import asyncio

        loop, sock = asyncio.get_running_loop(), self.sock

        def perform(ask: Send | _Recv) -> Any:  # an awaitable
            if isinstance(ask, Send):
                return loop.sock_sendall(sock, ask.data)
            return loop.sock_recv(sock, 65536)

        return await arun(self.exchange(method, path, headers, limit), IO(perform))


async def connect_async(host: str, port: int) -> socket.socket:
    import asyncio

    loop = asyncio.get_running_loop()
    family = ip_family(host)
    addresses: list[tuple[int, Any]]
    if family is not None:  # an IP literal (every IMDS endpoint): no name lookup
        addresses = [(family, (host, port))]
    else:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [(info[0], info[4]) for info in found]
    error: OSError = OSError(f"{host}: no address")
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise error
