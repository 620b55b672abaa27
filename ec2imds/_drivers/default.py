"""The default sync driver: :class:`DefaultDriver`, the command line's and
:class:`~ec2imds.client.IMDS`'s (standard library only).

``ec2imds --raw meta-data/instance-id`` is called once per value from shell scripts, so
its start-up is most of its cost; importing httpx and pydantic would triple it. And EC2
closes the connection after every answer, so a crawl is a new TCP connection per request
and the client's CPU per request is what it costs: httpx's is about twice this one's. This
driver runs the same sans-I/O exchange (:mod:`ec2imds._protocol`: token flow, retries,
status mapping) and the same endpoint race over a minimal HTTP/1.1 connection
(:mod:`ec2imds._drivers.http11`), kept alive when the server allows it. No proxy is consulted
and no redirect followed, bodies are capped as in the httpx driver.
"""

from __future__ import annotations

import threading
import time

from ec2imds import __version__
from ec2imds._drivers.http11 import BodyTooLarge, Connection, DeadlineExceeded, ProtocolError
from ec2imds._drivers.sync import SyncDriver
from ec2imds._protocol import Failure, Request, Response
from ec2imds.endpoints import DEFAULT_PORT, Endpoint

__all__ = ["USER_AGENT", "DefaultDriver", "connect_failure", "failure"]

USER_AGENT = f"ec2imds/{__version__}"


class DefaultDriver(SyncDriver):
    """GETs with a token over :mod:`ec2imds._drivers.http11`; thread-safe, one connection per
    request in flight (kept alive when the server allows it), at most
    ``Settings.concurrency`` requests in flight however many threads ask."""

    def _opened(self) -> None:
        super()._opened()
        endpoints = self.settings.endpoints
        self._idle: dict[Endpoint, list[Connection]] = {ep: [] for ep in endpoints}
        self._pool_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.settings.concurrency)
        #: TCP connections opened so far (a count, for tests and benchmarks).
        self.connections = 0

    def close(self) -> None:
        with self._pool_lock:
            idle = [conn for conns in self._idle.values() for conn in conns]
            for conns in self._idle.values():
                conns.clear()
        for conn in idle:
            conn.close()

    def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        with self._slots:
            started = time.perf_counter()
            return self._logged(request, self._exchange(ep, request), started)

    def _exchange(self, ep: Endpoint, request: Request) -> Response | Failure:
        with self._pool_lock:
            conn = self._idle[ep].pop() if self._idle[ep] else None
        if conn is None:
            conn = Connection(ep[0], ep[1] or DEFAULT_PORT, self.settings.timeout, USER_AGENT)
            try:
                conn.connect()
            except OSError as exc:
                conn.close()
                return connect_failure(exc)
            with self._pool_lock:
                self.connections += 1
        deadline = time.monotonic() + self.settings.timeout
        try:
            status, headers, body = conn.request(
                request.method,
                request.path,
                dict(request.headers),
                self.settings.max_body,
                deadline,
            )
        except Exception as exc:
            conn.close()
            return failure(exc, request, self._late())
        if conn.reusable:
            with self._pool_lock:
                self._idle[ep].append(conn)
        else:
            conn.close()
        return Response(status, body, headers)


def connect_failure(exc: OSError) -> Failure:
    """A connection that could not be opened, for the protocol (both default drivers)."""
    if isinstance(exc, TimeoutError):
        return Failure("connect_timeout", str(exc) or "timed out")
    return Failure("connect", exc.strerror or str(exc))


def failure(exc: Exception, request: Request, late: Failure, *, began: bool = False) -> Failure:
    """What a request that raised is, for the protocol: the one table of both default
    drivers (``late``: the answer began but a deadline cut it; ``began`` says so of a
    plain timeout). Anything but the connection's own errors is raised again."""
    if isinstance(exc, BodyTooLarge):
        return Failure("too_large", f"{request.path}: {exc}")
    if isinstance(exc, DeadlineExceeded) or (began and isinstance(exc, TimeoutError)):
        return late
    if isinstance(exc, TimeoutError):
        return Failure("timeout", str(exc) or "timed out")
    if isinstance(exc, ProtocolError):
        return Failure("protocol", str(exc))
    if isinstance(exc, OSError):
        # Dropped or reset (IncompleteBody is a ConnectionError): a retry reconnects.
        return Failure("read", str(exc) or type(exc).__name__)
    raise exc
