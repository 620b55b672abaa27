"""Loopback ports that never answer: a listener that accepts and stays silent, a port
nobody listens on."""

from __future__ import annotations

import socket
import threading

from ec2imds.endpoints import Endpoint


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Listener:
    """A loopback TCP listener that counts connections and never answers."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_server((host, 0))
        self.endpoint: Endpoint = (host, self.sock.getsockname()[1])
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):  # not a TimeoutError before Python 3.10
                continue
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        for conn in self._conns:
            conn.close()
        self.sock.close()


def closed_endpoint() -> Endpoint:
    """A loopback endpoint nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return ("127.0.0.1", port)
