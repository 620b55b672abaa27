"""Fault injection for the simulator: latency, errors, drops, resets, hangs, redirects.

Every fault is deterministic given the seed: random errors draw from one
``random.Random(seed)``, and the one-shot faults (``burst``, ``drop_next`` …) fire on the
next matching requests in the order they were queued.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_ERROR_STATUSES", "FaultDecision", "Faults"]

DEFAULT_ERROR_STATUSES: tuple[int, ...] = (500, 503, 429)

_Kind = Literal["status", "drop", "reset", "hang", "redirect"]


@dataclass(frozen=True)
class FaultDecision:
    """What the faults say about one request (internal to the core)."""

    kind: _Kind | None = None
    status: int = 0
    location: str = ""
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int = 0


@dataclass
class _Rule:
    kind: _Kind
    remaining: int
    method: str | None
    path: str | None
    status: int = 0
    location: str = ""

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or _path_matches(self.path, path)


def _norm_filter(path: str | None) -> str | None:
    if path is None:
        return None
    path = path.strip()
    if not path.startswith("/"):
        path = "/latest/" + path
    return path


def _path_matches(pattern: str, path: str) -> bool:
    path = path.split("?", 1)[0]
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path.rstrip("/") == pattern.rstrip("/")


def _count(count: int) -> int:
    if count < 1:
        raise ValueError(f"count must be >= 1, not {count}")
    return count


def _seconds(name: str, value: float) -> float:
    value = float(value)
    if not value >= 0.0:
        raise ValueError(f"{name} must be >= 0 seconds, not {value}")
    return value


class Faults:
    """Mutable, thread-safe fault settings of one simulator (``sim.faults``).

    Standing faults (attributes; set them, they stay until changed or :meth:`clear`):

    * ``latency`` (seconds): delay before answering every request.
    * ``error_rate`` (0..1) and ``error_statuses`` (default ``(500, 503, 429)``): that share
      of GET/HEAD/PUT requests is answered with one of the statuses, drawn from the seeded
      random generator.
    * ``hang`` (bool): every request is accepted and never answered (until the server stops).
    * ``put_hang`` (bool): token PUTs are never answered while GETs work (the container
      hop-limit case: the client sees a read timeout on the PUT only).
    * ``slow_body`` (seconds): delay before each body chunk (the body goes out in up to
      4 chunks after the headers), for read timeouts that hit mid-body.
    * ``trickle`` (seconds): the body goes out one byte at a time, this long before each
      (every read is within a read timeout, the whole answer is not): for deadlines.

    One-shot faults (the next ``count`` requests matching ``method`` and ``path`` get it;
    ``path`` is as requested, relative paths are under ``/latest/``, a trailing slash is
    ignored, and a trailing ``*`` matches a prefix):

    * :meth:`burst` — answer with a status (e.g. 503, 429, 500).
    * :meth:`drop_next` — close the connection without any response.
    * :meth:`reset_mid_body_next` — send the headers and half the body, then reset.
    * :meth:`hang_next` — accept and never answer (until the server stops).
    * :meth:`redirect_next` — answer with a 3xx and a ``Location`` header.

    :meth:`expire_tokens` invalidates every token issued so far (forced expiry).
    """

    def __init__(
        self,
        lock: threading.RLock | None = None,
        *,
        seed: int = 0,
        on_expire_tokens: Callable[[], None] | None = None,
    ) -> None:
        self._lock = lock if lock is not None else threading.RLock()
        self._rng = random.Random(seed)
        self._on_expire_tokens = on_expire_tokens
        self._rules: list[_Rule] = []
        self._latency = 0.0
        self._error_rate = 0.0
        self._error_statuses: tuple[int, ...] = DEFAULT_ERROR_STATUSES
        self._hang = False
        self._put_hang = False
        self._slow_body = 0.0
        self._trickle = 0.0

    # -- standing faults ---------------------------------------------------------------

    @property
    def latency(self) -> float:
        """Seconds to wait before answering each request."""
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        with self._lock:
            self._latency = _seconds("latency", value)

    @property
    def error_rate(self) -> float:
        """Share (0..1) of GET/HEAD/PUT requests answered with one of ``error_statuses``."""
        return self._error_rate

    @error_rate.setter
    def error_rate(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"error_rate must be within 0..1, not {value}")
        with self._lock:
            self._error_rate = value

    @property
    def error_statuses(self) -> tuple[int, ...]:
        """Statuses drawn from for random errors."""
        return self._error_statuses

    @error_statuses.setter
    def error_statuses(self, value: Iterable[int]) -> None:
        statuses = tuple(int(s) for s in value)
        if not statuses or any(not 100 <= s <= 599 for s in statuses):
            raise ValueError(f"error_statuses must be HTTP statuses, not {statuses!r}")
        with self._lock:
            self._error_statuses = statuses

    @property
    def hang(self) -> bool:
        """Every request is accepted and never answered."""
        return self._hang

    @hang.setter
    def hang(self, value: bool) -> None:
        with self._lock:
            self._hang = bool(value)

    @property
    def put_hang(self) -> bool:
        """Token PUTs are never answered; GETs still work."""
        return self._put_hang

    @put_hang.setter
    def put_hang(self, value: bool) -> None:
        with self._lock:
            self._put_hang = bool(value)

    @property
    def slow_body(self) -> float:
        """Seconds to wait before each body chunk."""
        return self._slow_body

    @slow_body.setter
    def slow_body(self, value: float) -> None:
        with self._lock:
            self._slow_body = _seconds("slow_body", value)

    @property
    def trickle(self) -> float:
        """Seconds to wait before each byte of every body (0: off)."""
        return self._trickle

    @trickle.setter
    def trickle(self, value: float) -> None:
        with self._lock:
            self._trickle = _seconds("trickle", value)

    # -- one-shot faults ---------------------------------------------------------------

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def burst(
        self, status: int, count: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (e.g. 503 or 429)."""
        if not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status, not {status}")
        self._add(_Rule("status", _count(count), _upper(method), _norm_filter(path), status))

    def drop_next(
        self, count: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Close the connection of the next ``count`` matching requests without a response."""
        self._add(_Rule("drop", _count(count), _upper(method), _norm_filter(path)))

    def reset_mid_body_next(
        self, count: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Send the headers and half the body of the next ``count`` matching responses, then
        reset the connection (TCP RST)."""
        self._add(_Rule("reset", _count(count), _upper(method), _norm_filter(path)))

    def hang_next(
        self, count: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Never answer the next ``count`` matching requests (until the server stops)."""
        self._add(_Rule("hang", _count(count), _upper(method), _norm_filter(path)))

    def redirect_next(
        self,
        count: int = 1,
        *,
        status: int = 301,
        location: str = "http://169.254.169.254/latest/meta-data/",
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with a redirect to ``location``."""
        if not 300 <= status <= 399:
            raise ValueError(f"a redirect status is 3xx, not {status}")
        self._add(
            _Rule("redirect", _count(count), _upper(method), _norm_filter(path), status, location)
        )

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid now (forced expiry or revocation)."""
        if self._on_expire_tokens is not None:
            self._on_expire_tokens()

    @property
    def pending(self) -> int:
        """One-shot faults still to fire (sum of the remaining counts)."""
        with self._lock:
            return sum(r.remaining for r in self._rules)

    def clear(self) -> None:
        """Turn every fault off and forget queued one-shot faults (the seed stream goes on)."""
        with self._lock:
            self._rules.clear()
            self._latency = 0.0
            self._error_rate = 0.0
            self._error_statuses = DEFAULT_ERROR_STATUSES
            self._hang = False
            self._put_hang = False
            self._slow_body = 0.0
            self._trickle = 0.0

    # -- the decision (called by the core, under the shared lock) ----------------------

    def decide(self, method: str, path: str, *, token_put: bool) -> FaultDecision:
        """Consume and return the fault for one request (``kind=None``: answer normally)."""
        with self._lock:
            delay, chunk_delay = self._latency, self._slow_body
            chunk_size = 0
            if self._trickle > 0.0:
                chunk_delay, chunk_size = self._trickle, 1
            if self._hang or (token_put and self._put_hang):
                return FaultDecision("hang", delay=delay)
            for i, rule in enumerate(self._rules):
                if rule.matches(method, path):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        del self._rules[i]
                    return FaultDecision(
                        rule.kind, rule.status, rule.location, delay, chunk_delay, chunk_size
                    )
            if (
                self._error_rate > 0.0
                and method in ("GET", "HEAD", "PUT")
                and self._rng.random() < self._error_rate
            ):
                status = self._rng.choice(self._error_statuses)
                return FaultDecision(
                    "status", status, delay=delay, chunk_delay=chunk_delay, chunk_size=chunk_size
                )
            return FaultDecision(None, delay=delay, chunk_delay=chunk_delay, chunk_size=chunk_size)


def _upper(method: str | None) -> str | None:
    return None if method is None else method.upper()
