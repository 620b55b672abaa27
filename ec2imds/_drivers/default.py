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
from ec2imds.settings import Settings
from ec2imds.tokens import TokenStore

__all__ = ["USER_AGENT", "DefaultDriver"]

USER_AGENT = f"ec2imds/{__version__}"


class DefaultDriver(SyncDriver):
    """GETs with a token over :mod:`ec2imds._drivers.http11`; thread-safe, one connection per
    request in flight (kept alive when the server allows it), at most
    ``Settings.concurrency`` requests in flight however many threads ask."""

    def __init__(
        self, settings: Settings, store: TokenStore | None = None, *, seed: int | None = None
    ) -> None:
        super().__init__(settings, store, seed)
        self._idle: dict[Endpoint, list[Connection]] = {ep: [] for ep in settings.endpoints}
        self._pool_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(settings.concurrency)
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
            except TimeoutError as exc:
                conn.close()
                return Failure("connect_timeout", str(exc) or "timed out")
            except OSError as exc:
                conn.close()
                return Failure("connect", exc.strerror or str(exc))
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
        except BodyTooLarge as exc:
            conn.close()
            return Failure("too_large", f"{request.path}: {exc}")
        except DeadlineExceeded:
            conn.close()
            return self._late()
        except TimeoutError as exc:
            conn.close()
            return Failure("timeout", str(exc) or "timed out")
        except ProtocolError as exc:
            conn.close()
            return Failure("protocol", str(exc))
        except OSError as exc:
            # Dropped or reset (IncompleteBody is a ConnectionError): a retry reconnects.
            conn.close()
            return Failure("read", str(exc) or type(exc).__name__)
        if conn.reusable:
            with self._pool_lock:
                self._idle[ep].append(conn)
        else:
            conn.close()
        return Response(status, body, headers)
