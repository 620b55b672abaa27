"""The race remembers its winner in the token store and gives it the head start
(issue 21 item 1). No timing thresholds: the order is seen in which simulator was
contacted, with a race delay so long that the second endpoint never starts while the
first answers."""

from __future__ import annotations

import json
import logging
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds._drivers.race import race, race_order
from ec2imds._flow import IO, Flow
from ec2imds._flow import run as run_flow
from ec2imds.catalog import Node
from ec2imds.endpoints import Endpoint
from ec2imds.simulator import DeadListener, IMDSSimulator
from ec2imds.tokens import (
    CallbackTokenStore,
    FileTokenStore,
    MemoryTokenStore,
    TokenStore,
    TokenStoreError,
    WinnerStore,
)
from tests.support.command import run
from tests.support.drivers import ClientFactory, fast
from tests.support.network import closed_endpoint

IID = b"i-0123456789abcdef0"
TREE: dict[str, Node] = {"meta-data": {"instance-id": IID.decode()}}
#: Longer than any test: the endpoint after the head start never starts while it answers.
NEVER = 600.0

V4: Endpoint = ("169.254.169.254", None)
V6: Endpoint = ("fd00:ec2::254", None)


@pytest.fixture
def pair() -> Iterator[tuple[IMDSSimulator, IMDSSimulator]]:
    with IMDSSimulator(TREE) as a, IMDSSimulator(TREE) as b:
        yield a, b


def private_dir(tmp_path: Path) -> Path:
    tmp_path.chmod(0o700)
    return tmp_path / "tokens"


# -- the order ------------------------------------------------------------------------------


def test_default_order_is_ipv4_first_whatever_the_configured_order() -> None:
    assert race_order([V6, V4]) == [V4, V6]
    assert race_order([V4, V6]) == [V4, V6]


def test_the_remembered_winner_goes_first() -> None:
    assert race_order([V4, V6], V6) == [V6, V4]
    assert race_order([V4, V6], ("fd00:ec2::254", 80)) == [V6, V4]  # the port spelled out
    assert race_order([V4, V6], ("10.0.0.1", None)) == [V4, V6]  # not configured: ignored


def test_race_starts_the_head_start_endpoint_alone() -> None:
    started: list[Endpoint] = []

    def attempt(ep: Endpoint) -> Flow[str]:
        answer: str = yield ep
        return answer

    def io(ep: Endpoint) -> IO:
        def call(_: object) -> str:
            started.append(ep)
            return "answer"

        return IO(call)

    assert run_flow(race([V4, V6], attempt, io, NEVER, first=V6), IO(print)) == (V6, "answer")
    assert run_flow(race([V4, V6], attempt, io, NEVER), IO(print)) == (V4, "answer")
    assert started == [V6, V4]


# -- the stores ---------------------------------------------------------------------------


def test_memory_store_keeps_the_winner() -> None:
    store = MemoryTokenStore()
    assert isinstance(store, WinnerStore)
    assert store.load_winner() is None
    store.save_winner(V6)
    assert store.load_winner() == V6


def test_file_store_keeps_the_winner_across_instances(tmp_path: Path) -> None:
    directory = private_dir(tmp_path)
    FileTokenStore(directory).save_winner(("fd00:ec2::254", 8080))
    assert FileTokenStore(directory).load_winner() == ("fd00:ec2::254", 8080)
    path = directory / "winner"
    assert json.loads(path.read_text()) == {"endpoint": "[fd00:ec2::254]:8080"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in directory.iterdir()] == ["winner"]  # no temporary file left


def test_file_store_never_writes_the_winner_through_a_symlink(tmp_path: Path) -> None:
    directory = private_dir(tmp_path)
    directory.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.write_text("precious")
    (directory / "winner").symlink_to(target)
    store = FileTokenStore(directory)
    assert store.load_winner() is None
    store.save_winner(V4)
    assert target.read_text() == "precious"
    assert not (directory / "winner").is_symlink()
    assert store.load_winner() == V4


@pytest.mark.parametrize(
    "content",
    [b"not json", b'{"endpoint": 7}', b'{"endpoint": "no such host!"}', b"[]", b"x" * 20000],
)
def test_a_corrupt_winner_file_is_ignored_and_said_once(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    directory = private_dir(tmp_path)
    directory.mkdir(mode=0o700)
    (directory / "winner").write_bytes(content)
    store = FileTokenStore(directory)
    caplog.set_level(logging.INFO, logger="ec2imds")
    assert store.load_winner() is None
    assert store.load_winner() is None
    said = [r.getMessage() for r in caplog.records if "race winner file" in r.getMessage()]
    assert len(said) == 1, said


def test_an_unsafe_directory_refuses_the_winner(tmp_path: Path) -> None:
    directory = private_dir(tmp_path)
    directory.mkdir(mode=0o700)
    directory.chmod(0o777)
    with pytest.raises(TokenStoreError, match="writable by group or others"):
        FileTokenStore(directory).load_winner()
    with pytest.raises(TokenStoreError, match="writable by group or others"):
        FileTokenStore(directory).save_winner(V4)


# -- the drivers (sync and async, both drivers each) -----------------------------------------


def test_the_race_remembers_its_winner(
    pair: tuple[IMDSSimulator, IMDSSimulator], make_client: ClientFactory
) -> None:
    a, b = pair
    store = MemoryTokenStore()
    client = make_client(fast(a.endpoint, b.endpoint, race_delay=NEVER), store)
    assert client.get("meta-data/instance-id") == IID
    assert client.driver.endpoint == a.endpoint  # both IPv4: the configured order
    assert store.load_winner() == a.endpoint
    assert b.stats.total == 0


def test_the_remembered_winner_gets_the_head_start(
    pair: tuple[IMDSSimulator, IMDSSimulator], make_client: ClientFactory
) -> None:
    a, b = pair
    store = MemoryTokenStore()
    store.save_winner(b.endpoint)
    client = make_client(fast(a.endpoint, b.endpoint, race_delay=NEVER), store)
    assert client.get("meta-data/instance-id") == IID
    assert client.driver.endpoint == b.endpoint
    assert a.stats.total == 0  # never started: b answered within its head start


def test_the_head_start_survives_a_reset(
    pair: tuple[IMDSSimulator, IMDSSimulator], make_client: ClientFactory
) -> None:
    """With the memory store, the winner lasts for the client's life: a reset races
    again, and the last winner leads."""
    a, b = pair
    store = MemoryTokenStore()
    client = make_client(fast(b.endpoint, a.endpoint, race_delay=NEVER), store)
    store.save_winner(a.endpoint)
    assert client.get("meta-data/instance-id") == IID
    client.driver.reset()
    assert client.get("meta-data/instance-id") == IID
    assert client.driver.endpoint == a.endpoint
    assert b.stats.total == 0


def test_the_file_store_carries_the_winner_to_the_next_client(
    pair: tuple[IMDSSimulator, IMDSSimulator], make_client: ClientFactory, tmp_path: Path
) -> None:
    a, b = pair
    directory = private_dir(tmp_path)
    first = make_client(fast(a.endpoint, b.endpoint, race_delay=NEVER), FileTokenStore(directory))
    assert first.get("meta-data/instance-id") == IID
    assert FileTokenStore(directory).load_winner() == a.endpoint
    # The next client lists b first; without the remembered winner b would lead.
    second = make_client(fast(b.endpoint, a.endpoint, race_delay=NEVER), FileTokenStore(directory))
    assert second.get("meta-data/instance-id") == IID
    assert second.driver.endpoint == a.endpoint
    assert b.stats.total == 0
    assert a.stats.puts == 1  # the second client reused the first one's token file


def test_a_remembered_winner_that_fails_lets_the_next_start_at_once(
    pair: tuple[IMDSSimulator, IMDSSimulator], make_client: ClientFactory
) -> None:
    """The remembered endpoint refuses connections now: the other starts as soon as it
    fails, not after the (here endless) race delay; the new winner is remembered."""
    a, _ = pair
    gone = closed_endpoint()
    store = MemoryTokenStore()
    store.save_winner(gone)
    client = make_client(fast(a.endpoint, gone, race_delay=NEVER), store)
    got: list[bytes | None] = []
    worker = threading.Thread(target=lambda: got.append(client.get("meta-data/instance-id")))
    worker.daemon = True
    worker.start()
    worker.join(120)  # far below the race delay: the other did not wait for it
    assert got == [IID]
    assert store.load_winner() == a.endpoint


def test_a_chosen_endpoint_that_goes_away_loses_its_head_start(
    pair: tuple[IMDSSimulator, IMDSSimulator], make_client: ClientFactory
) -> None:
    a, b = pair
    store = MemoryTokenStore()
    client = make_client(fast(a.endpoint, b.endpoint), store)
    assert client.get("meta-data/instance-id") == IID
    assert store.load_winner() == a.endpoint
    a.stop()
    assert client.get("meta-data/instance-id") == IID
    assert client.driver.endpoint == b.endpoint
    assert store.load_winner() == b.endpoint


class NoWinnerStore:
    """A token store of one's own, written before the winner existed."""

    def __init__(self) -> None:
        self.inner = MemoryTokenStore()
        self.load = self.inner.load
        self.save = self.inner.save
        self.discard = self.inner.discard


@pytest.mark.parametrize("make_store", [CallbackTokenStore, NoWinnerStore])
def test_stores_without_the_winner_methods_still_race(
    pair: tuple[IMDSSimulator, IMDSSimulator], make_client: ClientFactory, make_store: type
) -> None:
    a, b = pair
    store: TokenStore = make_store()
    assert isinstance(store, TokenStore)
    assert not isinstance(store, WinnerStore)
    client = make_client(fast(b.endpoint, a.endpoint, race_delay=NEVER), store)
    assert client.get("meta-data/instance-id") == IID
    assert client.driver.endpoint == b.endpoint
    assert a.stats.total == 0


def test_an_unusable_store_does_not_stop_the_race(
    pair: tuple[IMDSSimulator, IMDSSimulator], make_client: ClientFactory, tmp_path: Path
) -> None:
    a, b = pair
    directory = private_dir(tmp_path)
    directory.mkdir(mode=0o700)
    directory.chmod(0o777)
    client = make_client(fast(a.endpoint, b.endpoint), FileTokenStore(directory))
    assert client.get("meta-data/instance-id") == IID
    assert client.driver.endpoint == a.endpoint
    assert not (directory / "winner").exists()


# -- a dead endpoint on loopback: SYNs dropped (ec2imds.simulator.DeadListener) ----------


def test_the_command_line_remembers_the_winner_past_a_dead_endpoint(
    pair: tuple[IMDSSimulator, IMDSSimulator], tmp_path: Path
) -> None:
    """The first run races past an endpoint that drops SYNs (listed first) and writes the
    winner to the token directory; the next run, with a live endpoint listed first,
    starts with the winner and never contacts the other."""
    a, b = pair
    dead = DeadListener()
    directory = private_dir(tmp_path)
    try:
        imds = f"--imds=127.0.0.1:{dead.endpoint[1]},127.0.0.1:{a.port}"
        first = run("--raw", "meta-data/instance-id", imds, "-t", str(directory))
        assert first.code == 0, first.err
        assert first.out == IID + b"\n"
    finally:
        dead.close()
    assert FileTokenStore(directory).load_winner() == a.endpoint
    imds = f"--imds=127.0.0.1:{b.port},127.0.0.1:{a.port}"
    second = run("-v", "--raw", "meta-data/instance-id", imds, "-t", str(directory))
    assert second.code == 0, second.err
    assert f"race: 127.0.0.1:{a.port} starts first (the last race's winner)" in second.err
    assert f"endpoint: 127.0.0.1:{a.port}" in second.err
    assert b.stats.total == 0
    assert a.stats.puts == 1  # and its token file was reused


def test_a_corrupt_winner_file_is_said_once_under_v(
    pair: tuple[IMDSSimulator, IMDSSimulator], tmp_path: Path
) -> None:
    a, b = pair
    directory = private_dir(tmp_path)
    directory.mkdir(mode=0o700)
    (directory / "winner").write_text("{")
    imds = f"--imds=127.0.0.1:{a.port},127.0.0.1:{b.port}"
    result = run("-v", "--raw", "meta-data/instance-id", imds, "-t", str(directory))
    assert result.code == 0, result.err
    assert result.err.count("race winner file ignored: not a valid winner file") == 1
    assert FileTokenStore(directory).load_winner() == a.endpoint  # replaced by the winner
