"""The asyncio default driver: :class:`AsyncDefaultDriver`, :class:`~ec2imds.client.AsyncIMDS`'s.

It sends each request of the protocol over a non-blocking socket with the parser of
:mod:`ec2imds._drivers.http11` (the same limits, no proxy, no redirect, the body cap),
one connection per request in flight, kept alive when the server allows it.
"""

from __future__ import annotations

import asyncio
import time

from ec2imds._drivers.aio import AsyncDriver, timeout
from ec2imds._drivers.default import USER_AGENT
from ec2imds._drivers.http11 import (
    AsyncConnection,
    BodyTooLarge,
    ProtocolError,
    connect_async,
    request_bytes,
)
from ec2imds._protocol import Failure, Request, Response
from ec2imds.endpoints import DEFAULT_PORT, Endpoint
from ec2imds.settings import Settings
from ec2imds.tokens import TokenStore

__all__ = ["AsyncDefaultDriver"]


class AsyncDefaultDriver(AsyncDriver):
    """GETs with a token over non-blocking sockets and :mod:`ec2imds._drivers.http11`'s parser.

    Every request is bounded by ``Settings.timeout`` twice over: to connect, then to
    send it and receive the whole answer (``asyncio.timeout``, :func:`~ec2imds._drivers.aio.timeout`
    before 3.11: the per-attempt deadline, so an answer that trickles fails as one that
    never came), so an attempt never takes more than twice the timeout. At most
    ``Settings.concurrency`` requests are in flight, however many tasks ask.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: TokenStore | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(settings, store, seed)
        self._idle: dict[Endpoint, list[AsyncConnection]] = {
            ep: [] for ep in self.settings.endpoints
        }
        self._agent = USER_AGENT
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
        seconds = self.settings.timeout
        idle = self._idle[ep]
        conn = idle.pop() if idle else None
        if conn is None:
            try:
                async with timeout(seconds):
                    sock = await connect_async(loop, host, port)
            except TimeoutError as exc:
                return Failure("connect_timeout", str(exc) or "timed out")
            except OSError as exc:
                return Failure("connect", exc.strerror or str(exc))
            self.connections += 1
            conn = AsyncConnection(sock)
        try:
            async with timeout(seconds):
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
