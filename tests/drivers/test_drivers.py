"""The IMDSv2 transport against the embedded simulator, sync and async through one fixture."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ec2imds._drivers.httpx import AsyncHttpxDriver, HttpxDriver
from ec2imds.catalog import Node
from ec2imds.errors import (
    IMDSDisabled,
    IMDSError,
    IMDSHTTPError,
    IMDSTimeout,
    IMDSUnavailable,
    RedirectRefused,
    ResponseTooLarge,
    TokenError,
)
from ec2imds.settings import Settings
from ec2imds.simulator import IMDSSimulator
from ec2imds.tokens import CallbackTokenStore, MemoryTokenStore
from tests.helpers import (
    ClientFactory,
    Listener,
    RawServer,
    closed_endpoint,
    fast,
    http_answer,
)

TREE: dict[str, Node] = {
    "meta-data": {
        "instance-id": "i-0123456789abcdef0",
        "placement": {"region": "eu-west-1", "availability-zone": "eu-west-1a"},
        "big": "x" * (2 * 1024 * 1024),
    },
    "user-data": b"\x00\x01binary\xff",
}
IID = b"i-0123456789abcdef0"
IID_PATH = "/latest/meta-data/instance-id"


@pytest.fixture
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator(TREE, seed=7) as s:
        yield s


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


# -- token flow ---------------------------------------------------------------------------


def test_token_reuse_100_gets_1_put(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    for _ in range(100):
        assert client.get("meta-data/instance-id") == IID
    assert sim.stats.puts == 1
    assert sim.stats.requests[("GET", IID_PATH)] == 100
    assert client.token_puts == 1
    assert sim.stats.connections == 101  # EC2 closes each connection after its answer


def test_connections_are_reused_when_the_server_keeps_them(make_client: ClientFactory) -> None:
    with IMDSSimulator(TREE, seed=7, keep_alive=True) as sim:
        client = make_client(fast(sim.endpoint))
        for _ in range(20):
            assert client.get("meta-data/instance-id") == IID
        assert sim.stats.connections == 1


def test_404_is_none_and_not_retried(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    assert client.get("meta-data/spot/instance-action") is None
    assert sim.stats.requests[("GET", "/latest/meta-data/spot/instance-action")] == 1


def test_bytes_are_exact_and_listing_is_raw(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    assert client.get("user-data") == b"\x00\x01binary\xff"
    assert client.get("meta-data/placement/") == b"region\navailability-zone"


@pytest.mark.slow
def test_refresh_before_expiry(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint, token_ttl=2))  # margin 0.2 s
    assert client.get("meta-data/instance-id") == IID
    time.sleep(1.85)
    assert client.get("meta-data/instance-id") == IID
    assert sim.stats.puts == 2  # refreshed early ...
    assert sim.stats.statuses[401] == 0  # ... so IMDS never rejected a token


def test_401_gets_a_new_token_and_retries_once(
    sim: IMDSSimulator, make_client: ClientFactory
) -> None:
    client = make_client(fast(sim.endpoint))
    assert client.get("meta-data/instance-id") == IID
    sim.faults.expire_tokens()
    assert client.get("meta-data/instance-id") == IID
    assert sim.stats.puts == 2
    assert sim.stats.statuses[401] == 1


def test_second_401_is_a_token_error(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    sim.faults.burst(401, 2, method="GET")
    with pytest.raises(TokenError, match="rejected a fresh token"):
        client.get("meta-data/instance-id")
    assert sim.stats.puts == 2


def test_single_flight_32_threads(sim: IMDSSimulator) -> None:
    sim.faults.latency = 0.05  # every request overlaps with the others
    with HttpxDriver(fast(sim.endpoint)) as transport, ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _: transport.get("meta-data/instance-id"), range(32)))
    assert results == [IID] * 32
    assert sim.stats.puts == 1


def test_single_flight_32_tasks(sim: IMDSSimulator) -> None:
    sim.faults.latency = 0.05

    async def main() -> list[bytes | None]:
        async with AsyncHttpxDriver(fast(sim.endpoint)) as transport:
            return await asyncio.gather(
                *(transport.get("meta-data/instance-id") for _ in range(32))
            )

    assert asyncio.run(main()) == [IID] * 32
    assert sim.stats.puts == 1


class _CountingLock:
    """An endpoint lock that says when ``expected`` callers have asked for it."""

    def __init__(self, expected: int) -> None:
        self._lock = threading.Lock()
        self._asked = 0
        self._count_lock = threading.Lock()
        self.all_queued = threading.Event()
        self.expected = expected

    def acquire(self) -> bool:
        with self._count_lock:
            self._asked += 1
            if self._asked >= self.expected:
                self.all_queued.set()
        return self._lock.acquire()

    def release(self) -> None:
        self._lock.release()


def test_terminal_put_failure_is_shared_by_queued_threads(
    sim: IMDSSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.faults.burst(403, 1, method="PUT")
    with HttpxDriver(fast(sim.endpoint)) as transport, ThreadPoolExecutor(16) as pool:
        # The PUT is answered once all 16 callers wait for the endpoint lock (not after a
        # time that a busy machine could outlast): each is queued behind the PUT.
        lock = _CountingLock(16)
        transport._locks[sim.endpoint] = lock  # type: ignore[assignment]
        handle = sim.handle

        def answer_when_all_queued(method: str, path: str, headers: Any) -> Any:
            if method == "PUT":
                assert lock.all_queued.wait(60), "the callers never queued"
            return handle(method, path, headers)

        monkeypatch.setattr(sim, "handle", answer_when_all_queued)
        futures = [pool.submit(transport.get, "meta-data/instance-id") for _ in range(16)]
        errors = [f.exception() for f in futures]
    assert all(isinstance(e, IMDSDisabled) for e in errors)
    assert sim.stats.puts == 1  # one PUT answered for all of them
    with HttpxDriver(fast(sim.endpoint)) as transport:
        assert transport.get("meta-data/instance-id") == IID  # a later caller asks again


def test_terminal_put_failure_is_shared_by_queued_tasks(sim: IMDSSimulator) -> None:
    sim.faults.latency = 0.05
    sim.faults.burst(403, 1, method="PUT")

    async def main() -> list[BaseException | bytes | None]:
        async with AsyncHttpxDriver(fast(sim.endpoint)) as transport:
            return await asyncio.gather(
                *(transport.get("meta-data/instance-id") for _ in range(16)),
                return_exceptions=True,
            )

    assert all(isinstance(r, IMDSDisabled) for r in asyncio.run(main()))
    assert sim.stats.puts == 1


def test_a_store_that_cannot_forget_does_not_cause_a_second_401(
    sim: IMDSSimulator, make_client: ClientFactory
) -> None:
    first = make_client(fast(sim.endpoint))
    stale = first.token()
    sim.faults.expire_tokens()  # IMDS forgets it; the callback keeps handing it back
    puts_before = sim.stats.puts
    store = CallbackTokenStore(on_load_token=lambda ep: (stale.value, stale.expiry))
    client = make_client(fast(sim.endpoint), store=store)
    assert client.get("meta-data/instance-id") == IID
    assert client.get("meta-data/instance-id") == IID
    assert sim.stats.statuses[401] == 1
    assert sim.stats.puts == puts_before + 1


def test_expire_token_forces_a_new_one(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    store = MemoryTokenStore()
    client = make_client(fast(sim.endpoint), store=store)
    old = client.token()
    client.driver.expire_token()
    new = client.token()
    assert new.value != old.value  # the stored copy of the old one is not reused
    assert sim.stats.puts == 2


# -- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429])
def test_retry_then_success(sim: IMDSSimulator, make_client: ClientFactory, status: int) -> None:
    client = make_client(fast(sim.endpoint))
    sim.faults.burst(status, 2, method="GET")
    assert client.get("meta-data/instance-id") == IID
    assert sim.stats.requests[("GET", IID_PATH)] == 3


@pytest.mark.parametrize("status", [500, 503, 429])
def test_burst_longer_than_budget_is_an_error(
    sim: IMDSSimulator, make_client: ClientFactory, status: int
) -> None:
    client = make_client(fast(sim.endpoint))
    sim.faults.burst(status, 3, method="GET")
    with pytest.raises(IMDSHTTPError) as info:
        client.get("meta-data/instance-id")
    assert (info.value.status, info.value.path) == (status, IID_PATH)
    assert sim.stats.requests[("GET", IID_PATH)] == 3


def test_token_put_retried_on_503(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    sim.faults.burst(503, 2, method="PUT")
    assert client.get("meta-data/instance-id") == IID
    assert sim.stats.puts == 3


def test_dropped_connection_is_retried(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    assert client.get("meta-data/instance-id") == IID
    sim.faults.drop_next(1, method="GET")
    assert client.get("meta-data/instance-id") == IID
    assert sim.stats.requests[("GET", IID_PATH)] == 3  # the first, the dropped one, the retry


def test_reset_mid_body_is_retried(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    sim.faults.reset_mid_body_next(1, method="GET")
    assert client.get("meta-data/instance-id") == IID


def test_403_on_get_is_not_retried(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    sim.faults.burst(403, 1, method="GET")
    with pytest.raises(IMDSHTTPError) as info:
        client.get("meta-data/instance-id")
    assert info.value.status == 403
    assert sim.stats.requests[("GET", IID_PATH)] == 1


def test_put_400_is_terminal(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    sim.faults.burst(400, 1, method="PUT")
    with pytest.raises(TokenError, match="400"):
        client.get("meta-data/instance-id")
    assert sim.stats.puts == 1
    assert sim.stats.gets == 0


def test_put_403_means_disabled(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    sim.faults.burst(403, 1, method="PUT")
    with pytest.raises(IMDSDisabled, match="turned off"):
        client.get("meta-data/instance-id")
    assert sim.stats.puts == 1


@pytest.mark.parametrize("status", [404, 405])
def test_put_404_405_means_no_imdsv2(
    sim: IMDSSimulator, make_client: ClientFactory, status: int
) -> None:
    client = make_client(fast(sim.endpoint))
    sim.faults.burst(status, 1, method="PUT")
    with pytest.raises(TokenError, match="IMDSv2 is not available"):
        client.get("meta-data/instance-id")
    assert sim.stats.puts == 1


# -- fail fast ----------------------------------------------------------------------------


def test_nothing_listening_fails_fast(make_client: ClientFactory) -> None:
    ep = closed_endpoint()
    client = make_client(fast(ep))
    started = time.monotonic()
    with pytest.raises(IMDSUnavailable, match="cannot reach IMDS"):
        client.get("meta-data/instance-id")
    assert time.monotonic() - started < 5  # refused: immediate, and not retried blindly


@pytest.mark.slow
def test_silent_endpoint_fails_in_about_a_second(make_client: ClientFactory) -> None:
    # A listener whose accept queue is full drops new SYNs: the connect never completes,
    # like an unroutable address, but on loopback.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    try:
        for _ in range(8):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(server.getsockname())
            fillers.append(f)
        client = make_client(fast(("127.0.0.1", server.getsockname()[1]), timeout=1.0))
        started = time.monotonic()
        with pytest.raises(IMDSUnavailable):
            client.get("meta-data/instance-id")
        elapsed = time.monotonic() - started
    finally:
        for f in fillers:
            f.close()
        server.close()
    assert 0.5 < elapsed < 5  # about the 1 s timeout, once: no retries, never a hang


def test_put_timeout_names_the_hop_limit(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    sim.faults.put_hang = True
    client = make_client(fast(sim.endpoint, timeout=0.5))
    with pytest.raises(IMDSTimeout, match="hop limit"):
        client.get("meta-data/instance-id")
    assert sim.stats.puts == 1  # not retried: waiting longer will not help


def test_too_large_body_is_an_error(sim: IMDSSimulator, make_client: ClientFactory) -> None:
    client = make_client(fast(sim.endpoint))
    with pytest.raises(ResponseTooLarge) as info:
        client.get("meta-data/big")
    assert info.value.limit == 1024 * 1024
    assert client.get("meta-data/instance-id") == IID  # the client is still usable


# -- settings from the environment ----------------------------------------------------------


def test_disabled_by_environment_sends_nothing(
    sim: IMDSSimulator, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", sim.url)
    client = make_client(Settings.resolve())
    with pytest.raises(IMDSDisabled, match="AWS_EC2_METADATA_DISABLED"):
        client.get("meta-data/instance-id")
    assert sim.stats.total == 0


def test_endpoint_and_attempts_from_environment(
    sim: IMDSSimulator, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", sim.url)
    monkeypatch.setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1")
    client = make_client(Settings.resolve())
    assert client.get("meta-data/instance-id") == IID
    sim.faults.burst(500, 1, method="GET")
    with pytest.raises(IMDSHTTPError):
        client.get("meta-data/instance-id")  # one attempt: no retry


def test_timeout_from_environment(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with IMDSSimulator(TREE) as s:
        s.faults.hang = True
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.url)
        monkeypatch.setenv("AWS_METADATA_SERVICE_TIMEOUT", "0.3")
        client = make_client(Settings.resolve())
        started = time.monotonic()
        with pytest.raises(IMDSTimeout):
            client.token()
        assert time.monotonic() - started < 3


# -- proxies and redirects -----------------------------------------------------------------


def test_proxy_variables_are_ignored(
    sim: IMDSSimulator,
    make_client: ClientFactory,
    listener: Listener,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = f"http://127.0.0.1:{listener.endpoint[1]}"
    for name in (
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = make_client(fast(sim.endpoint))
    assert client.get("meta-data/instance-id") == IID
    assert listener.accepted == 0


@pytest.mark.parametrize("status", [301, 302, 307])
def test_redirect_is_refused(
    sim: IMDSSimulator, make_client: ClientFactory, listener: Listener, status: int
) -> None:
    client = make_client(fast(sim.endpoint))
    client.token()
    target = f"http://127.0.0.1:{listener.endpoint[1]}/latest/meta-data/instance-id"
    sim.faults.redirect_next(1, status=status, location=target)
    with pytest.raises(RedirectRefused) as info:
        client.get("meta-data/instance-id")
    assert info.value.status == status
    assert listener.accepted == 0


# -- the endpoint race -----------------------------------------------------------------------


def test_race_picks_the_live_endpoint_when_the_other_is_closed(
    sim: IMDSSimulator, make_client: ClientFactory
) -> None:
    client = make_client(fast(closed_endpoint(), sim.endpoint))
    assert client.get("meta-data/instance-id") == IID
    assert client.get("meta-data/instance-id") == IID
    assert client.driver.endpoint == sim.endpoint
    assert sim.stats.puts == 1


def test_race_picks_the_live_endpoint_when_the_other_is_silent(
    sim: IMDSSimulator, make_client: ClientFactory
) -> None:
    with IMDSSimulator(TREE) as silent:
        silent.faults.hang = True
        client = make_client(fast(silent.endpoint, sim.endpoint, timeout=2.0))
        started = time.monotonic()
        assert client.get("meta-data/instance-id") == IID
        elapsed = time.monotonic() - started
    assert client.driver.endpoint == sim.endpoint
    assert elapsed < 1.5  # the live one answered without waiting for the silent one's timeout


def test_race_prefers_ipv4() -> None:
    """IPv4 leads whatever the configured order (the IPv6 endpoint is off by default)."""
    with IMDSSimulator(TREE, host="::1") as v6, IMDSSimulator(TREE) as v4:
        settings = fast(v6.endpoint, v4.endpoint, race_delay=600)
        with HttpxDriver(settings) as transport:
            assert transport.get("meta-data/instance-id") == IID
            assert transport.endpoint == v4.endpoint
        assert v6.stats.total == 0  # IPv4 answered within its head start


def test_race_all_endpoints_down_names_each(make_client: ClientFactory) -> None:
    a, b = closed_endpoint(), closed_endpoint()
    client = make_client(fast(a, b))
    with pytest.raises(IMDSUnavailable, match="no IMDS endpoint answered") as info:
        client.get("meta-data/instance-id")
    assert str(a[1]) in str(info.value)
    assert str(b[1]) in str(info.value)


def test_race_again_when_the_winner_goes_away(make_client: ClientFactory) -> None:
    with IMDSSimulator(TREE) as first, IMDSSimulator(TREE) as second:
        client = make_client(fast(first.endpoint, second.endpoint))
        assert client.get("meta-data/instance-id") == IID
        winner = client.driver.endpoint
        (first if winner == first.endpoint else second).stop()
        assert client.get("meta-data/instance-id") == IID
        assert client.driver.endpoint != winner


# -- no secrets in messages or logs ----------------------------------------------------------


def test_token_never_in_errors_reprs_or_logs(
    sim: IMDSSimulator, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(fast(sim.endpoint))
    caplog.set_level(logging.DEBUG, logger="ec2imds")
    token = client.token()
    messages = [repr(token), str(token)]
    sim.faults.expire_tokens()
    assert client.get("meta-data/instance-id") == IID
    tokens = {token.value, client.token().value}
    assert len(tokens) == 2
    faults: list[Callable[[], None]] = [
        lambda: sim.faults.burst(401, 2, method="GET"),
        lambda: sim.faults.burst(500, 3, method="GET"),
        lambda: sim.faults.burst(403, 1, method="GET"),
    ]
    for fault in faults:
        fault()
        with pytest.raises(IMDSError) as info:
            client.get("meta-data/instance-id")
        messages += [str(info.value), repr(info.value)]
    text = "\n".join(messages) + caplog.text
    assert "GET /latest/meta-data/instance-id" in caplog.text  # the log did say something
    for value in tokens:
        assert value not in text


# -- httpx.MockTransport: handlers build responses with their content already read --------


def _mock_handler(request: Any) -> Any:
    import httpx

    if request.method == "PUT":
        return httpx.Response(200, text="token")
    if request.url.path.endswith("/big"):
        return httpx.Response(200, content=b"x" * (1024 * 1024 + 1))
    return httpx.Response(200, text="i-0123456789abcdef0")


def test_httpx_mock_transport_serves_both_clients_with_the_body_cap() -> None:
    import httpx

    from ec2imds import IMDS, AsyncIMDS

    endpoint = [("169.254.169.254", 80)]  # never reached: the mock answers
    with IMDS(endpoints=endpoint, http_transport=httpx.MockTransport(_mock_handler)) as imds:
        assert imds.meta_data.instance_id == "i-0123456789abcdef0"
        with pytest.raises(ResponseTooLarge):
            imds.driver.get("meta-data/big")

    async def aio() -> str | None:
        async with AsyncIMDS(
            endpoints=endpoint, http_transport=httpx.MockTransport(_mock_handler)
        ) as aimds:
            with pytest.raises(ResponseTooLarge):
                await aimds.driver.get("meta-data/big")
            body = await aimds.driver.get("meta-data/instance-id")
            return None if body is None else body.decode()

    assert asyncio.run(aio()) == "i-0123456789abcdef0"


def test_at_most_concurrency_requests_in_flight(make_client: ClientFactory) -> None:
    """However many threads (or tasks) ask at once, as httpx's pool bounds it."""
    state = {"active": 0, "most": 0}
    lock = threading.Lock()

    def answer(method: str, path: str, headers: Any) -> bytes:
        with lock:
            state["active"] += 1
            state["most"] = max(state["most"], state["active"])
        time.sleep(0.05)
        with lock:
            state["active"] -= 1
        return http_answer("200 OK", b"token" if method == "PUT" else b"x")

    with RawServer(answer) as server:
        settings = Settings.resolve(endpoints=[server.endpoint], env={}, concurrency=3)
        client = make_client(settings)
        client.token()
        with ThreadPoolExecutor(12) as pool:
            bodies = list(pool.map(client.get, [f"meta-data/k{i}" for i in range(24)]))
    assert bodies == [b"x"] * 24
    assert 1 <= state["most"] <= 3
