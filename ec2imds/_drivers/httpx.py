"""The httpx drivers: :class:`HttpxDriver` (sync) and :class:`AsyncHttpxDriver`, used when a
client is given an httpx transport (``http_transport=``).

Both run the flows of :mod:`ec2imds._protocol`, so the token flow and the retry policy
exist once, and read a body with one flow (:func:`_body`), so the cap and the deadline do.
Both talk to httpx's transport layer (``httpx.HTTPTransport``, ``httpx.AsyncHTTPTransport``,
or one given for tests) rather than an ``httpx.Client``: the client's redirects, cookies,
auth, proxy lookup and URL merging are all things IMDS must not have, and skipping them
halves httpx's cost per request. So: no proxy (none is configured, the environment is
never read), no redirect followed, keep-alive with a pool bounded by
``Settings.concurrency``, connect and read timeouts of ``Settings.timeout`` on every
request. With more than one endpoint, the first request races them (RFC 8305: the last
winner, else IPv4, first, the others ``race_delay`` later); the first endpoint that
answers is kept for the client's life, and raced again if it later becomes unreachable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, ClassVar, Final, Generic, TypeVar

import httpx

from ec2imds import __version__
from ec2imds._drivers.aio import AsyncDriver, timeout
from ec2imds._drivers.base import DriverBase
from ec2imds._drivers.sync import SyncDriver
from ec2imds._flow import IO, Flow, arun, run
from ec2imds._protocol import Failure, Request, Response
from ec2imds.endpoints import Endpoint
from ec2imds.settings import Settings
from ec2imds.tokens import TokenStore

__all__ = ["AsyncHttpxDriver", "HttpxDriver"]

log = logging.getLogger("ec2imds")
T = TypeVar("T")


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


def _sync_stream(response: httpx.Response) -> Iterable[bytes]:
    """The body as the transport layer gives it. Not ``response.iter_raw()``: that is
    the client's API, and it refuses a body that a transport already loaded into the
    response (``httpx.Response(content=...)``, as mock transports answer) with
    ``httpx.StreamConsumed``; the stream itself yields it whether loaded or not."""
    stream = response.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise httpx.StreamError("the transport answered with an async body")
    return stream


def _async_stream(response: httpx.Response) -> AsyncIterable[bytes]:
    """The async twin of :func:`_sync_stream`."""
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):
        raise httpx.StreamError("the transport answered with a sync body")
    return stream


def _complete(body: bytearray, declared: str | None) -> bool:
    """The body has all the bytes its ``Content-Length`` announced."""
    return declared is not None and declared.isdigit() and len(body) >= int(declared)


#: Ask: the next chunk of the body (``None`` after the last).
NEXT_CHUNK: Final = "next chunk"


def _body(
    driver: DriverBase, request: Request, response: httpx.Response, deadline: float
) -> Flow[Response | Failure]:
    """Read ``response``'s body, chunk by chunk (:data:`NEXT_CHUNK`), within the body cap
    and the request's deadline: the flow both httpx drivers run. The deadline is checked
    between chunks: httpcore reads the head with the read timeout only, and offers no
    hook to bound it as a whole."""
    declared = response.headers.get("content-length")
    too_big = driver._too_large(declared, request)
    if too_big is not None:
        return too_big
    body = bytearray()
    while True:
        chunk: bytes | None = yield NEXT_CHUNK
        if chunk is None:
            return Response(response.status_code, bytes(body), dict(response.headers))
        body += chunk
        if len(body) > driver.settings.max_body:
            return Failure("too_large", request.path)
        if time.perf_counter() > deadline and not _complete(body, declared):
            return driver._late()


def _close(response: httpx.Response) -> None:
    stream = response.stream
    if isinstance(stream, httpx.SyncByteStream):
        stream.close()


async def _aclose(response: httpx.Response) -> None:
    stream = response.stream
    if isinstance(stream, httpx.AsyncByteStream):
        await stream.aclose()


def _failure(exc: httpx.HTTPError | httpx.StreamError) -> Failure:
    # Messages of httpx exceptions never include our headers, so they are safe to keep.
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return Failure("connect_timeout", detail)
    if isinstance(exc, httpx.ConnectError):
        return Failure("connect", detail)
    if isinstance(exc, httpx.TimeoutException):
        return Failure("timeout", detail)
    if isinstance(exc, httpx.TransportError) and not isinstance(
        exc, (httpx.UnsupportedProtocol, httpx.ProxyError)
    ):
        return Failure("read", detail)
    return Failure("protocol", detail)


TT = TypeVar("TT", httpx.BaseTransport, httpx.AsyncBaseTransport)


class _Httpx(DriverBase, Generic[TT]):
    """What both httpx drivers hold: a transport (``http_transport``, or a new pool of
    the driver's ``transport`` class) and the timeouts every request carries."""

    transport: ClassVar[Callable[..., Any]]

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: TokenStore | None = None,
        http_transport: TT | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(settings, store, seed)
        self._http: TT = (
            http_transport
            if http_transport is not None
            else type(self).transport(**_pool_kwargs(self.settings))
        )
        self._extensions = _extensions(self.settings)


class HttpxDriver(_Httpx[httpx.BaseTransport], SyncDriver):
    """A thread-safe sync IMDSv2 client over one ``httpx.HTTPTransport`` (one pool).

    >>> with HttpxDriver(Settings.resolve(endpoints="127.0.0.1:1338")) as t:  # doctest: +SKIP
    ...     t.get("meta-data/instance-id")
    b'i-0123456789abcdef0'
    """

    transport = httpx.HTTPTransport

    def close(self) -> None:
        self._http.close()

    def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        started = time.perf_counter()
        return self._logged(request, self._exchange(ep, request, started), started)

    def _exchange(self, ep: Endpoint, request: Request, started: float) -> Response | Failure:
        outgoing = _outgoing(self._bases[ep], request, self._extensions)
        try:
            response = self._http.handle_request(outgoing)
            try:
                chunks = iter(_sync_stream(response))
                body = _body(self, request, response, started + self.settings.timeout)
                return run(body, IO(lambda _: next(chunks, None)))
            finally:
                _close(response)
        except (httpx.HTTPError, httpx.StreamError) as exc:
            return _failure(exc)


class AsyncHttpxDriver(_Httpx[httpx.AsyncBaseTransport], AsyncDriver):
    """The asyncio twin of :class:`HttpxDriver`, over one ``httpx.AsyncHTTPTransport``."""

    transport = httpx.AsyncHTTPTransport

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        started = time.perf_counter()
        return self._logged(request, await self._exchange(ep, request, started), started)

    async def _exchange(self, ep: Endpoint, request: Request, started: float) -> Response | Failure:
        # As the sync driver; and the whole exchange, head included, is cut off at twice
        # the timeout (later than httpx's own connect and read timeouts, which say better
        # what went wrong).
        deadline = started + self.settings.timeout
        outgoing = _outgoing(self._bases[ep], request, self._extensions)
        try:
            async with timeout(2 * self.settings.timeout):
                response = await self._http.handle_async_request(outgoing)
                try:
                    chunks = _async_stream(response).__aiter__()

                    async def next_chunk(_: object) -> bytes | None:
                        try:
                            return await chunks.__anext__()
                        except StopAsyncIteration:
                            return None

                    return await arun(_body(self, request, response, deadline), IO(next_chunk))
                finally:
                    await _aclose(response)
        except TimeoutError:
            return self._late()
        except (httpx.HTTPError, httpx.StreamError) as exc:
            return _failure(exc)
