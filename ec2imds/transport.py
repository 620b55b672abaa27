"""httpx drivers for the IMDSv2 exchange: :class:`Transport` (sync) and :class:`AsyncTransport`.

Both run the generators of :mod:`ec2imds._protocol`, so the token flow and the retry
policy exist once. Both build their httpx client the same way: proxies from the
environment ignored (``trust_env=False``), redirects not followed, keep-alive with a
pool bounded by ``Settings.concurrency``, connect and read timeouts of
``Settings.timeout``. With more than one endpoint, the first request races them
(RFC 8305: IPv6 first, the others ``race_delay`` later); the first endpoint that
answers is kept for the client's life, and raced again if it later becomes unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Self, TypeVar

import httpx

from ec2imds._driver import DriverBase, SyncDriver
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
from ec2imds.endpoints import Endpoint, arace
from ec2imds.errors import IMDSError, IMDSUnavailable
from ec2imds.settings import Settings
from ec2imds.tokens import Token, TokenStore

__all__ = ["AsyncTransport", "Transport"]

log = logging.getLogger("ec2imds")
T = TypeVar("T")

_CHUNK = 65536


def _http_client_kwargs(settings: Settings) -> dict[str, object]:
    return {
        "trust_env": False,
        "follow_redirects": False,
        # IMDS is plain HTTP and every URL ec2imds builds is http:// (settings refuse
        # anything else), so TLS is never used: skip loading a certificate store, which
        # costs ~25 ms per client.
        "verify": False,
        "timeout": httpx.Timeout(
            connect=settings.timeout, read=settings.timeout, write=settings.timeout, pool=None
        ),
        "limits": httpx.Limits(
            max_connections=settings.concurrency,
            max_keepalive_connections=settings.concurrency,
        ),
    }


def _failure(exc: httpx.HTTPError) -> Failure:
    # Messages of httpx exceptions never include our headers, so they are safe to keep.
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return Failure("connect_timeout", detail)
    if isinstance(exc, httpx.ConnectError):
        return Failure("connect", detail)
    if isinstance(exc, httpx.TimeoutException):
        return Failure("timeout", detail)
    if isinstance(exc, httpx.TransportError) and not isinstance(
        exc, httpx.UnsupportedProtocol | httpx.ProxyError
    ):
        return Failure("read", detail)
    return Failure("protocol", detail)


class Transport(SyncDriver):
    """A thread-safe sync IMDSv2 client over one ``httpx.Client``.

    >>> with Transport(Settings.resolve(endpoints="127.0.0.1:1338")) as t:  # doctest: +SKIP
    ...     t.get("meta-data/instance-id")
    b'i-0123456789abcdef0'
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: TokenStore | None = None,
        http_transport: httpx.BaseTransport | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(settings, store, seed)
        self._client = httpx.Client(
            transport=http_transport,
            **_http_client_kwargs(self.settings),  # type: ignore[arg-type]
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        started = time.perf_counter()
        try:
            with self._client.stream(
                request.method, self._bases[ep] + request.path, headers=list(request.headers)
            ) as response:
                too_big = self._too_large(response.headers.get("content-length"), request)
                if too_big is not None:
                    return too_big
                body = bytearray()
                for chunk in response.iter_raw(_CHUNK):
                    body += chunk
                    if len(body) > self.settings.max_body:
                        return Failure("too_large", request.path)
        except httpx.HTTPError as exc:
            return self._logged(request, _failure(exc), started)
        return self._logged(
            request, Response(response.status_code, bytes(body), dict(response.headers)), started
        )


class AsyncTransport(DriverBase):
    """The asyncio twin of :class:`Transport`, over one ``httpx.AsyncClient``."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: TokenStore | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(settings, store, seed)
        self._client = httpx.AsyncClient(
            transport=http_transport,
            **_http_client_kwargs(self.settings),  # type: ignore[arg-type]
        )
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
        await self._client.aclose()

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
        started = time.perf_counter()
        try:
            async with self._client.stream(
                request.method, self._bases[ep] + request.path, headers=list(request.headers)
            ) as response:
                too_big = self._too_large(response.headers.get("content-length"), request)
                if too_big is not None:
                    return too_big
                body = bytearray()
                async for chunk in response.aiter_raw(_CHUNK):
                    body += chunk
                    if len(body) > self.settings.max_body:
                        return Failure("too_large", request.path)
        except httpx.HTTPError as exc:
            return self._logged(request, _failure(exc), started)
        return self._logged(
            request, Response(response.status_code, bytes(body), dict(response.headers)), started
        )
