"""The asyncio default driver: :class:`AsyncDefaultDriver`, :class:`~ec2imds.client.AsyncIMDS`'s.

It sends each request of the protocol over a non-blocking socket with the parser of
:mod:`ec2imds._drivers.http11` (the same limits, no proxy, no redirect, the body cap),
one connection per request in flight, kept alive when the server allows it.
"""

from __future__ import annotations

import asyncio
import time

from ec2imds._drivers.aio import AsyncDriver, timeout
from ec2imds._drivers.default import USER_AGENT, connect_failure, failure
from ec2imds._drivers.http11 import AsyncConnection, connect_async
from ec2imds._protocol import Failure, Request, Response
from ec2imds.endpoints import DEFAULT_PORT, Endpoint

__all__ = ["AsyncDefaultDriver"]


class AsyncDefaultDriver(AsyncDriver):
    """GETs with a token over non-blocking sockets and :mod:`ec2imds._drivers.http11`'s parser.

    Every request is bounded by ``Settings.timeout`` twice over: to connect, then to
    send it and receive the whole answer (``asyncio.timeout``, :func:`~ec2imds._drivers.aio.timeout`
    before 3.11: the per-attempt deadline, so an answer that trickles fails as one that
    never came), so an attempt never takes more than twice the timeout. At most
    ``Settings.concurrency`` requests are in flight, however many tasks ask.
    """

    def _opened(self) -> None:
        super()._opened()
        self._idle: dict[Endpoint, list[AsyncConnection]] = {
            ep: [] for ep in self.settings.endpoints
        }
        #: TCP connections opened so far (a count, for tests and benchmarks).
        self.connections = 0
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    async def aclose(self) -> None:
        for conns in self._idle.values():
            while conns:
                conns.pop().close()

    async def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:  # one per event loop
            self._slots = (loop, asyncio.Semaphore(self.settings.concurrency))
        async with self._slots[1]:
            started = time.perf_counter()
            return self._logged(request, await self._exchange(ep, request), started)

    async def _exchange(self, ep: Endpoint, request: Request) -> Response | Failure:
        host, port = ep[0], ep[1] or DEFAULT_PORT
        seconds = self.settings.timeout
        idle = self._idle[ep]
        conn = idle.pop() if idle else None
        if conn is None:
            try:
                async with timeout(seconds):
                    sock = await connect_async(host, port)
            except OSError as exc:  # TimeoutError too
                return connect_failure(exc)
            self.connections += 1
            conn = AsyncConnection(sock, host, port, USER_AGENT)
        try:
            async with timeout(seconds):
                status, headers, body = await conn.request(
                    request.method, request.path, dict(request.headers), self.settings.max_body
                )
        except BaseException as exc:
            conn.close()  # cancelled too: the connection is in an unknown state
            if not isinstance(exc, Exception):
                raise
            # A timeout once the answer began is a trickle, cut at the deadline.
            return failure(exc, request, self._late(), began=conn.received)
        if conn.reusable:
            idle.append(conn)
        else:
            conn.close()
        return Response(status, body, headers)
