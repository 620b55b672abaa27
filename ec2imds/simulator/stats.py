"""Request counters of the simulator, readable from tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["Stats"]


class Stats:
    """Thread-safe counters; every property returns a value (or a copy) taken under the lock.

    * ``requests``: a :class:`collections.Counter` keyed by ``(method, path)``, the path as
      requested (``"/latest/meta-data/placement/"``).
    * ``total``, ``gets``, ``puts``, ``heads``, ``others``: requests by method.
    * ``statuses``: a ``Counter`` of the status codes sent (drops and hangs send none).
    * ``connections``: TCP connections accepted (always 0 in the in-process fake).
    * ``tokens_issued``, ``drops``, ``resets``, ``hangs``: token PUTs answered 200, and the
      socket faults that fired.
    """

    def __init__(self, lock: threading.RLock | None = None) -> None:
        self._lock = lock if lock is not None else threading.RLock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[int] = Counter()
        self._methods: Counter[str] = Counter()
        self._connections = 0
        self._tokens_issued = 0
        self._drops = 0
        self._resets = 0
        self._hangs = 0

    # -- recording (called by the core and the server) ---------------------------------

    def record_request(
        self,
        method: str,
        path: str,
        status: int | None,
        *,
        drop: bool = False,
        reset: bool = False,
        hang: bool = False,
    ) -> None:
        """Count one request; ``status`` is ``None`` when no response was sent."""
        with self._lock:
            self._requests[(method, path)] += 1
            self._methods[method] += 1
            if status is not None:
                self._statuses[status] += 1
            self._drops += drop
            self._resets += reset
            self._hangs += hang

    def record_token(self) -> None:
        """Count one token issued."""
        with self._lock:
            self._tokens_issued += 1

    def record_connection(self) -> None:
        """Count one TCP connection accepted."""
        with self._lock:
            self._connections += 1

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._methods.clear()
            self._connections = 0
            self._tokens_issued = 0
            self._drops = 0
            self._resets = 0
            self._hangs = 0

    # -- reading -----------------------------------------------------------------------

    @property
    def requests(self) -> Counter[tuple[str, str]]:
        """Requests by ``(method, path)`` (a copy)."""
        with self._lock:
            return Counter(self._requests)

    @property
    def statuses(self) -> Counter[int]:
        """Responses by status code (a copy)."""
        with self._lock:
            return Counter(self._statuses)

    @property
    def total(self) -> int:
        """All requests received."""
        with self._lock:
            return sum(self._methods.values())

    @property
    def gets(self) -> int:
        """GET requests."""
        with self._lock:
            return self._methods["GET"]

    @property
    def puts(self) -> int:
        """PUT requests (token requests and others)."""
        with self._lock:
            return self._methods["PUT"]

    @property
    def heads(self) -> int:
        """HEAD requests."""
        with self._lock:
            return self._methods["HEAD"]

    @property
    def others(self) -> int:
        """Requests with any other method."""
        with self._lock:
            return sum(n for m, n in self._methods.items() if m not in ("GET", "PUT", "HEAD"))

    @property
    def connections(self) -> int:
        """TCP connections accepted by the server."""
        with self._lock:
            return self._connections

    @property
    def tokens_issued(self) -> int:
        """Tokens handed out (token PUTs answered 200)."""
        with self._lock:
            return self._tokens_issued

    @property
    def drops(self) -> int:
        """Requests whose connection was closed without a response."""
        with self._lock:
            return self._drops

    @property
    def resets(self) -> int:
        """Responses cut off mid-body."""
        with self._lock:
            return self._resets

    @property
    def hangs(self) -> int:
        """Requests never answered."""
        with self._lock:
            return self._hangs

    def count(self, path: str, method: str | None = None) -> int:
        """Requests for ``path`` (as requested), for one method or for all of them."""
        with self._lock:
            return sum(
                n
                for (m, p), n in self._requests.items()
                if p == path and (method is None or m == method.upper())
            )

    def snapshot(self) -> dict[str, object]:
        """All counters at one instant, as a plain dict (for benchmark reports)."""
        with self._lock:
            return {
                "total": self.total,
                "gets": self.gets,
                "puts": self.puts,
                "heads": self.heads,
                "others": self.others,
                "connections": self._connections,
                "tokens_issued": self._tokens_issued,
                "drops": self._drops,
                "resets": self._resets,
                "hangs": self._hangs,
                "statuses": dict(self._statuses),
                "requests": {f"{m} {p}": n for (m, p), n in self._requests.items()},
            }

    def __repr__(self) -> str:
        s = self.snapshot()
        return (
            f"Stats(total={s['total']}, gets={s['gets']}, puts={s['puts']}, "
            f"connections={s['connections']}, statuses={s['statuses']})"
        )
