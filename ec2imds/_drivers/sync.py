"""The blocking driver: :class:`SyncDriver`.

A sync driver runs the flows of :mod:`ec2imds._protocol` with the blocking runner
(:func:`ec2imds._flow.run`), a thread lock per endpoint, and the threaded endpoint race
(:mod:`ec2imds._drivers.race`); a concrete driver only says how one request is sent
(:meth:`SyncDriver._send`): over :mod:`ec2imds._drivers.http11`
(:class:`~ec2imds._drivers.default.DefaultDriver`) or over httpx
(:class:`~ec2imds._drivers.httpx.HttpxDriver`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, TypeVar

from ec2imds._closing import Closing
from ec2imds._drivers.base import DriverBase
from ec2imds._drivers.race import race
from ec2imds._flow import IO, run
from ec2imds._log import log
from ec2imds._protocol import Answer, Failure, Request, Response, Step, exchange, token_flow
from ec2imds.endpoints import Endpoint
from ec2imds.errors import IMDSError, IMDSUnavailable
from ec2imds.tokens import Token

if TYPE_CHECKING:
    pass

__all__ = ["SyncDriver"]

T = TypeVar("T")


class SyncDriver(DriverBase, Closing):
    """The blocking driver: thread-safe requests, single-flight tokens, the race."""

    def _opened(self) -> None:
        self._locks = {ep: threading.Lock() for ep in self.settings.endpoints}
        self._race_lock = threading.Lock()

    def close(self) -> None:
        """Close the connections."""
        raise NotImplementedError

    def get(self, path: str) -> bytes | None:
        """The body at ``path`` (relative to ``/latest/`` or absolute), None on 404."""
        response = self.request("GET", path)
        return None if response.status == 404 else response.body

    def request(self, method: str, path: str) -> Response:
        """Send ``method path`` with a token; a 200 or 404 :class:`Response`, or raises."""
        self._check_enabled()
        full = self._path(path)
        return self._with_endpoint(
            lambda ep: self._run(ep, exchange(self._sessions[ep], method, full, self._rng))
        )

    def token(self) -> Token:
        """A usable session token (a PUT only when none is cached)."""
        self._check_enabled()
        return self._with_endpoint(
            lambda ep: self._run(ep, token_flow(self._sessions[ep], self._rng))
        )

    def _with_endpoint(self, call: Callable[[Endpoint], T]) -> T:
        chosen = failed = self._chosen
        if chosen is not None:
            try:
                return call(chosen)
            except IMDSUnavailable:
                if len(self.settings.endpoints) == 1:
                    raise
                log.info("endpoint unreachable; racing the endpoints again")
                self._chosen = None
        with self._race_lock:
            if self._chosen is not None:  # another thread decided meanwhile
                return call(self._chosen)
            first = self._head_start(failed)
            winner, outcome = race(self.settings.endpoints, call, self.settings.race_delay, first)
            self._chosen = winner
            self._won(winner)
        if isinstance(outcome, IMDSError):
            raise outcome
        return outcome

    def _run(self, ep: Endpoint, flow: Generator[Step, Answer, T]) -> T:
        return run(flow, IO(lambda request: self._send(ep, request), self._locks[ep]))

    def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        """Send one request to ``ep``; a transport failure is returned, never raised."""
        raise NotImplementedError
