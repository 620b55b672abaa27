"""The IMDSv2 exchange without sockets: :func:`exchange` and :func:`token_flow` driven by a
script of answers and a fake clock, as httpx's ``tests/test_auth.py`` drives ``auth_flow``.

Each case names the steps the flow takes (the requests it sends, the sleeps it asks for,
the endpoint lock it takes) and what it returns or raises. The socket tests of each driver
are in ``drivers/test_drivers.py``, ``drivers/test_http11.py`` and ``test_wire.py``.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from ec2imds._protocol import (
    ACQUIRE,
    RELEASE,
    TOKEN_HEADER,
    TTL_HEADER,
    EndpointSession,
    Failure,
    Request,
    Response,
    outcome,
    token_flow,
)
from ec2imds.errors import (
    IMDSDisabled,
    IMDSError,
    IMDSHTTPError,
    IMDSTimeout,
    IMDSUnavailable,
    RedirectRefused,
    TokenError,
)
from ec2imds.tokens import Token
from tests.support.protocol_script import PATH, START, Clock, drive, get, session, token_answer

CREDS = "/latest/meta-data/iam/security-credentials/role"


# -- the token ------------------------------------------------------------------------------


def test_first_get_puts_a_token_under_the_lock_then_gets() -> None:
    clock = Clock()
    s = session(clock)
    run = drive(get(s), [token_answer(), Response(200, b"i-1")], clock)
    assert run.shape() == ["acquire", "PUT", "release", "GET"]
    put, got = run.requests
    assert put == Request("PUT", "/latest/api/token", ((TTL_HEADER, "21600"),))
    assert got == Request("GET", PATH, ((TOKEN_HEADER, "tok-1"),))
    assert run.result == Response(200, b"i-1")
    assert s.puts == 1


def test_a_cached_token_is_reused_without_the_lock() -> None:
    clock = Clock()
    s = session(clock)
    drive(get(s), [token_answer(), Response(200)], clock)
    run = drive(get(s), [Response(200, b"again")], clock)
    assert run.shape() == ["GET"]
    assert s.puts == 1


def test_the_granted_ttl_sets_expiry_and_the_token_is_replaced_before_it() -> None:
    clock = Clock()
    s = session(clock)
    drive(get(s), [token_answer(ttl=600), Response(200)], clock)  # asked 21600, granted 600
    token = s.cached_token()
    assert token is not None
    assert token.expiry == START + dt.timedelta(seconds=600)
    clock.advance(600 - 121)  # the margin is 120 s: still used
    assert drive(get(s), [Response(200)], clock).shape() == ["GET"]
    clock.advance(2)  # within the margin: replaced before IMDS would refuse it
    replaced = drive(get(s), [token_answer("tok-2"), Response(200)], clock)
    assert replaced.shape() == ["acquire", "PUT", "release", "GET"]
    assert replaced.requests[1].headers == ((TOKEN_HEADER, "tok-2"),)


def test_a_missing_ttl_header_means_the_ttl_asked_for() -> None:
    clock = Clock()
    s = session(clock, token_ttl=300)
    drive(get(s), [token_answer(ttl=None), Response(200)], clock)
    token = s.cached_token()
    assert token is not None
    assert token.expiry == START + dt.timedelta(seconds=300)


@pytest.mark.parametrize("body", [b"", b"  ", b"bad\x00token", b"x" * 5000, b"\xff\xfe"])
def test_a_token_body_that_is_not_a_token_is_refused(body: bytes) -> None:
    run = drive(get(session(Clock())), [Response(200, body)])
    assert isinstance(run.error, TokenError)
    assert "not a token" in str(run.error)


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (400, TokenError, "400 Bad Request"),
        (403, IMDSDisabled, "turned off"),
        (404, TokenError, "not available"),
        (405, TokenError, "not available"),
        (301, RedirectRefused, "never followed"),
        (307, RedirectRefused, "never followed"),
    ],
)
def test_put_statuses_that_end_the_flow_at_once(
    status: int, error: type[IMDSError], words: str
) -> None:
    run = drive(get(session(Clock())), [Response(status)])
    assert run.shape() == ["acquire", "PUT"]  # never retried, no GET
    assert isinstance(run.error, error)
    assert words in str(run.error)


def test_put_5xx_and_429_are_retried_with_backoff() -> None:
    clock = Clock()
    run = drive(get(session(clock)), [Response(503), Response(429), token_answer(), Response(200)])
    assert run.shape() == ["acquire", "PUT", "sleep", "PUT", "sleep", "PUT", "release", "GET"]
    first, second = run.sleeps
    assert 0 < first <= second  # exponential (with jitter), capped


def test_statuses_above_599_are_retried_like_5xx() -> None:
    """h11 (the httpx drivers) passes statuses up to 999 on: they are server errors too."""
    run = drive(get(session(Clock())), [Response(600)] * 3)
    assert run.shape() == ["acquire", "PUT", "sleep", "PUT", "sleep", "PUT"]
    assert "600 after 3 attempt(s)" in str(run.error)
    run = drive(
        get(session(Clock())), [token_answer(), Response(799), Response(799), Response(200)]
    )
    assert run.shape() == ["acquire", "PUT", "release", "GET", "sleep", "GET", "sleep", "GET"]
    assert run.error is None


def test_put_5xx_beyond_the_budget_is_a_token_error() -> None:
    run = drive(get(session(Clock())), [Response(503)] * 3)
    assert isinstance(run.error, TokenError)
    assert "503 after 3 attempt(s)" in str(run.error)


def test_a_put_that_times_out_before_the_endpoint_ever_answered_names_the_hop_limit() -> None:
    run = drive(get(session(Clock())), [Failure("timeout")])
    assert run.shape() == ["acquire", "PUT"]
    assert isinstance(run.error, IMDSTimeout)
    assert "HttpPutResponseHopLimit" in str(run.error)


def test_nothing_listening_fails_fast_but_a_known_endpoint_is_retried() -> None:
    fresh = drive(get(session(Clock())), [Failure("connect", "refused")])
    assert fresh.shape() == ["acquire", "PUT"]
    assert isinstance(fresh.error, IMDSUnavailable)
    assert "cannot reach" in str(fresh.error)
    s = session(Clock())
    drive(get(s), [token_answer(), Response(200)])
    again = drive(get(s), [Failure("connect"), Response(200, b"ok")])
    assert again.shape() == ["GET", "sleep", "GET"]
    assert again.result.body == b"ok"


# -- single flight -------------------------------------------------------------------------


def test_callers_queued_behind_a_failed_put_share_its_error_without_a_put() -> None:
    s = session(Clock())
    rng = random.Random(1)
    first = token_flow(s, rng)
    queued = token_flow(s, rng)
    assert next(first) is ACQUIRE
    assert next(queued) is ACQUIRE  # waiting for the lock (a driver would block here)
    assert isinstance(first.send(None), Request)
    with pytest.raises(IMDSDisabled):
        first.send(Response(403))
    with pytest.raises(IMDSDisabled):  # gets the lock: the PUT's outcome, not another PUT
        queued.send(None)
    assert s.puts == 1
    later = drive(token_flow(s, rng), [token_answer()])  # a new caller tries again
    assert later.shape() == ["acquire", "PUT", "release"]


def test_callers_queued_behind_a_successful_put_use_its_token() -> None:
    s = session(Clock())
    rng = random.Random(1)
    first, queued = token_flow(s, rng), token_flow(s, rng)
    next(first)
    next(queued)
    first.send(None)
    assert first.send(token_answer()) is RELEASE
    assert queued.send(None) is RELEASE  # the token is there: no PUT
    with pytest.raises(StopIteration) as done:
        queued.send(None)
    assert isinstance(done.value.value, Token)
    assert s.puts == 1


# -- the GET --------------------------------------------------------------------------------


def ready(clock: Clock | None = None, **settings: Any) -> EndpointSession:
    """A session that already holds token ``tok-1``."""
    clock = clock or Clock()
    s = session(clock, **settings)
    drive(get(s), [token_answer(), Response(200)], clock)
    return s


def test_404_is_returned_not_retried() -> None:
    run = drive(get(ready()), [Response(404, b"<html>...</html>")])
    assert run.shape() == ["GET"]
    assert run.result.status == 404


@pytest.mark.parametrize("status", [400, 403])
def test_400_and_403_on_a_get_are_errors_without_retry(status: int) -> None:
    run = drive(get(ready()), [Response(status)])
    assert run.shape() == ["GET"]
    assert isinstance(run.error, IMDSHTTPError)
    assert run.error.status == status
    assert run.error.path == PATH


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_5xx_and_429_are_retried_within_the_budget(status: int) -> None:
    run = drive(get(ready()), [Response(status), Response(status), Response(200, b"ok")])
    assert run.shape() == ["GET", "sleep", "GET", "sleep", "GET"]
    assert run.result.body == b"ok"
    spent = drive(get(ready()), [Response(status)] * 3)
    assert isinstance(spent.error, IMDSHTTPError)
    assert "after 3 attempts" in str(spent.error)


def test_one_attempt_means_no_retry() -> None:
    run = drive(get(ready(attempts=1)), [Response(503)])
    assert run.shape() == ["GET"]
    assert isinstance(run.error, IMDSHTTPError)


@pytest.mark.parametrize("kind", ["read", "timeout"])
def test_a_dropped_or_silent_connection_is_retried(kind: Any) -> None:
    run = drive(get(ready()), [Failure(kind), Response(200, b"ok")])
    assert run.shape() == ["GET", "sleep", "GET"]
    assert run.result.body == b"ok"


@pytest.mark.parametrize("kind", ["too_large", "protocol"])
def test_a_body_too_large_or_not_http_is_not_retried(kind: Any) -> None:
    run = drive(get(ready()), [Failure(kind)])
    assert run.shape() == ["GET"]
    assert isinstance(run.error, IMDSError)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_refused_never_followed(status: int) -> None:
    run = drive(get(ready()), [Response(status, b"", {"location": "http://elsewhere/"})])
    assert run.shape() == ["GET"]
    assert isinstance(run.error, RedirectRefused)
    assert run.error.status == status


def test_401_drops_the_token_and_retries_once_with_a_new_one() -> None:
    s = ready()
    run = drive(get(s), [Response(401), token_answer("tok-2"), Response(200, b"ok")])
    assert run.shape() == ["GET", "acquire", "PUT", "release", "GET"]
    assert run.requests[-1].headers == ((TOKEN_HEADER, "tok-2"),)
    assert run.result.body == b"ok"


def test_a_second_401_with_a_fresh_token_is_a_token_error() -> None:
    run = drive(get(ready()), [Response(401), token_answer("tok-2"), Response(401)])
    assert isinstance(run.error, TokenError)
    assert "rejected a fresh token" in str(run.error)


def test_a_401_for_a_token_that_expired_while_the_request_waited_is_not_a_rejection() -> None:
    clock = Clock()
    s = ready(clock, token_ttl=60)
    # The request waits 61 s (a busy machine), twice: each 401 is for a token the client's
    # own clock says had expired, so each gets a new token without spending the retry.
    run = drive(
        get(s),
        [
            Response(401),
            token_answer("tok-2", 60),
            Response(401),
            token_answer("tok-3", 60),
            Response(200, b"ok"),
        ],
        clock,
        during={0: 61, 2: 61},
    )
    assert run.result.body == b"ok"
    assert run.shape().count("PUT") == 2


def test_lapsed_tokens_are_bounded() -> None:
    clock = Clock()
    s = ready(clock, token_ttl=60)
    answers: list[Response | Failure] = [Response(401)]
    for i in range(11):
        answers += [token_answer(f"t{i}", 60), Response(401)]
    run = drive(get(s), answers, clock, during={i: 61 for i in range(0, 23, 2)})
    assert isinstance(run.error, TokenError)
    assert run.shape().count("PUT") == 11  # 10 lapses, then the one retry


def test_a_credentials_document_not_yet_json_is_asked_again() -> None:
    run = drive(get(ready(), CREDS), [Response(200, b""), Response(200, b'{"Code": "Success"}')])
    assert run.shape() == ["GET", "sleep", "GET"]
    assert run.result.body == b'{"Code": "Success"}'
    last = drive(get(ready(), CREDS), [Response(200, b"<html>")] * 3)
    assert last.result.body == b"<html>"  # the budget spent: returned for the model to refuse
    other = drive(get(ready(), "/latest/meta-data/iam/info"), [Response(200, b"")])
    assert other.shape() == ["GET"]  # only credentials documents are retried


# -- the module itself ---------------------------------------------------------------------


def _imported_modules(source: str) -> set[str]:
    import ast

    tree = ast.parse(source)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_protocol_has_no_clock_lock_socket_or_event_loop() -> None:
    import inspect

    import ec2imds._protocol as protocol

    source = inspect.getsource(protocol)
    forbidden = {"threading", "time", "socket", "asyncio", "selectors", "httpx", "httpcore"}
    assert not _imported_modules(source) & forbidden
    # The time it measures tokens with is the session's clock, which the driver gives.
    assert "datetime.now" not in source
    assert "session.now()" in source


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "ok"),
        (404, "absent"),
        (401, "reauth"),
        (301, "redirect"),
        (308, "redirect"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (599, "retry"),
        (400, "refused"),
        (403, "refused"),
        (405, "refused"),
        (204, "refused"),
        (600, "retry"),
        (999, "retry"),
        (100, "refused"),
    ],
)
def test_one_table_says_what_each_status_means(status: int, expected: str) -> None:
    assert outcome(status) == expected
