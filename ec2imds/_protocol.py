"""The IMDSv2 exchange, written once and without I/O.

:func:`exchange` is a flow (:mod:`ec2imds._flow`), like ``httpx.Auth.auth_flow``: it
yields :class:`Request` objects and is sent a :class:`Response` (or a :class:`Failure`
when the connection failed), and yields :data:`ACQUIRE` / :data:`RELEASE` around the
token PUT, :class:`Sleep` between retries and :class:`Blocking` for the token store's
calls (a file store reads and writes files: the async runner does that in a worker
thread). The runners (:func:`ec2imds._flow.run`, :func:`ec2imds._flow.arun`) perform
those steps; the token flow, the retry policy and the meaning of each status (one table,
``_OUTCOMES``) live here. Like h11's state machine, this module opens no socket or file,
never sleeps or waits on a lock and has no event loop: an :class:`EndpointSession` reads
the clock and takes the short guard lock the driver hands it.

A request's ``perform`` returns a ``Failure`` on a transport failure: it never raises.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import re
from collections.abc import Callable, Generator, Mapping
from contextlib import AbstractContextManager
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple, Optional, Union

from ec2imds._flow import ACQUIRE, RELEASE, Blocking, Sleep, _Lock
from ec2imds._log import log
from ec2imds.endpoints import Endpoint, construct_endpoint_str
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
from ec2imds.tokens import MemoryTokenStore, Token, TokenStore, TokenStoreError

__all__ = [
    "ACQUIRE",
    "RELEASE",
    "TOKEN_HEADER",
    "TOKEN_PATH",
    "TTL_HEADER",
    "Blocking",
    "EndpointSession",
    "Failure",
    "Outcome",
    "Request",
    "Response",
    "Sleep",
    "Step",
    "exchange",
    "outcome",
    "token_flow",
]


TOKEN_PATH: Final = "/latest/api/token"  # noqa: S105 - a path, not a secret
TOKEN_HEADER: Final = "X-aws-ec2-metadata-token"  # noqa: S105 - a header name
TTL_HEADER: Final = "X-aws-ec2-metadata-token-ttl-seconds"


#: Credential documents: a 200 whose body is empty or not a JSON object is retried
#: (docs/imds.md, 'Credentials'; botocore does the same since boto/botocore#1569).
_CREDENTIALS = re.compile(
    r"/[^/]+/meta-data/(?:iam/security-credentials(?:-extended)?/[^/]+"
    r"|identity-credentials/ec2/security-credentials/[^/]+)"
)


def _half_written(path: str, body: bytes) -> bool:
    """True for a credentials document that is empty or not a JSON object."""
    if _CREDENTIALS.fullmatch(path) is None:
        return False
    try:
        return not isinstance(json.loads(body), dict)
    except ValueError:
        return True


#: New tokens a request may get because its own expired while it waited (see exchange).
_MAX_LAPSES = 10


# NamedTuples rather than dataclasses: this module is on the command line's start-up path
# and ``dataclasses`` (with ``inspect``) costs ~5 ms to import.


class Request(NamedTuple):
    """One HTTP request to an IMDS endpoint. ``path`` is absolute (``/latest/...``)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        shown = tuple((k, "<hidden>" if k == TOKEN_HEADER else v) for k, v in self.headers)
        return f"Request({self.method!r}, {self.path!r}, headers={shown!r})"


class Response(NamedTuple):
    """An HTTP answer. ``headers`` keys are lower-case."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = MappingProxyType({})


FailureKind = Literal[
    "connect", "connect_timeout", "timeout", "deadline", "read", "too_large", "protocol"
]


class Failure(NamedTuple):
    """The request got no complete HTTP answer.

    ``connect``: refused or unreachable; ``connect_timeout``: no TCP answer in time;
    ``timeout``: connected, no answer in time; ``deadline``: an answer began but was not
    complete within the request's deadline (a trickle); ``read``: dropped or reset;
    ``too_large``: the body passed the size cap; ``protocol``: not HTTP.
    """

    kind: FailureKind
    detail: str = ""

    @property
    def connected(self) -> bool:
        return self.kind not in ("connect", "connect_timeout")


# Evaluated at run time: no X | Y before Python 3.10.
Step = Union[Request, Sleep, _Lock, Blocking]
Answer = Optional[Union[Response, Failure]]


class EndpointSession:
    """Token state for one endpoint: the cached token, the store, whether it ever answered.

    The driver gives it what this module does not have: ``clock`` (aware UTC now), what
    token expiry is measured with (tests pass a fake one), and ``guard``, the lock that
    makes reads and replacements of the token safe for the driver's concurrency (a
    ``threading.Lock`` for the drivers, which asyncio tasks can share too). The single
    PUT at a time is the driver's endpoint lock, taken when :func:`token_flow` yields
    :data:`ACQUIRE`.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        store: TokenStore,
        settings: Settings,
        *,
        clock: Callable[[], dt.datetime],
        guard: AbstractContextManager[Any],
    ) -> None:
        self.endpoint = endpoint
        self.now = clock
        self.store = store
        self.settings = settings
        #: The endpoint answered HTTP at least once: connection failures may be retried.
        self.answered = False
        #: Token PUTs this session sent (a count, for tests and benchmarks).
        self.puts = 0
        #: Tokens this session took from the store (another process's, for ``-v``).
        self.loaded = 0
        self._token: Token | None = None
        #: The value of the last token IMDS rejected or the caller expired: never reused,
        #: even when a store that cannot forget (0.0.3's callbacks) hands it back.
        #: Kept as the Token (whose repr hides the value), never as a bare string.
        self._stale: Token | None = None
        #: Counts finished token PUT flows; with ``_failure``, lets the callers queued
        #: behind a PUT share its outcome (single flight for failures too).
        self.generation = 0
        self._failure: IMDSError | None = None
        self._failed_at: dt.datetime | None = None
        #: Seconds during which a token PUT flow that found no IMDS (unreachable, timed
        #: out: :class:`IMDSUnavailable`) is the answer of every later token request on
        #: this endpoint, without a new PUT: a crawl, or a burst of calls, pays for one
        #: timeout, not one each.
        self.failure_memory = settings.timeout
        #: Every failed PUT flow is remembered, statuses too (the command line: one run).
        self.remember_every_failure = False
        self._guard = guard
        self._store_warned = False
        self._in_memory = isinstance(store, MemoryTokenStore)

    def __repr__(self) -> str:
        return f"EndpointSession({construct_endpoint_str(self.endpoint)})"

    @property
    def label(self) -> str:
        return construct_endpoint_str((self.endpoint[0], self.endpoint[1] or 80))

    def cached_token(self) -> Token | None:
        """The token in memory, if it has more than the refresh margin left."""
        token = self._token
        margin = self.settings.refresh_margin
        return token if token is not None and token.usable(margin, self.now()) else None

    def usable_token(self) -> Generator[Step, Any, Token | None]:
        """The cached token if it has more than the refresh margin left; else the store's
        (unless it is the one IMDS rejected)."""
        token = self.cached_token()
        if token is not None:
            return token
        stored = yield from self._store_call(self.store.load)
        if (
            isinstance(stored, Token)
            and (self._stale is None or stored.value != self._stale.value)
            and stored.usable(self.settings.refresh_margin, self.now())
        ):
            with self._guard:
                self._token = stored
                self.loaded += 1
            return stored
        return None

    def set_token(self, token: Token) -> Generator[Step, Any, None]:
        with self._guard:
            self._token = token
        yield from self._store_call(lambda ep: self.store.save(ep, token))

    def drop_token(self, token: Token) -> Generator[Step, Any, None]:
        """Forget ``token`` (IMDS rejected it), unless it was already replaced."""
        with self._guard:
            self._stale = token
            if self._token is not None and self._token.value != token.value:
                return
            self._token = None
        yield from self._store_call(self.store.discard)

    def expire(self) -> None:
        """Forget the cached token and never reuse it: the next request gets a new one."""
        with self._guard:
            if self._token is not None:
                self._stale = self._token
            self._token = None

    def finish_put(self, failure: IMDSError | None) -> None:
        """Record the outcome of a token PUT flow (under the endpoint lock)."""
        self.generation += 1
        self._failure = failure
        self._failed_at = self.now()

    @property
    def put_failed(self) -> bool:
        """The last token PUT flow ended in an error."""
        return self._failure is not None

    def shared_failure(self, generation: int) -> IMDSError | None:
        """The failure of a PUT that finished since ``generation`` was read, or less than
        ``failure_memory`` seconds ago, if any: a caller that queued behind a failed PUT,
        or came just after it, gets its answer instead of another PUT."""
        failure, failed_at = self._failure, self._failed_at
        if failure is None or failed_at is None:
            return None
        if self.generation == generation and not (
            (self.remember_every_failure or isinstance(failure, IMDSUnavailable))
            and (self.now() - failed_at).total_seconds() < self.failure_memory
        ):
            return None
        return copy.copy(failure)

    # The store: a store that cannot be used (an unsafe directory) is said once, and the
    # requests go on without it. Any store but the in-memory one may block (a file store
    # reads, writes and fsyncs files): its calls are Blocking steps.

    def _store_call(self, call: Callable[[Endpoint], Any]) -> Generator[Step, Any, Any]:
        if self._in_memory:
            return self._quietly(call)
        return (yield Blocking(lambda: self._quietly(call)))

    def _quietly(self, call: Callable[[Endpoint], Any]) -> Any:
        try:
            return call(self.endpoint)
        except TokenStoreError as exc:
            self._store_failed(exc)
            return None

    def _store_failed(self, exc: TokenStoreError) -> None:
        if not self._store_warned:
            self._store_warned = True
            log.warning("%s; tokens are not persisted", exc)


def _backoff(settings: Settings, retry: int, rng: random.Random) -> float:
    """Delay before retry number ``retry`` (1-based): exponential, capped, equal jitter."""
    ceiling = min(settings.backoff_cap, settings.backoff_base * 2.0 ** (retry - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


# -- what an answer means ----------------------------------------------------------------

Outcome = Literal["ok", "absent", "reauth", "redirect", "retry", "refused"]

#: What a status means, for the token PUT and for a GET alike: ``ok`` (200), ``absent``
#: (404: a GET's "no such value"), ``reauth`` (401: the token was rejected), ``redirect``
#: (3xx: never followed), ``retry`` (429 and every status from 500 up: asked again within
#: the attempt budget), ``refused`` (anything else: final). What each means in its own flow
#: is said in :func:`_put_token` and :func:`exchange`; the retries and the redirects in
#: :func:`_ask`.
_REDIRECTS: dict[int, Outcome] = {status: "redirect" for status in range(300, 400)}
_OUTCOMES: Final[Mapping[int, Outcome]] = MappingProxyType(
    {200: "ok", 404: "absent", 401: "reauth", 429: "retry", **_REDIRECTS}
)


def outcome(status: int) -> Outcome:
    """The outcome of an HTTP status (see ``_OUTCOMES``; from 500 up, ``retry``)."""
    found = _OUTCOMES.get(status)
    if found is not None:
        return found
    return "retry" if status >= 500 else "refused"


def _retryable(failure: Failure, session: EndpointSession) -> bool:
    """A failed request is worth asking again (within the budget)."""
    if failure.kind in ("too_large", "protocol"):
        return False
    if failure.kind in ("read", "timeout", "deadline"):
        # Connected, then dropped or silent: something is there. (A GET's token came from
        # this endpoint, in this process or, through the store, in an earlier one; a PUT
        # that times out before the endpoint ever answered is the hop limit, decided
        # before this is asked.)
        return True
    # Nothing ever answered here: it is probably not an IMDS (off EC2); fail fast.
    return session.answered


def _unavailable(answer: Failure, session: EndpointSession, what: str) -> IMDSError:
    where = session.label
    if answer.kind == "too_large":
        return ResponseTooLarge(
            f"{what}: IMDS at {where} sent more than {session.settings.max_body} bytes",
            path=what,
            limit=session.settings.max_body,
        )
    if answer.kind == "deadline":
        return IMDSTimeout(
            f"{what}: IMDS at {where} began to answer but did not finish within "
            f"{session.settings.timeout:g} s"
        )
    if answer.kind == "timeout":
        return IMDSTimeout(
            f"{what}: IMDS at {where} accepted the connection but did not answer within "
            f"{session.settings.timeout:g} s"
        )
    if answer.kind == "connect_timeout":
        return IMDSUnavailable(
            f"{what}: IMDS at {where} did not answer within {session.settings.timeout:g} s "
            "(not on EC2, or IMDS blocked?)"
        )
    detail = f" ({answer.detail})" if answer.detail else ""
    return IMDSUnavailable(f"{what}: cannot reach IMDS at {where}{detail}")


class _Budget:
    """The attempts of one call, shared by every reason to ask again (a failure, a
    retryable status, a credentials document not written yet); a new token after a 401
    is not an attempt."""

    __slots__ = ("attempt", "rng", "settings")

    def __init__(self, settings: Settings, rng: random.Random) -> None:
        self.settings = settings
        self.rng = rng
        self.attempt = 1

    @property
    def left(self) -> bool:
        return self.attempt < self.settings.attempts

    def wait(self) -> Generator[Step, Answer, None]:
        """Back off before the next attempt."""
        yield Sleep(_backoff(self.settings, self.attempt, self.rng))
        self.attempt += 1


def _ask(
    session: EndpointSession, request: Request, budget: _Budget, *, token_request: bool
) -> Generator[Step, Answer, tuple[Response, dt.datetime | None]]:
    """Send ``request`` until an answer is final: the one place retries and redirects
    are handled, for the token PUT and the GETs alike.

    Failures and ``retry`` statuses are asked again while the budget lasts; a redirect
    raises :class:`RedirectRefused`; a failure left over raises. Returns the final
    :class:`Response` (any outcome but ``redirect``; ``retry`` once the budget is spent)
    and, for the ``token_request``, when it was sent (the token's life starts then).
    """
    put = token_request
    what = "token request" if put else request.path
    while True:
        sent = None
        if put:
            sent = session.now()
            session.puts += 1
        answer = yield request
        if answer is None:  # pragma: no cover - driver contract
            raise TypeError("driver sent no answer to a request")
        if isinstance(answer, Response):
            session.answered = True
            kind = outcome(answer.status)
            if kind == "redirect":
                where = f"IMDS at {session.label} answered "
                raise RedirectRefused(
                    (
                        f"{where}the token request with a redirect"
                        if put
                        else f"{what}: {where}with a redirect"
                    )
                    + f" ({answer.status}); redirects are never followed",
                    status=answer.status,
                    path=request.path,
                )
            if kind != "retry" or not budget.left:
                return answer, sent
        else:
            if put and not session.answered and answer.kind == "timeout":
                raise IMDSTimeout(
                    f"IMDS at {session.label} accepted the connection but did not answer the "
                    f"token request within {session.settings.timeout:g} s. In a container this "
                    "is usually the instance's PUT response hop limit: set "
                    "HttpPutResponseHopLimit to 2 or more (aws ec2 "
                    "modify-instance-metadata-options --http-put-response-hop-limit 2)"
                )
            if put and not session.answered and answer.kind == "deadline":
                # A first answer that trickles: a retry would trickle as well.
                raise _unavailable(answer, session, what)
            if not (budget.left and _retryable(answer, session)):
                raise _unavailable(answer, session, what)
        yield from budget.wait()


# -- the flows ---------------------------------------------------------------------------


def token_flow(session: EndpointSession, rng: random.Random) -> Generator[Step, Answer, Token]:
    """Get a usable token: reuse one, or PUT for a new one (under the endpoint lock).

    Callers queued behind a PUT get its outcome: its token, or its terminal error.
    """
    generation = session.generation
    yield ACQUIRE
    token = yield from session.usable_token()
    if token is not None:
        yield RELEASE
        return token
    failure = session.shared_failure(generation)
    if failure is not None:
        raise failure
    try:
        token = yield from _put_token(session, rng)
    except IMDSError as exc:
        session.finish_put(exc)
        raise
    session.finish_put(None)
    yield RELEASE
    return token


def _put_token(session: EndpointSession, rng: random.Random) -> Generator[Step, Answer, Token]:
    settings = session.settings
    request = Request("PUT", TOKEN_PATH, ((TTL_HEADER, str(settings.token_ttl)),))
    budget = _Budget(settings, rng)
    answer, sent = yield from _ask(session, request, budget, token_request=True)
    status = answer.status
    if outcome(status) == "ok":
        assert sent is not None
        token = _new_token(answer, sent, settings.token_ttl, session.label)
        yield from session.set_token(token)
        return token
    where = f"IMDS at {session.label}"
    if status == 400:
        raise TokenError(
            f"{where} refused the token request (400 Bad Request: "
            f"TTL {settings.token_ttl} s rejected)",
            status=400,
        )
    if status == 403:
        raise IMDSDisabled(
            f"IMDS is turned off for this instance (403 on the token request at {session.label})"
        )
    if status in (404, 405):
        raise TokenError(
            f"IMDSv2 is not available at {session.label} ({status} on the token request); "
            "ec2imds does not fall back to IMDSv1",
            status=status,
        )
    raise TokenError(
        f"{where} answered the token request with {status} after {budget.attempt} attempt(s)",
        status=status,
    )


def _new_token(answer: Response, sent: dt.datetime, requested: int, where: str) -> Token:
    try:
        value = answer.body.decode("ascii").strip()
    except UnicodeDecodeError:
        value = ""
    if not value or not value.isprintable() or len(value) > 4096:
        raise TokenError(f"IMDS at {where} sent a token that is not a token")
    ttl = requested
    granted = answer.headers.get(TTL_HEADER.lower(), "").strip()
    if granted.isdigit() and 0 < int(granted) <= requested:
        ttl = int(granted)
    return Token(value, sent + dt.timedelta(seconds=ttl))


def exchange(
    session: EndpointSession, method: str, path: str, rng: random.Random
) -> Generator[Step, Answer, Response]:
    """One GET (or HEAD) with a token: returns a 200 or a 404 Response, or raises.

    ``path`` is absolute (``/latest/meta-data/ami-id``). A 401 drops the token and
    retries once with a new one; 429, 5xx and dropped connections are retried within
    the attempt budget with jittered backoff; 400, 403 and 404 are never retried. A
    credentials document that comes back empty or not JSON is retried too, then returned
    as it is (the model's validation names it).
    """
    token = session.cached_token()
    if token is None:
        token = yield from session.usable_token()
    if token is None:
        token = yield from token_flow(session, rng)
    budget = _Budget(session.settings, rng)
    refreshed = False
    lapsed = 0
    while True:
        request = Request(method, path, ((TOKEN_HEADER, token.value),))
        answer, _ = yield from _ask(session, request, budget, token_request=False)
        kind = outcome(answer.status)
        if kind == "ok" and method == "GET" and budget.left and _half_written(path, answer.body):
            log.debug("%s %s: credentials not JSON yet, asking again", method, path)
            yield from budget.wait()
            continue
        if kind in ("ok", "absent"):
            return answer
        if kind == "reauth":
            # A token that expired by our own clock while the request waited (for a
            # pooled connection, the event loop, a busy CPU) was not rejected by IMDS:
            # get a new one without spending the one retry a rejected token gets.
            # Bounded, in case every wait is longer than a token's whole life.
            lapse = not token.usable(0.0, session.now()) and lapsed < _MAX_LAPSES
            if not (lapse or not refreshed):
                raise TokenError(
                    f"{path}: IMDS at {session.label} rejected a fresh token (401)", status=401
                )
            log.debug("%s %s: 401, getting a new token", method, path)
            yield from session.drop_token(token)
            token = yield from token_flow(session, rng)
            if lapse:
                lapsed += 1
            else:
                refreshed = True
            continue
        reason = {403: "forbidden", 429: "throttled"}.get(answer.status, "unexpected status")
        raise IMDSHTTPError(
            f"{path}: IMDS at {session.label} answered {answer.status} ({reason})"
            + (f" after {budget.attempt} attempts" if budget.attempt > 1 else ""),
            status=answer.status,
            path=path,
        )
