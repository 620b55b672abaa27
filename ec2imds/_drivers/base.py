"""What every driver of the IMDSv2 exchange shares: no I/O, no event loop.

:class:`DriverBase` holds the settings, the token store, one
:class:`~ec2imds._protocol.EndpointSession` per endpoint (given the driver's clock and
lock, so the protocol has neither) and the chosen endpoint, counts and logs the requests
sent, says what it did (``ec2imds -v``), and writes the endpoint race once, as a flow
(:meth:`DriverBase._race`). :class:`~ec2imds._drivers.sync.SyncDriver` and
:class:`~ec2imds._drivers.aio.AsyncDriver` run the flows, each on its runner.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ec2imds._drivers.race import race
from ec2imds._flow import IO, Blocking, Flow
from ec2imds._log import DEBUG, log
from ec2imds._protocol import EndpointSession, Failure, Request, Response
from ec2imds.endpoints import Endpoint, construct_endpoint_str, endpoint_file_name, endpoint_url
from ec2imds.errors import IMDSConfigError, IMDSDisabled, IMDSError
from ec2imds.settings import Settings
from ec2imds.tokens import FileTokenStore, MemoryTokenStore, TokenStore, TokenStoreError

__all__ = ["DriverBase", "utc_now"]

T = TypeVar("T")


def _no_ask(ask: object) -> None:
    """The perform of a run whose flow asks nothing itself (its sub-flows have theirs)."""
    raise TypeError(f"no ask expected here: {ask!r}")


def utc_now() -> dt.datetime:
    """The drivers' clock for token expiry (aware UTC)."""
    return dt.datetime.now(dt.timezone.utc)


def _same(a: Endpoint, b: Endpoint) -> bool:
    """The same endpoint, the default port spelled or not."""
    return a[0] == b[0] and (a[1] or 80) == (b[1] or 80)


class DriverBase:
    """Settings, token store, one :class:`EndpointSession` per endpoint, the chosen one."""

    def __init__(
        self,
        settings: Settings | None = None,
        store: TokenStore | None = None,
        seed: int | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings.resolve()
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self._rng = random.Random(seed)
        self._sessions = {
            ep: EndpointSession(
                ep, self.store, self.settings, clock=utc_now, guard=threading.Lock()
            )
            for ep in self.settings.endpoints
        }
        self._chosen: Endpoint | None = (
            self.settings.endpoints[0] if len(self.settings.endpoints) == 1 else None
        )
        #: The race winner the store remembered at the last race (saved only when it changes).
        self._remembered: Endpoint | None = None
        self._bases = {ep: endpoint_url(ep) for ep in self.settings.endpoints}
        self._started = time.perf_counter()
        self._counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()
        self._opened()

    def _opened(self) -> None:
        """What the subclass makes once this is set up: the endpoint locks and the race
        lock of its kind of concurrency, its connections."""
        raise NotImplementedError

    @property
    def endpoint(self) -> Endpoint | None:
        """The endpoint in use (None before the first race has been decided)."""
        return self._chosen

    @property
    def token_puts(self) -> int:
        """Token PUTs this client sent, over all endpoints."""
        return sum(s.puts for s in self._sessions.values())

    def has_usable_token(self) -> bool:
        """True when a token with time left is cached in memory (no store is consulted)."""
        chosen = self._chosen
        sessions = [self._sessions[chosen]] if chosen else list(self._sessions.values())
        return any(s.cached_token() is not None for s in sessions)

    def remember_put_failures(self) -> None:
        """From now on, a failed token PUT flow on an endpoint is the answer of every
        later request there, for the client's life: one run of the command line sends
        one failing PUT flow per endpoint, then fails. (By default, only a PUT that found
        no IMDS is remembered, for the timeout.)"""
        for session in self._sessions.values():
            session.failure_memory = math.inf
            session.remember_every_failure = True

    def expire_token(self) -> None:
        """Forget the cached tokens: the next request gets a new one (0.0.3's semantics)."""
        for session in self._sessions.values():
            session.expire()

    def reset(self) -> None:
        """Forget tokens and the chosen endpoint: the next request races again."""
        self.expire_token()
        if len(self.settings.endpoints) > 1:
            self._chosen = None

    # -- the race's memory: the head start goes to the endpoint that won the last race,
    # kept by the token store when it has ``load_winner``/``save_winner`` (WinnerStore).

    def _head_start(self, failed: Endpoint | None) -> Endpoint | None:
        """The endpoint that starts the next race at once: the last winner the store
        remembers, unless it is ``failed`` (the chosen endpoint that just stopped
        answering), which then starts with no advantage. None when the store remembers
        none, cannot be read, or has no ``load_winner`` (0.0.3's callbacks, one's own)."""
        load = getattr(self.store, "load_winner", None)
        winner: object = None
        if load is not None:
            try:
                winner = load()
            except TokenStoreError as exc:
                log.info("race winner not read: %s", exc)
        if not (isinstance(winner, tuple) and len(winner) == 2 and isinstance(winner[0], str)):
            winner = None
        self._remembered = winner
        if winner is None or (failed is not None and _same(winner, failed)):
            return None
        log.info("race: %s starts first (the last race's winner)", construct_endpoint_str(winner))
        return winner

    def _won(self, winner: Endpoint) -> None:
        """Remember ``winner`` in the store for the next race (when it changed)."""
        save = getattr(self.store, "save_winner", None)
        if save is None or (self._remembered is not None and _same(winner, self._remembered)):
            return
        try:
            save(winner)
        except TokenStoreError as exc:
            log.info("race winner not remembered: %s", exc)
        self._remembered = winner

    def _race_again(self) -> bool:
        """The chosen endpoint stopped answering: forget it and race again (True), unless
        it is the only one."""
        if len(self.settings.endpoints) == 1:
            return False
        log.info("endpoint unreachable; racing the endpoints again")
        self._chosen = None
        return True

    def _race(self, flow: Callable[[Endpoint], Flow[T]], failed: Endpoint | None) -> Flow[T]:
        """The race (:func:`~ec2imds._drivers.race.race`) of ``flow`` over the endpoints,
        as a flow for either driver; the store's memory of the winner is read and written
        in Blocking steps (a file: off the event loop)."""
        first = yield Blocking(lambda: self._head_start(failed))
        winner, outcome = yield from race(
            self.settings.endpoints, flow, self._io, self.settings.race_delay, first
        )
        self._chosen = winner
        yield Blocking(lambda: self._won(winner))
        if isinstance(outcome, IMDSError):
            raise outcome
        return outcome

    def _io(self, ep: Endpoint) -> IO:
        """How a flow's steps are done on ``ep``: its requests, its endpoint lock."""
        raise NotImplementedError

    def _check_enabled(self) -> None:
        if self.settings.disabled:
            raise IMDSDisabled("IMDS is disabled by AWS_EC2_METADATA_DISABLED=true")

    @staticmethod
    def _path(path: str) -> str:
        if path.startswith("/"):
            return path
        if "://" in path or "\\" in path:
            raise IMDSConfigError(f"{path!r}: not an IMDS path")
        return "/latest/" + path

    @property
    def requests(self) -> int:
        """Requests this client sent (answered or not), over all endpoints."""
        with self._counts_lock:
            return sum(self._counts.values())

    def summary(self) -> list[str]:
        """What this client did, one line each (``ec2imds -v``): the endpoint, where the
        token came from, the requests sent and the time since the client was made. Never
        a token."""
        chosen = self._chosen
        shown = [construct_endpoint_str((h, p or 80)) for h, p in self.settings.endpoints]
        lines = [
            f"endpoint: {construct_endpoint_str((chosen[0], chosen[1] or 80))}"
            if chosen is not None and (self.requests or len(shown) == 1)
            else f"endpoint: none chosen (tried {', '.join(shown)})"
        ]
        sessions = [self._sessions[chosen]] if chosen is not None else self._sessions.values()
        loaded = sum(s.loaded for s in sessions)
        puts = sum(s.puts for s in sessions)
        said = []
        if loaded:
            where = (
                os.path.join(self.store.directory, endpoint_file_name(chosen))
                if isinstance(self.store, FileTokenStore) and chosen is not None
                else "the token store"
            )
            said.append(f"reused from {where}")
        if puts:
            plural = "s" if puts > 1 else ""
            if any(s.put_failed for s in sessions):
                said.append(f"none, {puts} PUT{plural} failed")
            else:
                said.append(f"new, {puts} PUT{plural} (TTL {self.settings.token_ttl} s)")
        lines.append(f"token: {', then '.join(said) if said else 'none needed'}")
        with self._counts_lock:
            counts = dict(self._counts)
        by_method = ", ".join(f"{n} {m}" for m, n in sorted(counts.items()))
        ms = (time.perf_counter() - self._started) * 1000
        total = sum(counts.values())
        lines.append(f"requests: {total}{f' ({by_method})' if total else ''} in {ms:.1f} ms")
        return lines

    def _logged(
        self, request: Request, outcome: Response | Failure, started: float
    ) -> Response | Failure:
        """Count one request, log it at DEBUG (method, path, status or failure, time; no
        headers: the token never reaches a log) and return its outcome."""
        with self._counts_lock:
            self._counts[request.method] = self._counts.get(request.method, 0) + 1
        if log.isEnabledFor(DEBUG):
            ms = (time.perf_counter() - started) * 1000
            if isinstance(outcome, Response):
                log.debug("%s %s -> %d (%.1f ms)", request.method, request.path, outcome.status, ms)
            else:
                what = f"{outcome.kind}: {outcome.detail}" if outcome.detail else outcome.kind
                log.debug("%s %s -> %s (%.1f ms)", request.method, request.path, what, ms)
        return outcome

    def _late(self) -> Failure:
        """The answer began but was not complete by the request's deadline."""
        return Failure("deadline", f"no complete answer within {self.settings.timeout:g} s")

    def _too_large(self, declared: str | None, request: Request) -> Failure | None:
        """A Failure when the declared Content-Length is above the body cap."""
        if declared is not None and declared.isdigit() and int(declared) > self.settings.max_body:
            return Failure("too_large", f"{request.path}: Content-Length {declared}")
        return None
