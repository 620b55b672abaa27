"""Shared fixtures: the real-IMDS guard, and sync/async clients behind one facade."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import settings as hypothesis_settings

from ec2imds._drivers.default import DefaultDriver
from ec2imds._drivers.default_async import AsyncDefaultDriver
from ec2imds._drivers.httpx import AsyncHttpxDriver, HttpxDriver
from ec2imds.settings import Settings
from ec2imds.tokens import MemoryTokenStore, Token, TokenStore

# The real-IMDS guard: importing it makes any connection to, or name lookup of,
# 169.254.169.254 or fd00:ec2::254 fail loudly, for the whole test process. It is the
# module the command-line tests' subprocesses load as their sitecustomize.
from tests._guard.sitecustomize import RealIMDSAccess

T = TypeVar("T")

# Property tests are deterministic: the same examples on every run and in CI, so a
# failure is reproducible and a pass means the same thing each time.
hypothesis_settings.register_profile("ec2imds", derandomize=True, deadline=None)
hypothesis_settings.load_profile("ec2imds")

__all__ = ["RealIMDSAccess"]


@pytest.fixture(autouse=True)
def _clean_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start without the AWS_* IMDS variables or proxies of the machine running them."""
    for name in (
        "AWS_EC2_METADATA_DISABLED",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
        "AWS_METADATA_SERVICE_TIMEOUT",
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
    ):
        monkeypatch.delenv(name, raising=False)


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


@pytest.fixture(scope="session")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal("asyncio") as p:
        yield p


@pytest.fixture(params=["sync", "async", "stdlib", "aio"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(mode: str, portal: BlockingPortal) -> Iterator[ClientFactory]:
    """``make_client(settings, store=None, mock=None)``: a :class:`Client` in this mode."""
    made: list[Client] = []

    def factory(
        settings: Settings,
        store: TokenStore | None = None,
        mock: httpx.MockTransport | None = None,
    ) -> Client:
        client = Client(mode, settings, store, portal, mock)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the fault matrix's counts and the soak's figures, when they ran."""
    from tests._reliability import TALLY

    lines = TALLY.summary()
    if lines:
        terminalreporter.write_sep("=", "reliability (tests/test_faults.py, tests/test_soak.py)")
        for line in lines:
            terminalreporter.write_line(line)
