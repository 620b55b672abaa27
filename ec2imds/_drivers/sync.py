"""The blocking driver: :class:`SyncDriver`.

A sync driver runs the flows of :mod:`ec2imds._protocol` with the blocking runner
(:func:`ec2imds._flow.run`) and a thread lock per endpoint, the endpoint race
(:meth:`~ec2imds._drivers.base.DriverBase._race`) too, its attempts on daemon threads; a
concrete driver only says how one request is sent
(:meth:`SyncDriver._send`): over :mod:`ec2imds._drivers.http11`
(:class:`~ec2imds._drivers.default.DefaultDriver`) or over httpx
(:class:`~ec2imds._drivers.httpx.HttpxDriver`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ec2imds._closing import Closing
from ec2imds._drivers.base import DriverBase, _no_ask
from ec2imds._flow import IO, Flow, run
from ec2imds._protocol import Failure, Request, Response, exchange, token_flow
from ec2imds.endpoints import Endpoint
from ec2imds.errors import IMDSUnavailable
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
        return self._with_endpoint(lambda ep: exchange(self._sessions[ep], method, full, self._rng))

    def token(self) -> Token:
        """A usable session token (a PUT only when none is cached)."""
        self._check_enabled()
        return self._with_endpoint(lambda ep: token_flow(self._sessions[ep], self._rng))

    def _with_endpoint(self, flow: Callable[[Endpoint], Flow[T]]) -> T:
        """Run ``flow`` on the chosen endpoint, or race the endpoints to choose one."""
        chosen = failed = self._chosen
        if chosen is not None:
            try:
                return run(flow(chosen), self._io(chosen))
            except IMDSUnavailable:
                if not self._race_again():
                    raise
        with self._race_lock:
            if self._chosen is not None:  # another thread decided meanwhile
                return run(flow(self._chosen), self._io(self._chosen))
            return run(self._race(flow, failed), IO(_no_ask))

    def _io(self, ep: Endpoint) -> IO:
        return IO(lambda request: self._send(ep, request), self._locks[ep])

    def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        """Send one request to ``ep``; a transport failure is returned, never raised."""
        raise NotImplementedError
