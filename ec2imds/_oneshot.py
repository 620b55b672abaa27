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
import random
import socket
import threading
from collections.abc import Callable, Generator
from typing import TypeVar

from ec2imds._protocol import (
    Answer,
    EndpointSession,
    Failure,
    Request,
    Response,
    Step,
    drive,
    exchange,
    token_flow,
)
from ec2imds.endpoints import DEFAULT_PORT, Endpoint, race
from ec2imds.errors import IMDSDisabled, IMDSError, IMDSUnavailable
from ec2imds.settings import Settings
from ec2imds.tokens import Token, TokenStore

__all__ = ["OneShot"]

T = TypeVar("T")


class OneShot:
    """GETs with a token, sequentially, over ``http.client``; see the module docstring."""

    def __init__(self, settings: Settings, store: TokenStore) -> None:
        self.settings = settings
        self._sessions = {ep: EndpointSession(ep, store, settings) for ep in settings.endpoints}
        self._locks = {ep: threading.Lock() for ep in settings.endpoints}
        self._conns: dict[Endpoint, http.client.HTTPConnection] = {}
        self._chosen: Endpoint | None = (
            settings.endpoints[0] if len(settings.endpoints) == 1 else None
        )
        self._rng = random.Random()

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    @property
    def endpoint(self) -> Endpoint | None:
        """The endpoint in use (None before the race has been decided)."""
        return self._chosen

    @property
    def token_puts(self) -> int:
        """Token PUTs sent, over all endpoints."""
        return sum(s.puts for s in self._sessions.values())

    def get(self, path: str) -> bytes | None:
        """The body at ``path`` (relative to ``/latest/``, or absolute), None on 404."""
        full = path if path.startswith("/") else "/latest/" + path
        response = self._with_endpoint(
            lambda ep: self._run(ep, exchange(self._sessions[ep], "GET", full, self._rng))
        )
        return None if response.status == 404 else response.body

    def token(self) -> Token:
        """A usable session token (a PUT only when none is cached or stored)."""
        return self._with_endpoint(
            lambda ep: self._run(ep, token_flow(self._sessions[ep], self._rng))
        )

    def _run(self, ep: Endpoint, flow: Generator[Step, Answer, T]) -> T:
        return drive(flow, lambda request: self._send(ep, request), self._locks[ep])

    def _with_endpoint(self, call: Callable[[Endpoint], T]) -> T:
        if self.settings.disabled:
            raise IMDSDisabled("IMDS is disabled by AWS_EC2_METADATA_DISABLED=true")
        chosen = self._chosen
        if chosen is not None:
            try:
                return call(chosen)
            except IMDSUnavailable:
                if len(self.settings.endpoints) == 1:
                    raise
                self._chosen = None  # the winner went away: race again
        self._chosen, outcome = race(self.settings.endpoints, call, self.settings.race_delay)
        if isinstance(outcome, IMDSError):
            raise outcome
        return outcome

    def _send(self, ep: Endpoint, request: Request) -> Response | Failure:
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
            limit = self.settings.max_body
            declared = response.getheader("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                self._drop(ep)
                return Failure("too_large", f"{request.path}: Content-Length {declared}")
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
