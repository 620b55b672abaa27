"""The asyncio side of the drivers: what every async driver shares, and the lean one.

:class:`AsyncDriver` is the asyncio twin of :class:`ec2imds._driver.SyncDriver`: it runs
the generators of :mod:`ec2imds._protocol` (token flow, retries, status mapping: written
once) with asyncio locks and sleeps, and races the endpoints; a driver only says how one
request is sent (:meth:`AsyncDriver._send`). :class:`AsyncOneShot`, the default of
:class:`~ec2imds.client.AsyncIMDS`, sends it over a non-blocking socket with the parser
of :mod:`ec2imds._http11` (the same limits, no proxy, no redirect, the body cap), one
connection per request in flight, kept alive when the server allows it;
:class:`ec2imds.transport.AsyncTransport` sends it over httpx.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, Self, TypeVar

from ec2imds._driver import DriverBase
from ec2imds._http11 import (
    Answer as HTTPAnswer,
)
from ec2imds._http11 import (
    BodyTooLarge,
    ProtocolError,
    Reader,
    ip_family,
    request_bytes,
)
from ec2imds._protocol import (
    ACQUIRE,
    RELEASE,
    Answer,
    Failure,
    Request,
    Response,
    Sleep,
    Step,
    exchange,
    token_flow,
)
from ec2imds.endpoints import DEFAULT_PORT, Endpoint, arace
from ec2imds.errors import IMDSError, IMDSUnavailable
from ec2imds.settings import Settings
from ec2imds.tokens import Token, TokenStore

__all__ = ["AsyncDriver", "AsyncOneShot"]

log = logging.getLogger("ec2imds")
T = TypeVar("T")


class AsyncDriver(DriverBase):
    """The asyncio driver: requests, single-flight tokens per endpoint, the race."""

    def __init__(
        self, settings: Settings | None, store: TokenStore | None, seed: int | None
    ) -> None:
        super().__init__(settings, store, seed)
        self._locks: dict[Endpoint, asyncio.Lock] = {}
        self._race_lock: asyncio.Lock | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        raise NotImplementedError

    async def get(self, path: str) -> bytes | None:
        """The body at ``path`` (relative to ``/latest/`` or absolute), None on 404."""
        response = await self.request("GET", path)
        return None if response.status == 404 else response.body

    async def request(self, method: str, path: str) -> Response:
        """Send ``method path`` with a token; a 200 or 404 :class:`Response`, or raises."""
        self._check_enabled()
        full = self._path(path)
        return await self._with_endpoint(
            lambda ep: self._run(ep, exchange(self._sessions[ep], method, full, self._rng))
        )

    async def token(self) -> Token:
        """A usable session token (a PUT only when none is cached)."""
        self._check_enabled()
        return await self._with_endpoint(
            lambda ep: self._run(ep, token_flow(self._sessions[ep], self._rng))
        )

    async def _with_endpoint(self, call: Callable[[Endpoint], Awaitable[T]]) -> T:
        chosen = self._chosen
        if chosen is not None:
            try:
                return await call(chosen)
            except IMDSUnavailable:
                if len(self.settings.endpoints) == 1:
                    raise
                log.info("endpoint unreachable; racing the endpoints again")
                self._chosen = None
        return await self._race(call)

    async def _race(self, call: Callable[[Endpoint], Awaitable[T]]) -> T:
        if self._race_lock is None:
            self._race_lock = asyncio.Lock()
        async with self._race_lock:
            if self._chosen is not None:
                return await call(self._chosen)
            self._chosen, outcome = await arace(
                self.settings.endpoints, call, self.settings.race_delay
            )
        if isinstance(outcome, IMDSError):
            raise outcome
        return outcome

    async def _run(self, ep: Endpoint, flow: Generator[Step, Answer, T]) -> T:
        lock = self._locks.get(ep)
        if lock is None:
            lock = self._locks[ep] = asyncio.Lock()
        held = False
        try:
            step = next(flow)
            while True:
                if step is ACQUIRE:
                    await lock.acquire()
                    held = True
                    step = flow.send(None)
                elif step is RELEASE:
                    lock.release()
                    held = False
                    step = flow.send(None)
                elif isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    assert isinstance(step, Request)
                    step = flow.send(await self._send(ep, step))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            if held:
                lock.release()
            flow.close()

    async def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        """Send one request to ``ep``; a transport failure is returned, never raised."""
        raise NotImplementedError


class _Conn(Reader):
    """One non-blocking TCP connection, read through :class:`~ec2imds._http11.Reader`."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        #: Bytes of the current answer arrived (a deadline then cut a trickle short).
        self.received = False

    async def request(
        self, loop: asyncio.AbstractEventLoop, head: bytes, method: str, limit: int
    ) -> HTTPAnswer:
        self.received = bool(self._buffer)
        await loop.sock_sendall(self.sock, head)
        reader = self.response(method, limit)
        try:
            next(reader)
            while True:
                data = await loop.sock_recv(self.sock, 65536)
                if data:
                    self.received = True
                reader.send(data)
        except StopIteration as stop:
            answer: HTTPAnswer = stop.value
            return answer
        finally:
            reader.close()


async def _connect(loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
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


class AsyncOneShot(AsyncDriver):
    """GETs with a token over non-blocking sockets and :mod:`ec2imds._http11`'s parser.

    Every request is bounded by ``Settings.timeout`` twice over: to connect, then to
    send it and receive the whole answer (``asyncio.timeout``: the per-attempt deadline,
    so an answer that trickles fails as one that never came), so an attempt never takes
    more than twice the timeout. At most ``Settings.concurrency``
    requests are in flight, however many tasks ask.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: TokenStore | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(settings, store, seed)
        self._idle: dict[Endpoint, list[_Conn]] = {ep: [] for ep in self.settings.endpoints}
        from ec2imds import __version__

        self._agent = f"ec2imds/{__version__}"
        #: TCP connections opened so far (a count, for tests and benchmarks).
        self.connections = 0
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    async def aclose(self) -> None:
        for conns in self._idle.values():
            while conns:
                conns.pop().sock.close()

    async def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:  # one per event loop
            self._slots = (loop, asyncio.Semaphore(self.settings.concurrency))
        async with self._slots[1]:
            started = time.perf_counter()
            return self._logged(request, await self._exchange(ep, request), started)

    async def _exchange(self, ep: Endpoint, request: Request) -> Response | Failure:
        host, port = ep[0], ep[1] or DEFAULT_PORT
        try:
            head = request_bytes(
                request.method, request.path, host, port, self._agent, dict(request.headers)
            )
        except ProtocolError as exc:
            return Failure("protocol", str(exc))
        loop = asyncio.get_running_loop()
        timeout = self.settings.timeout
        idle = self._idle[ep]
        conn = idle.pop() if idle else None
        if conn is None:
            try:
                async with asyncio.timeout(timeout):
                    sock = await _connect(loop, host, port)
            except TimeoutError as exc:
                return Failure("connect_timeout", str(exc) or "timed out")
            except OSError as exc:
                return Failure("connect", exc.strerror or str(exc))
            self.connections += 1
            conn = _Conn(sock)
        try:
            async with asyncio.timeout(timeout):
                status, headers, body = await conn.request(
                    loop, head, request.method, self.settings.max_body
                )
        except BodyTooLarge as exc:
            conn.sock.close()
            return Failure("too_large", f"{request.path}: {exc}")
        except TimeoutError as exc:
            conn.sock.close()
            if conn.received:  # the answer began: a trickle, cut at the deadline
                return self._late()
            return Failure("timeout", str(exc) or "timed out")
        except ProtocolError as exc:
            conn.sock.close()
            return Failure("protocol", str(exc))
        except OSError as exc:
            # Dropped or reset (IncompleteBody is a ConnectionError): a retry reconnects.
            conn.sock.close()
            return Failure("read", str(exc) or type(exc).__name__)
        except BaseException:  # cancelled: the connection is in an unknown state
            conn.sock.close()
            raise
        if conn.reusable:
            idle.append(conn)
        else:
            conn.sock.close()
        return Response(status, body, headers)
