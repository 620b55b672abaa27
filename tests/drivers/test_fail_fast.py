"""Fail fast: one failed token PUT flow per endpoint per run of the command line, and a
failed PUT that found no IMDS is the answer of the calls right behind it in the library
(a crawl pays one timeout, not one per category)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds import IMDS, AsyncIMDS
from ec2imds._drivers.httpx import HttpxDriver
from ec2imds._protocol import Failure, Response
from ec2imds.errors import IMDSTimeout, IMDSUnavailable, TokenError
from ec2imds.settings import Settings
from ec2imds.simulator import IMDSSimulator
from ec2imds.tokens import MemoryTokenStore
from tests.support.command import error_line, run
from tests.support.network import Listener
from tests.support.protocol_script import PATH, Clock, drive, get, session, token_answer

TIMEOUT = "0.5"


@pytest.fixture
def silent() -> Iterator[Listener]:
    """Accepts connections and never answers (as IMDS behind a hop limit, or a trap)."""
    lst = Listener()
    yield lst
    lst.close()


@pytest.mark.parametrize(
    "args",
    [["--raw", "meta-data/instance-id"], ["-a"], ["--tree"], ["-E", "meta-data/.*"]],
    ids=["key", "all", "tree", "regex"],
)
def test_the_command_line_sends_one_failed_put(
    args: list[str], silent: Listener, tmp_path: Path
) -> None:
    host, port = silent.endpoint
    result = run(
        f"--imds={host}:{port}",
        "-t",
        str(tmp_path),
        *args,
        env={"AWS_METADATA_SERVICE_TIMEOUT": TIMEOUT},
    )
    assert "did not answer the token request" in error_line(result, 1)
    assert silent.accepted == 1  # one PUT, one connection: then the run fails


def test_the_command_line_sends_one_failing_put_flow_for_statuses_too(tmp_path: Path) -> None:
    with IMDSSimulator() as sim:
        sim.faults.burst(503, 1000, method="PUT")
        result = run(f"--imds=127.0.0.1:{sim.port}", "-t", str(tmp_path), "-a")
        assert "503" in error_line(result, 1)
        assert sim.stats.puts == 3  # one flow: its attempts, then every category fails


def settings(listener: Listener) -> Settings:
    return Settings.resolve(endpoints=[listener.endpoint], env={}, timeout=float(TIMEOUT))


def test_a_library_crawl_pays_one_put_timeout(silent: Listener) -> None:
    with IMDS(settings(silent)) as imds, pytest.raises(IMDSTimeout, match="token request"):
        imds.all()
    assert silent.accepted == 1


def test_an_async_crawl_pays_one_put_timeout(silent: Listener) -> None:
    async def main() -> None:
        async with AsyncIMDS(settings(silent)) as aimds:
            await aimds.all()

    with pytest.raises(IMDSTimeout, match="token request"):
        asyncio.run(main())
    assert silent.accepted == 1


def test_the_library_asks_again_once_the_memory_is_over(silent: Listener) -> None:
    """Only for the timeout: a long-lived client is not stuck with an old failure."""
    with HttpxDriver(settings(silent)) as transport:
        for session in transport._sessions.values():
            session.failure_memory = 0.0  # as if the timeout had passed since
        for _ in range(2):
            with pytest.raises(IMDSTimeout):
                transport.token()
    assert silent.accepted == 2


def test_the_library_does_not_remember_a_status() -> None:
    """A 400 or 503 on the PUT costs no timeout: the next call asks again."""
    with IMDSSimulator() as sim:
        s = Settings.resolve(endpoints=[sim.endpoint], env={}, backoff_base=0.001)
        with HttpxDriver(s, store=MemoryTokenStore()) as transport:
            sim.faults.burst(400, 1, method="PUT")
            with pytest.raises(TokenError):
                transport.get("meta-data/instance-id")
            assert transport.get("meta-data/instance-id") == b"i-0123456789abcdef0"
        assert sim.stats.puts == 2


# -- the rules, without sockets (the scripted driver and fake clock of test_protocol.py) ---


def test_a_put_that_found_no_imds_answers_the_next_calls_for_the_timeout() -> None:
    clock = Clock()
    s = session(clock, timeout=1.0)
    first = drive(get(s), [Failure("connect", "refused")], clock)
    assert isinstance(first.error, IMDSUnavailable)
    clock.advance(0.9)
    again = drive(get(s), [], clock)  # no request: the failure is the answer
    assert again.requests == []
    assert type(again.error) is type(first.error)
    assert str(again.error) == str(first.error)
    clock.advance(0.2)  # the timeout has passed since: ask again
    later = drive(get(s), [token_answer(), Response(200, b"i-1")], clock)
    assert later.shape() == ["acquire", "PUT", "release", "GET"]
    assert s.puts == 2


def test_a_status_is_not_remembered_by_default() -> None:
    clock = Clock()
    s = session(clock)
    assert isinstance(drive(get(s), [Response(400)], clock).error, TokenError)
    run = drive(get(s), [token_answer(), Response(200)], clock)
    assert run.shape() == ["acquire", "PUT", "release", "GET"]


def test_for_one_run_every_failure_is_remembered() -> None:
    clock = Clock()
    s = session(clock)
    s.failure_memory, s.remember_every_failure = math.inf, True  # remember_put_failures()
    first = drive(get(s), [Response(503)] * 3, clock)
    assert isinstance(first.error, TokenError)
    clock.advance(3600)
    again = drive(get(s), [], clock)
    assert again.requests == []
    assert isinstance(again.error, TokenError)
    assert s.puts == 3  # one flow: its attempts


def test_a_trickled_first_put_is_not_retried() -> None:
    clock = Clock()
    s = session(clock)
    run = drive(get(s), [Failure("deadline", "no complete answer within 1 s")], clock)
    assert run.shape() == ["acquire", "PUT"]
    assert isinstance(run.error, IMDSTimeout)
    assert "began to answer but did not finish" in str(run.error)
    assert "hop limit" not in str(run.error)


def test_a_trickled_get_is_retried_within_the_budget() -> None:
    clock = Clock()
    s = session(clock)
    late = Failure("deadline", "no complete answer within 1 s")
    run = drive(get(s), [token_answer(), late, late, Response(200, b"i-1")], clock)
    assert run.shape() == ["acquire", "PUT", "release", "GET", "sleep", "GET", "sleep", "GET"]
    assert run.result == Response(200, b"i-1")
    s2 = session(clock)
    run = drive(get(s2), [token_answer(), late, late, late], clock)
    assert isinstance(run.error, IMDSTimeout)
    assert PATH in str(run.error)
