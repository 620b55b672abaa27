"""A standard-library driver for the command line's one-shot queries.

``ec2imds --raw meta-data/instance-id`` is called once per value from shell scripts, so
its start-up is most of its cost; importing httpx and pydantic would triple it. This
driver runs the same sans-I/O exchange (:mod:`ec2imds._protocol`: token flow, retries,
status mapping) and the same endpoint race over ``http.client``, one keep-alive
connection per endpoint. No proxy is consulted and no redirect followed (``http.client``
does neither), bodies are capped as in the httpx transport. The library's transport
stays httpx; this serves only leaves whose parser needs no pydantic.
"""

from __future__ import annotations

import http.client
import socket
import time

from ec2imds._driver import SyncDriver
from ec2imds._protocol import Failure, Request, Response
from ec2imds.endpoints import DEFAULT_PORT, Endpoint
from ec2imds.settings import Settings
from ec2imds.tokens import TokenStore

__all__ = ["OneShot"]


class OneShot(SyncDriver):
    """GETs with a token over ``http.client``, one request at a time (see the module
    docstring); the race alone runs two endpoints in parallel, each on its own connection.
    """

    def __init__(
        self, settings: Settings, store: TokenStore | None = None, *, seed: int | None = None
    ) -> None:
        super().__init__(settings, store, seed)
        self._conns: dict[Endpoint, http.client.HTTPConnection] = {}

    def close(self) -> None:
        for conn in list(self._conns.values()):
            conn.close()
        self._conns.clear()

    def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
        started = time.perf_counter()
        return self._logged(request, self._exchange(ep, request), started)

    def _exchange(self, ep: Endpoint, request: Request) -> Response | Failure:
        conn = self._conns.get(ep)
        if conn is None:
            conn = http.client.HTTPConnection(
                ep[0], ep[1] or DEFAULT_PORT, timeout=self.settings.timeout
            )
            try:
                conn.connect()
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except TimeoutError as exc:
                conn.close()
                return Failure("connect_timeout", str(exc) or "timed out")
            except OSError as exc:
                conn.close()
                return Failure("connect", exc.strerror or str(exc))
            self._conns[ep] = conn
        try:
            conn.request(request.method, request.path, headers=dict(request.headers))
            response = conn.getresponse()
            too_big = self._too_large(response.getheader("Content-Length"), request)
            if too_big is not None:
                self._drop(ep)
                return too_big
            limit = self.settings.max_body
            body = response.read(limit + 1)
            if len(body) > limit:
                self._drop(ep)
                return Failure("too_large", request.path)
            if response.will_close:
                self._drop(ep)
            headers = {k.lower(): v for k, v in response.getheaders()}
            return Response(response.status, body, headers)
        except TimeoutError as exc:
            self._drop(ep)
            return Failure("timeout", str(exc) or "timed out")
        except (OSError, http.client.HTTPException) as exc:
            # Dropped, reset or garbled: the connection is gone; a retry opens a new one.
            self._drop(ep)
            return Failure("read", str(exc) or type(exc).__name__)

    def _drop(self, ep: Endpoint) -> None:
        conn = self._conns.pop(ep, None)
        if conn is not None:
            conn.close()
