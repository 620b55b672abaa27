"""The simulator served over real sockets on loopback, as EC2 serves IMDS.

:class:`IMDSSimulator` holds a :class:`~ec2imds.simulator.protocol.SimulatorCore` (its
``core``) and runs a :class:`~http.server.ThreadingHTTPServer` in a background thread
that hands every request it receives to :meth:`IMDSSimulator.handle`; this module only
carries out the core's answers (delays, hangs, drops, resets, slow bodies).  Like EC2
(docs/imds.md, 'On the wire'), every answer says ``Connection: close`` and the connection
is closed after it, even when the client asks for keep-alive; ``keep_alive=True`` keeps
HTTP/1.1 connections open instead, for comparisons.  :meth:`IMDSSimulator.stop` closes
idle connections and releases hanging handlers, then joins every thread it started.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ec2imds.simulator.controls import SimulatorControls
from ec2imds.simulator.protocol import SimResponse, SimulatorCore
from ec2imds.simulator.stats import Stats
from ec2imds.simulator.tree import TreeLike

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["IMDSSimulator"]

_MAX_REQUEST_BODY = 1 << 16


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    _reset = False

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # the peer's delayed ACK add ~40 ms to every keep-alive request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return "EC2ws"

    def send_response(self, code: int, message: str | None = None) -> None:
        # The core's answer carries Server and Date itself (the in-process fake sends the
        # same headers); BaseHTTPRequestHandler.send_response would add them twice.
        self.log_request(code)
        self.send_response_only(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def handle_one_request(self) -> None:
        # Any method reaches the core (which answers 405), unlike the do_<METHOD> lookup.
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline or self.server.stopping.is_set():
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._discard_request_body()
            self._answer(self.server.answer(self.command, self.path, dict(self.headers.items())))
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _discard_request_body(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # not worth decoding; answer, then close
            return
        try:
            length = int(self.headers.get("Content-Length", "0") or "0")
        except ValueError:
            length = 0
        if length > _MAX_REQUEST_BODY:
            self.close_connection = True
        elif length > 0:
            self.rfile.read(length)

    def _answer(self, resp: SimResponse) -> None:
        stopping = self.server.stopping
        if resp.delay > 0.0 and stopping.wait(resp.delay):
            self.close_connection = True
            return
        if resp.hang:
            stopping.wait()
            self.close_connection = True
            return
        if resp.drop:
            self.close_connection = True
            return
        if not self.server.keep_alive:
            self.close_connection = True
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if resp.reset_after is not None:
            self.wfile.write(resp.body[: resp.reset_after])
            self._reset = True
            self.close_connection = True
        elif resp.chunk_delay > 0.0:
            for chunk in resp.chunks():
                if stopping.wait(resp.chunk_delay):
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
        elif resp.body:
            self.wfile.write(resp.body)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._reset:
                # Close with SO_LINGER 0 so the peer sees a reset, not an orderly end.
                try:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                except OSError:
                    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        answer: Callable[[str, str, Mapping[str, str]], SimResponse],
        stats: Stats,
        verbose: bool,
        keep_alive: bool,
    ) -> None:
        self.answer = answer
        self.stats = stats
        self.verbose = verbose
        self.keep_alive = keep_alive
        self.stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._handlers: list[threading.Thread] = []
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() would resolve the host name (socket.getfqdn): skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        # Like ThreadingMixIn.process_request, but daemon threads are tracked too, so
        # server_close() can join them (the stdlib only joins non-daemon threads).
        with self._conns_lock:
            self._conns.add(request)
            self._handlers = [t for t in self._handlers if t.is_alive()]
            thread = threading.Thread(
                target=self.process_request_thread,
                args=(request, client_address),
                name=f"ec2imds-simulator-conn:{self.server_port}",
                daemon=True,
            )
            self._handlers.append(thread)
        self.stats.record_connection()
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def wake_connections(self) -> None:
        """Unblock every handler (idle keep-alive reads end with EOF)."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def join_handlers(self, timeout: float) -> None:
        """Wait (up to ``timeout`` seconds in all) for every handler thread to end."""
        deadline = time.monotonic() + timeout
        with self._conns_lock:
            handlers, self._handlers = self._handlers, []
        for thread in handlers:
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Connection errors are the peer's business; anything else is a bug worth seeing.
        if self.verbose or not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def reachable_url(host: str, port: int) -> str:
    """Where a client on this machine reaches a server bound to ``host`` (what a 301's
    ``Location`` names): loopback for a wildcard bind."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server6(_Server):
    address_family = socket.AF_INET6


class IMDSSimulator(SimulatorControls):
    """An IMDS on loopback, for tests and benchmarks.

    ``tree`` is the instance to serve (``None``: the default instance, built from the
    catalog's examples: :func:`ec2imds.simulator.instance.default_tree`).  Binds
    ``host`` (IPv6 literals such as ``"::1"`` included) on ``port`` (0: any free port).
    ``allow_v1`` answers token-less GETs; ``latency`` (seconds) delays every answer;
    ``seed`` makes the random faults reproducible; ``verbose`` logs requests to stderr;
    ``clock`` replaces :func:`time.monotonic` for token expiry and scheduled changes;
    ``keep_alive`` keeps connections open between requests (EC2 closes them: the default);
    ``disabled`` answers 403 to everything, as an instance with ``HttpEndpoint=disabled``.

    Use as a context manager (``with IMDSSimulator(tree) as sim: ...``) or call
    :meth:`start` / :meth:`stop`.  The work is done by one
    :class:`~ec2imds.simulator.protocol.SimulatorCore`, :attr:`core`, whose controls are
    offered here (:class:`~ec2imds.simulator.controls.SimulatorControls`): ``stats``,
    ``faults``, ``get``, ``set``, ``delete``, ``schedule``, ``snapshot``,
    ``expire_tokens``, the ``inject_*`` events, ``set_lifecycle_state``, ``allow_v1`` and
    ``disabled``.
    """

    def __init__(
        self,
        tree: TreeLike | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_v1: bool = False,
        latency: float = 0.0,
        seed: int = 0,
        verbose: bool = False,
        clock: Callable[[], float] | None = None,
        keep_alive: bool = False,
        disabled: bool = False,
    ) -> None:
        #: The simulator without sockets: what every request is handed to.
        self.core = SimulatorCore(tree, allow_v1=allow_v1, latency=latency, seed=seed, clock=clock)
        self.core.disabled = disabled
        self.keep_alive = keep_alive
        self._host = host
        self._port = port
        self._verbose = verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and start serving in a background thread; returns ``self``."""
        with self._state_lock:
            if self._server is not None:
                raise RuntimeError("the simulator is already running")
            cls = _Server6 if ":" in self._host else _Server
            server = cls(
                (self._host, self._port),
                # Looked up per request, so a test can wrap ``sim.handle`` while it serves.
                lambda method, path, headers: self.handle(method, path, headers),
                self.core.stats,
                self._verbose,
                self.keep_alive,
            )
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"ec2imds-simulator:{server.server_port}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            self.core.base_url = reachable_url(self._host, self.port)
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection (idle or hanging) and join all threads.

        Idempotent.  Returns once the listening socket is closed and no thread is left.
        """
        with self._state_lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None or thread is None:
            return
        server.stopping.set()
        server.shutdown()
        thread.join()
        server.wake_connections()
        server.server_close()
        server.join_handlers(timeout=10.0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where it listens --------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    @property
    def host(self) -> str:
        """The host bound (as given, e.g. ``127.0.0.1`` or ``::1``)."""
        return self._host

    @property
    def port(self) -> int:
        """The port bound (the chosen one once started with ``port=0``)."""
        server = self._server
        if server is not None:
            return server.server_port
        if self._port == 0:
            raise RuntimeError("the simulator is not running: no port chosen yet")
        return self._port

    @property
    def endpoint(self) -> tuple[str, int]:
        """``(host, port)``."""
        return (self._host, self.port)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (an IPv6 host in brackets)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point AWS SDKs (and ec2imds) at this simulator."""
        return {"AWS_EC2_METADATA_SERVICE_ENDPOINT": self.url}

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<IMDSSimulator {where}>"
