"""httpx drivers for the IMDSv2 exchange: :class:`Transport` (sync) and :class:`AsyncTransport`.

Both run the generators of :mod:`ec2imds._protocol`, so the token flow and the retry
policy exist once. Both talk to httpx's transport layer (``httpx.HTTPTransport``,
``httpx.AsyncHTTPTransport``, or one given for tests) rather than an ``httpx.Client``:
the client's redirects, cookies, auth, proxy lookup and URL merging are all things IMDS
must not have, and skipping them halves httpx's cost per request. So: no proxy (none is
configured, the environment is never read), no redirect followed, keep-alive with a pool
bounded by ``Settings.concurrency``, connect and read timeouts of ``Settings.timeout`` on
every request. With more than one endpoint, the first request races them
(RFC 8305: IPv6 first, the others ``race_delay`` later); the first endpoint that
answers is kept for the client's life, and raced again if it later becomes unreachable.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from ec2imds import __version__
from ec2imds._aio import AsyncDriver
from ec2imds._driver import SyncDriver
from ec2imds._protocol import Failure, Request, Response
from ec2imds.endpoints import Endpoint
from ec2imds.settings import Settings
from ec2imds.tokens import TokenStore

__all__ = ["AsyncTransport", "Transport"]

log = logging.getLogger("ec2imds")
T = TypeVar("T")

_CHUNK = 65536


def _pool_kwargs(settings: Settings) -> dict[str, Any]:
    return {
        # IMDS is plain HTTP and every URL ec2imds builds is http:// (settings refuse
        # anything else), so TLS is never used: skip loading a certificate store, which
        # costs ~25 ms per client.
        "verify": False,
        "limits": httpx.Limits(
            max_connections=settings.concurrency,
            max_keepalive_connections=settings.concurrency,
        ),
    }


def _extensions(settings: Settings) -> dict[str, Any]:
    t = settings.timeout
    return {"timeout": {"connect": t, "read": t, "write": t, "pool": None}}


#: Sent with every request (the transport layer adds only ``Host``).
_HEADERS = (("User-Agent", f"ec2imds/{__version__}"), ("Accept", "*/*"))


def _outgoing(base: str, request: Request, extensions: dict[str, Any]) -> httpx.Request:
    return httpx.Request(
        request.method,
        base + request.path,
        headers=[*_HEADERS, *request.headers],
        extensions=extensions,
    )


def _content(response: httpx.Response) -> bytes:
    """The body a transport handed over already read (``httpx.MockTransport`` handlers
    build their responses with their content, so there is no stream left to read)."""
    return response.content if response.is_stream_consumed else b""


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
    """A thread-safe sync IMDSv2 client over one ``httpx.HTTPTransport`` (one pool).

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
        self._http = (
            http_transport
            if http_transport is not None
            else httpx.HTTPTransport(**_pool_kwargs(self.settings))
        )
        self._extensions = _extensions(self.settings)

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
        self._http.close()

    def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        started = time.perf_counter()
        outgoing = _outgoing(self._bases[ep], request, self._extensions)
        try:
            response = self._http.handle_request(outgoing)
            try:
                too_big = self._too_large(response.headers.get("content-length"), request)
                if too_big is not None:
                    return too_big
                body = bytearray(_content(response))
                if not response.is_stream_consumed:
                    for chunk in response.iter_raw(_CHUNK):
                        body += chunk
                        if len(body) > self.settings.max_body:
                            return Failure("too_large", request.path)
                if len(body) > self.settings.max_body:
                    return Failure("too_large", request.path)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            return self._logged(request, _failure(exc), started)
        return self._logged(
            request, Response(response.status_code, bytes(body), dict(response.headers)), started
        )


class AsyncTransport(AsyncDriver):
    """The asyncio twin of :class:`Transport`, over one ``httpx.AsyncHTTPTransport``."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: TokenStore | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(settings, store, seed)
        self._http = (
            http_transport
            if http_transport is not None
            else httpx.AsyncHTTPTransport(**_pool_kwargs(self.settings))
        )
        self._extensions = _extensions(self.settings)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        started = time.perf_counter()
        outgoing = _outgoing(self._bases[ep], request, self._extensions)
        try:
            response = await self._http.handle_async_request(outgoing)
            try:
                too_big = self._too_large(response.headers.get("content-length"), request)
                if too_big is not None:
                    return too_big
                body = bytearray(_content(response))
                if not response.is_stream_consumed:
                    async for chunk in response.aiter_raw(_CHUNK):
                        body += chunk
                        if len(body) > self.settings.max_body:
                            return Failure("too_large", request.path)
                if len(body) > self.settings.max_body:
                    return Failure("too_large", request.path)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            return self._logged(request, _failure(exc), started)
        return self._logged(
            request, Response(response.status_code, bytes(body), dict(response.headers)), started
        )
