"""The asyncio driver: :class:`AsyncDriver`.

The asyncio twin of :mod:`ec2imds._drivers.sync`: it runs the flows of
:mod:`ec2imds._protocol` (token flow, retries, status mapping: written once) with the
asyncio runner (:func:`ec2imds._flow.arun`) and an asyncio lock per endpoint, the
endpoint race too, its attempts as tasks; a concrete driver only says how one request is
sent (:meth:`AsyncDriver._send`): over non-blocking sockets
(:class:`~ec2imds._drivers.default_async.AsyncDefaultDriver`) or over httpx
(:class:`~ec2imds._drivers.httpx.AsyncHttpxDriver`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, TypeVar

from ec2imds._closing import AsyncClosing
from ec2imds._drivers.base import DriverBase, _no_ask
from ec2imds._flow import IO, Flow, arun
from ec2imds._protocol import Failure, Request, Response, exchange, token_flow
from ec2imds.endpoints import Endpoint
from ec2imds.errors import IMDSUnavailable
from ec2imds.tokens import Token

if TYPE_CHECKING:
    pass

__all__ = ["AsyncDriver", "timeout"]

T = TypeVar("T")

if sys.version_info >= (3, 11):
    from asyncio import timeout
else:

    @contextlib.asynccontextmanager
    async def timeout(delay: float) -> AsyncIterator[None]:
        """``asyncio.timeout(delay)`` before Python 3.11, which added it: the block is
        cancelled after ``delay`` seconds, and that cancellation leaves it as a
        ``TimeoutError`` (the builtin one, as 3.11's; ``asyncio.TimeoutError`` is another
        class before 3.11). The timer can only fire while the task waits, so inside the
        block: a cancellation it causes is always raised there."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("timeout() should be used inside a task")
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        handle = asyncio.get_running_loop().call_later(delay, expire)
        try:
            yield
        except asyncio.CancelledError as exc:
            if expired:
                raise TimeoutError from exc
            raise
        finally:
            handle.cancel()


class AsyncDriver(DriverBase, AsyncClosing):
    """The asyncio driver: requests, single-flight tokens per endpoint, the race."""

    def _opened(self) -> None:
        # Made on first use, on the event loop that uses them (Python 3.9's bind to the
        # loop of the thread that makes them).
        self._locks: dict[Endpoint, asyncio.Lock] = {}
        self._race_lock: asyncio.Lock | None = None

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
            lambda ep: exchange(self._sessions[ep], method, full, self._rng)
        )

    async def token(self) -> Token:
        """A usable session token (a PUT only when none is cached)."""
        self._check_enabled()
        return await self._with_endpoint(lambda ep: token_flow(self._sessions[ep], self._rng))

    async def _with_endpoint(self, flow: Callable[[Endpoint], Flow[T]]) -> T:
        """Run ``flow`` on the chosen endpoint, or race the endpoints to choose one."""
        chosen = failed = self._chosen
        if chosen is not None:
            try:
                return await arun(flow(chosen), self._io(chosen))
            except IMDSUnavailable:
                if not self._race_again():
                    raise
        if self._race_lock is None:
            self._race_lock = asyncio.Lock()
        async with self._race_lock:
            if self._chosen is not None:  # another task decided meanwhile
                return await arun(flow(self._chosen), self._io(self._chosen))
            return await arun(self._race(flow, failed), IO(_no_ask))

    def _io(self, ep: Endpoint) -> IO:
        lock = self._locks.get(ep)
        if lock is None:
            lock = self._locks[ep] = asyncio.Lock()
        return IO(lambda request: self._send(ep, request), lock)

    async def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        """Send one request to ``ep``; a transport failure is returned, never raised."""
        raise NotImplementedError
