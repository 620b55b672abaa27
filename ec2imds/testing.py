"""Test helpers for code that talks to IMDS: a pytest fixture and an in-process fake.

Enable the fixtures in your tests with ``pytest_plugins = ["ec2imds.testing"]``:

* ``imds_simulator``: a started :class:`~ec2imds.simulator.IMDSSimulator` on loopback,
  stopped after the test.
* ``fake_imds``: a :class:`FakeIMDS` (no sockets).
* ``imds_tree``: the tree both serve; ``None`` (the default) is the built-in instance.
  Override it in your own ``conftest.py`` or test module to serve another instance.

:class:`FakeIMDS` holds the simulator's own core behind an :class:`httpx.MockTransport`,
so sync and async httpx clients see exactly the simulator's answers, faults included::

    fake = FakeIMDS({"meta-data": {"instance-id": "i-0123"}})
    client = httpx.Client(transport=fake.transport, base_url=fake.url)
    fake.faults.burst(503, 2)

The simulator signs its identity document with TEST key pairs (published with the
package: they prove nothing). :data:`TEST_CERTIFICATES` verifies those signatures, so
attestation code can be tested off EC2::

    verify_identity(document, rsa2048, certificate=TEST_CERTIFICATES["rsa2048"])
    imds.verified_identity(certificate=TEST_CERTIFICATES)

and :func:`sign_identity_document` signs a document of your own the same way (needs
``cryptography``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from ec2imds.simulator.controls import SimulatorControls
from ec2imds.simulator.identity import certificates
from ec2imds.simulator.identity import sign_document as sign_identity_document
from ec2imds.simulator.protocol import CoreOptions, SimResponse, SimulatorCore
from ec2imds.simulator.server import IMDSSimulator
from ec2imds.simulator.tree import TreeLike

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "TEST_CERTIFICATES",
    "TEST_CERTIFICATE_PKCS7",
    "TEST_CERTIFICATE_RSA2048",
    "TEST_CERTIFICATE_SIGNATURE",
    "FakeIMDS",
    "sign_identity_document",
]

#: The certificates (PEM bytes) of the simulator's TEST identity keys, by signature kind
#: (``rsa2048``, ``pkcs7``, ``signature``): pass them as ``certificate=`` to verify what
#: the simulator serves. TEST ONLY: never trust them outside tests.
TEST_CERTIFICATES: Mapping[str, bytes] = MappingProxyType(certificates())
TEST_CERTIFICATE_RSA2048 = TEST_CERTIFICATES["rsa2048"]
TEST_CERTIFICATE_PKCS7 = TEST_CERTIFICATES["pkcs7"]
TEST_CERTIFICATE_SIGNATURE = TEST_CERTIFICATES["signature"]


class _Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that can trickle (``delay`` before each chunk) and break
    (``error`` raised after the chunks)."""

    def __init__(self, chunks: list[bytes], delay: float, error: Exception | None) -> None:
        self._chunks = chunks
        self._delay = delay
        self._error = error

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if self._delay > 0.0:
                time.sleep(self._delay)
            yield chunk
        if self._error is not None:
            raise self._error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            if self._delay > 0.0:
                await anyio.sleep(self._delay)
            yield chunk
        if self._error is not None:
            raise self._error


class _FakeTransport(httpx.MockTransport):
    """Routes every request to a simulator's ``handle``; works for sync and async clients."""

    def __init__(self, sim: SimulatorControls) -> None:
        super().__init__(self._handle_sync)
        self._sim = sim

    def _ask(self, request: httpx.Request) -> SimResponse:
        return self._sim.handle(
            request.method, request.url.raw_path.decode("ascii"), dict(request.headers.items())
        )

    def _handle_sync(self, request: httpx.Request) -> httpx.Response:
        resp = self._ask(request)
        if resp.delay > 0.0:
            time.sleep(resp.delay)
        return _to_httpx(request, resp)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        resp = self._ask(request)
        if resp.delay > 0.0:
            await anyio.sleep(resp.delay)
        return _to_httpx(request, resp)


def _to_httpx(request: httpx.Request, resp: SimResponse) -> httpx.Response:
    """Carry out the core's answer, raising what httpx raises for the socket faults."""
    if resp.hang:
        # A real client would wait for its read timeout; the fake gives up at once.
        raise httpx.ReadTimeout("timed out (simulated hang)", request=request)
    if resp.drop:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    if resp.reset_after is not None:
        error = httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        stream = _Body([resp.body[: resp.reset_after]], 0.0, error)
        return httpx.Response(resp.status, headers=resp.headers, stream=stream, request=request)
    if resp.chunk_delay > 0.0:
        stream = _Body(resp.chunks(), resp.chunk_delay, None)
        return httpx.Response(resp.status, headers=resp.headers, stream=stream, request=request)
    return httpx.Response(resp.status, headers=resp.headers, content=resp.body, request=request)


class FakeIMDS(SimulatorControls):
    """The simulator without sockets: a :class:`~ec2imds.simulator.SimulatorCore` (its
    :attr:`core`) that answers through an :class:`httpx.MockTransport`.

    Same arguments, ``stats``, ``faults``, ``set``/``delete``/``schedule`` and ``inject_*``
    as :class:`~ec2imds.simulator.IMDSSimulator` (both offer the core's controls:
    :class:`~ec2imds.simulator.controls.SimulatorControls`).  Socket faults surface as the httpx
    errors a real connection would give: a drop as :class:`httpx.RemoteProtocolError`, a
    mid-body reset as :class:`httpx.ReadError` while reading the body, a hang as
    :class:`httpx.ReadTimeout` (raised at once, without waiting).  ``stats.connections``
    stays 0.  ``clock`` replaces :func:`time.monotonic`, so token expiry and scheduled
    changes can be tested without sleeping.
    """

    url = "http://169.254.169.254"

    def __init__(self, tree: TreeLike | None = None, **options: Unpack[CoreOptions]) -> None:
        #: The simulator without sockets: what every request is handed to.
        self.core = SimulatorCore(tree, **options)

    @cached_property
    def transport(self) -> httpx.MockTransport:
        """The transport to give an ``httpx.Client`` or ``httpx.AsyncClient``."""
        return _FakeTransport(self)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` on this fake (``base_url`` is the IMDS address)."""
        kwargs.setdefault("base_url", self.url)
        return httpx.Client(transport=self.transport, **kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` on this fake (``base_url`` is the IMDS address)."""
        kwargs.setdefault("base_url", self.url)
        return httpx.AsyncClient(transport=self.transport, **kwargs)


try:
    import pytest
except ImportError:  # FakeIMDS and the simulator work without pytest; the fixtures need it
    pass
else:
    __all__ += ["fake_imds", "imds_simulator", "imds_tree"]

    @pytest.fixture
    def imds_tree() -> TreeLike | None:
        """The tree ``imds_simulator`` and ``fake_imds`` serve; override it to change it
        (``None``: the built-in default instance)."""
        return None

    @pytest.fixture
    def imds_simulator(imds_tree: TreeLike | None) -> Iterator[IMDSSimulator]:
        """A started :class:`IMDSSimulator` on 127.0.0.1 (any free port), stopped afterwards."""
        with IMDSSimulator(imds_tree) as sim:
            yield sim

    @pytest.fixture
    def fake_imds(imds_tree: TreeLike | None) -> FakeIMDS:
        """A :class:`FakeIMDS` serving ``imds_tree``."""
        return FakeIMDS(imds_tree)
