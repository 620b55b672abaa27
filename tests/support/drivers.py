"""The drivers behind one facade (:class:`Client`, made by ``conftest.make_client``) and
quick settings (:func:`fast`)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
from anyio.from_thread import BlockingPortal

from ec2imds._drivers.default import DefaultDriver
from ec2imds._drivers.default_async import AsyncDefaultDriver
from ec2imds._drivers.httpx import AsyncHttpxDriver, HttpxDriver
from ec2imds.endpoints import Endpoint
from ec2imds.settings import Settings
from ec2imds.tokens import MemoryTokenStore, Token, TokenStore

T = TypeVar("T")


class Client:
    """One face for every driver, so a test is written once and run in each mode:
    ``sync`` (httpx), ``async`` (httpx, on an event loop in a helper thread: an anyio
    portal), ``stdlib`` (the lean ``_http11`` driver: the command line's, and ``IMDS``'s
    default) and ``aio`` (its asyncio twin, ``AsyncIMDS``'s default, on the portal).
    """

    def __init__(
        self,
        mode: str,
        settings: Settings,
        store: TokenStore | None,
        portal: BlockingPortal,
        mock: httpx.MockTransport | None = None,
    ) -> None:
        self.mode = mode
        self._portal = portal
        self.sync: HttpxDriver | None = None
        self.aio: AsyncHttpxDriver | AsyncDefaultDriver | None = None
        self.stdlib: DefaultDriver | None = None
        if mode == "sync":
            self.sync = HttpxDriver(settings, store=store, http_transport=mock, seed=1)
        elif mode == "async":
            self.aio = AsyncHttpxDriver(settings, store=store, http_transport=mock, seed=1)
        elif mode == "aio":
            assert mock is None, "the lean asyncio driver has no mock transport"
            self.aio = AsyncDefaultDriver(settings, store=store, seed=1)
        else:
            assert mock is None, "the stdlib driver has no mock transport"
            self.stdlib = DefaultDriver(
                settings, store if store is not None else MemoryTokenStore()
            )

    @property
    def driver(self) -> HttpxDriver | AsyncHttpxDriver | AsyncDefaultDriver | DefaultDriver:
        found = self.sync or self.aio or self.stdlib
        assert found is not None
        return found

    def _call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        result: T = self._portal.call(fn)
        return result

    def get(self, path: str) -> bytes | None:
        if self.sync is not None:
            return self.sync.get(path)
        if self.stdlib is not None:
            return self.stdlib.get(path)
        aio = self.aio
        assert aio is not None
        return self._call(lambda: aio.get(path))

    def token(self) -> Token:
        if self.sync is not None:
            return self.sync.token()
        if self.stdlib is not None:
            return self.stdlib.token()
        aio = self.aio
        assert aio is not None
        return self._call(aio.token)

    @property
    def token_puts(self) -> int:
        return self.driver.token_puts

    def close(self) -> None:
        if self.sync is not None:
            self.sync.close()
        elif self.stdlib is not None:
            self.stdlib.close()
        elif self.aio is not None:
            self._call(self.aio.aclose)


ClientFactory = Callable[..., Client]


def fast(*endpoints: Endpoint, **kw: Any) -> Settings:
    """Settings for tests: quick backoff so retries cost milliseconds."""
    kw.setdefault("backoff_base", 0.001)
    kw.setdefault("backoff_cap", 0.01)
    return Settings.resolve(endpoints=list(endpoints), env={}, **kw)
