"""Servers that answer with bytes, for the tests of what goes over the wire.

:class:`RawServer` answers each request with whatever bytes its ``answer`` function
returns, then closes the connection, as EC2 does: the tests use it to replay answers
recorded from real instances (:data:`RECORDED`) and to play other servers' quirks
(:class:`AEMMLike`, Amazon's own mock as IMDS.md §1.7 describes it). Loopback only.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

from ec2imds.catalog import default_tree
from ec2imds.endpoints import Endpoint

__all__ = ["RECORDED", "RECORDED_TOKEN", "AEMMLike", "RawServer", "http_answer", "read_answer"]

Answer = Callable[[str, str, Mapping[str, str]], bytes]


def http_answer(
    status: str, body: bytes, headers: Mapping[str, str] | None = None, *, version: str = "1.1"
) -> bytes:
    """An answer as EC2 frames it: status line, ``Content-Length`` (left out when
    ``headers`` sets it to ``""``), ``Server: EC2ws``, ``Connection: close``, the given
    headers, the body."""
    lines = [f"HTTP/{version} {status}"]
    head = {"Content-Length": str(len(body)), "Server": "EC2ws", "Connection": "close"}
    head.update(headers or {})
    lines += [f"{name}: {value}" for name, value in head.items() if value]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_answer(sock: socket.socket) -> bytes:
    """Everything the peer sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


class RawServer:
    """A loopback HTTP server whose answers are bytes: ``answer(method, path, headers)``
    for each request, written as they are, then the connection is closed."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.endpoint: Endpoint = ("127.0.0.1", self.sock.getsockname()[1])
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.endpoint[1]}"

    def _serve(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            try:
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
            except OSError:
                return
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            with self._lock:
                self.requests.append((method, path))
            try:
                conn.sendall(self.answer(method, path, headers))
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                return

    def gets(self) -> list[str]:
        with self._lock:
            return [path for method, path in self.requests if method == "GET"]

    def close(self) -> None:
        self._stop.set()
        self._accept.join(10)
        self.sock.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- answers recorded from real instances (IMDS.md §1.7) ---------------------------------

RECORDED_TOKEN = b"AQAEAFUmdlJ1Y5ZqVgG6p2zV8Pj0nqbv2Qp1dW9sTzJtQ0xXbU5HZz09"
_DATE = {"Date": "Tue, 14 Mar 2023 09:30:01 GMT"}
_PLAIN = {
    "Content-Type": "text/plain",
    "Accept-Ranges": "none",
    "Last-Modified": "Tue, 14 Mar 2023 09:12:44 GMT",
    **_DATE,
}
_NOT_FOUND = b"""\
<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>404 - Not Found</title>
 </head>
 <body>
  <h1>404 - Not Found</h1>
 </body>
</html>
"""
IAM_INFO = b"""{
  "Code" : "Success",
  "LastUpdated" : "2022-11-08T10:02:53Z",
  "InstanceProfileArn" : "arn:aws:iam::123456789012:instance-profile/web",
  "InstanceProfileId" : "AIPAXXXXXXXXXXXXXXXXX"
}"""
USER_DATA = b"#!/bin/bash\n\x00\xff binary \xfe and no Content-Length: the close ends it\n"

#: Path -> the answer bytes, as curl -v transcripts of real instances show them.
RECORDED: dict[tuple[str, str], bytes] = {
    ("PUT", "/latest/api/token"): http_answer(
        "200 OK",
        RECORDED_TOKEN,
        {"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": "21600", **_DATE, "Content-Type": "text/plain"},
    ),
    ("GET", "/latest/meta-data/instance-id"): http_answer("200 OK", b"i-0c7a1b2c3d4e5f607", _PLAIN),
    ("GET", "/latest/meta-data/iam/info"): http_answer("200 OK", IAM_INFO, _PLAIN),
    # Answered as HTTP/1.0, without Content-Length: the body ends when the connection does.
    ("GET", "/latest/user-data"): http_answer(
        "200 OK",
        USER_DATA,
        {**_PLAIN, "Content-Type": "application/octet-stream", "Content-Length": ""},
        version="1.0",
    ),
    ("GET", "/latest/meta-data/iam/security-credentials"): http_answer(
        "301 Moved Permanently",
        b"",
        {
            "Location": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            **_DATE,
        },
    ),
    ("GET", "/latest/api/token"): http_answer(
        "405 Method Not Allowed", b"", {"Allow": "OPTIONS, PUT", **_DATE}
    ),
}


def recorded(method: str, path: str, headers: Mapping[str, str]) -> bytes:
    """The recorded answer to a request, or EC2's 404 page."""
    found = RECORDED.get((method, path))
    if found is not None:
        return found
    return http_answer("404 Not Found", _NOT_FOUND, {"Content-Type": "text/html", **_DATE})


# -- a server that behaves like AEMM (IMDS.md §1.7) --------------------------------------

#: Names AEMM lists both as a leaf and as a directory.
_LISTED_TWICE = frozenset({"associations", "security-credentials"})
EIA_ID = "eia-bfa21c7904f64a82a21b9f4540169ce1"
EIA = b'{"version_2018_04_12": {"elastic-inference-accelerator-id": "%s", "elastic-inference-accelerator-type": "eia1.medium"}}'  # noqa: E501
AEMM_TOKEN = "aemm-token"


def aemm_tree() -> dict[str, Any]:
    """The default instance as AEMM would serve it: no ``ipv6``, public keys under ``0/``,
    an Elastic Inference accelerator."""
    tree: dict[str, Any] = default_tree()
    md = tree["meta-data"]
    md.pop("ipv6", None)
    md["public-keys"] = {k.split("=", 1)[0]: v for k, v in md["public-keys"].items()}
    md["elastic-inference"] = {"associations": {EIA_ID: (EIA % EIA_ID.encode()).decode()}}
    return tree


class AEMMLike:
    """Answers as Amazon's mock does where it differs from EC2: every name it serves as
    a directory in ``_LISTED_TWICE`` is listed both as ``x`` and ``x/``; the leaf form
    answers the listing; a path it does not serve answers 200 with another listing
    (substring matching: ``meta-data/ipv6`` gets ``network/``); public keys are listed
    as ``0/``. Tokens as IMDSv2 (any TTL header gets the one token)."""

    def __init__(self, tree: dict[str, Any] | None = None) -> None:
        self.tree = tree if tree is not None else aemm_tree()
        self.server = RawServer(self.answer)

    def _listing(self, node: dict[str, Any]) -> bytes:
        names: list[str] = []
        for key, value in node.items():
            if isinstance(value, dict):
                if key in _LISTED_TWICE:
                    names.append(key)
                names.append(key + "/")
            else:
                names.append(key)
        return "\n".join(names).encode()

    def answer(self, method: str, path: str, headers: Mapping[str, str]) -> bytes:
        plain = {"Content-Type": "text/plain"}
        if path == "/latest/api/token":
            if method != "PUT":
                return http_answer("405 Method Not Allowed", b"")
            ttl = headers.get("x-aws-ec2-metadata-token-ttl-seconds", "21600")
            return http_answer(
                "200 OK",
                AEMM_TOKEN.encode(),
                {"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": ttl, **plain},
            )
        if headers.get("x-aws-ec2-metadata-token") != AEMM_TOKEN:
            return http_answer("401 Unauthorized", b"")
        rest = path.removeprefix("/latest/")
        node: Any = self.tree
        for segment in [s for s in rest.split("/") if s]:
            node = node.get(segment) if isinstance(node, dict) else None
        if node is None:
            return http_answer("200 OK", b"network/", plain)  # substring matching's junk
        if isinstance(node, dict):
            return http_answer("200 OK", self._listing(node), plain)
        body = node if isinstance(node, bytes) else str(node).encode()
        return http_answer("200 OK", body, plain)

    @property
    def endpoint(self) -> Endpoint:
        return self.server.endpoint

    def close(self) -> None:
        self.server.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
