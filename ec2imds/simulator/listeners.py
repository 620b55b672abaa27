"""A dead listener: an address whose connections never complete, as an IMDS endpoint that
is not enabled looks to a client (the IPv6 endpoint, off by default).

:class:`DeadListener` binds a TCP socket with a listen backlog of 0, fills its accept
queue with one connection of its own and never accepts: the kernel then drops every
further SYN, so a client's connect waits until its own timeout. Nothing is answered,
refused or reset. Works for IPv4 and IPv6 (``[::1]``) alike.
"""

from __future__ import annotations

import select
import socket

from ec2imds._closing import Closing
from ec2imds.endpoints import Endpoint, construct_endpoint_str

__all__ = ["DeadListener"]

#: Connections tried while filling the queue (one is enough on Linux).
_MAX_FILL = 16
#: How long a filling connect may take before the queue counts as full, seconds.
_SETTLE = 0.2


class DeadListener(Closing):
    """A listening socket that never completes a connection (``with DeadListener("::1")
    as dead: dead.endpoint``); ``port=0`` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._fill: list[socket.socket] = []
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, port))
            self._sock.listen(0)
            self.port: int = self._sock.getsockname()[1]
            self._fill_queue(family)
        except BaseException:
            self.close()
            raise

    def _fill_queue(self, family: socket.AddressFamily) -> None:
        """Connect to ourselves until a connect no longer completes: the queue is full."""
        for _ in range(_MAX_FILL):
            conn = socket.socket(family, socket.SOCK_STREAM)
            self._fill.append(conn)
            conn.setblocking(False)
            conn.connect_ex((self.host, self.port))
            _, writable, _ = select.select([], [conn], [], _SETTLE)
            if not writable:
                return
        raise OSError(f"{self.url}: the accept queue does not fill up (backlog 0)")

    @property
    def endpoint(self) -> Endpoint:
        """``(host, port)``, as ``IMDS(endpoints=[...])`` takes it."""
        return (self.host, self.port)

    @property
    def url(self) -> str:
        return f"http://{construct_endpoint_str(self.endpoint)}"

    def close(self) -> None:
        for conn in self._fill:
            conn.close()
        self._fill.clear()
        self._sock.close()
