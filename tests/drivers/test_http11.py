"""The one-shot driver's minimal HTTP/1.1 client, against scripted and fuzzed peers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ec2imds._drivers.http11 import (
    BodyTooLarge,
    Connection,
    DeadlineExceeded,
    IncompleteBody,
    ProtocolError,
)
from tests.support.properties import examples

ERRORS = (ProtocolError, IncompleteBody, BodyTooLarge, TimeoutError, ConnectionError)


def over(sock: socket.socket) -> Connection:
    """A connection over an already connected socket (one end of a socket pair)."""
    conn = Connection("127.0.0.1", 80, sock.gettimeout() or 1.0, "ec2imds/test")
    conn._sock = sock
    return conn


class Peer:
    """The server end of a socket pair: records the request, answers with given bytes."""

    def __init__(self, answer: bytes, close: bool = True) -> None:
        self.client, self.server = socket.socketpair()
        self.client.settimeout(2.0)
        self.request = b""
        self._answer = answer
        self._close = close
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.server.settimeout(2.0)
        try:
            while b"\r\n\r\n" not in self.request:
                data = self.server.recv(4096)
                if not data:
                    return
                self.request += data
            self.server.sendall(self._answer)
        except OSError:
            return
        finally:
            if self._close:
                self.server.close()

    def connection(self) -> Connection:
        return over(self.client)

    def done(self) -> None:
        self.client.close()  # a peer still waiting for a request (none was sent) stops now
        self._thread.join(3)
        self.server.close()


@pytest.fixture
def peer_factory() -> Iterator[list[Peer]]:
    peers: list[Peer] = []
    yield peers
    for p in peers:
        p.done()


def ask(
    peers: list[Peer], answer: bytes, *, method: str = "GET", limit: int = 1024
) -> tuple[int, dict[str, str], bytes]:
    peer = Peer(answer)
    peers.append(peer)
    return peer.connection().request(method, "/latest/x", {"X-aws-ec2-metadata-token": "t"}, limit)


def test_content_length_and_request_shape(peer_factory: list[Peer]) -> None:
    status, headers, body = ask(
        peer_factory, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"
    )
    assert (status, headers["x-a"], body) == (200, "b", b"hello")
    request = peer_factory[0].request.decode()
    assert request.startswith("GET /latest/x HTTP/1.1\r\n")
    assert "Host: 127.0.0.1:80\r\n" in request
    assert "X-aws-ec2-metadata-token: t\r\n" in request


def test_put_sends_an_empty_body(peer_factory: list[Peer]) -> None:
    ask(peer_factory, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", method="PUT")
    assert "Content-Length: 0\r\n" in peer_factory[0].request.decode()


def test_chunked_body(peer_factory: list[Peer]) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = head + b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
    assert ask(peer_factory, answer)[2] == b"abcde"


def test_close_delimited_body(peer_factory: list[Peer]) -> None:
    assert ask(peer_factory, b"HTTP/1.0 200 OK\r\n\r\nuntil close")[2] == b"until close"


def test_keep_alive_reuse(peer_factory: list[Peer]) -> None:
    peer = Peer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False)
    peer_factory.append(peer)
    conn = peer.connection()
    assert conn.request("GET", "/a", {}, 100)[2] == b"ok"
    assert conn.reusable


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"", IncompleteBody),
        (b"SSH-2.0-OpenSSH\r\n\r\n", ProtocolError),
        (b"HTTP/1.1 abc OK\r\n\r\n", ProtocolError),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", ProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", IncompleteBody),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ProtocolError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", BodyTooLarge),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ProtocolError),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", ProtocolError),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + b"x" * 2048,
            BodyTooLarge,
        ),
        (b"HTTP/1.1 200 OK\r\n" + b"A: b\r\n" * 200 + b"\r\n", ProtocolError),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 10000 + b"\r\n\r\n", ProtocolError),
        (b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * 5000, BodyTooLarge),
    ],
)
def test_bad_answers_raise_one_of_the_documented_errors(
    peer_factory: list[Peer], answer: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        ask(peer_factory, answer)


class Trickle:
    """A peer that sends its answer one byte at a time, ``gap`` seconds apart (each
    read is well within the connection's timeout), until it is closed."""

    def __init__(self, answer: bytes, gap: float = 0.05) -> None:
        self.client, self.server = socket.socketpair()
        self.client.settimeout(2.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(answer, gap), daemon=True)
        self._thread.start()

    def _serve(self, answer: bytes, gap: float) -> None:
        try:
            for i in range(len(answer)):
                if self._stop.wait(gap):
                    return
                self.server.sendall(answer[i : i + 1])
        except OSError:
            return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3)
        self.client.close()
        self.server.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + b"X-Padding: " + b"p" * 200 + b"\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n" + b"x" * 300,
    ],
    ids=["head", "body"],
)
def test_a_trickled_answer_ends_at_the_deadline(answer: bytes) -> None:
    peer = Trickle(answer)  # 10+ s to send it all
    try:
        conn = over(peer.client)
        with pytest.raises(DeadlineExceeded):
            conn.request("GET", "/", {}, 1 << 20, deadline=time.monotonic() + 0.3)
    finally:
        peer.close()


def test_a_silent_peer_is_a_timeout_not_a_deadline() -> None:
    client, server = socket.socketpair()
    try:
        client.settimeout(0.3)
        conn = over(client)
        with pytest.raises(TimeoutError) as info:
            conn.request("GET", "/", {}, 1 << 20, deadline=time.monotonic() + 0.3)
        assert not isinstance(info.value, DeadlineExceeded)
    finally:
        client.close()
        server.close()


def test_header_injection_is_refused(peer_factory: list[Peer]) -> None:
    peer = Peer(b"")
    peer_factory.append(peer)
    with pytest.raises(ProtocolError, match="split"):
        peer.connection().request("GET", "/x", {"X-A": "a\r\nEvil: 1"}, 10)


@settings(max_examples=examples(150), deadline=None)
@given(st.binary(max_size=600))
def test_any_answer_is_a_response_or_a_documented_error(answer: bytes) -> None:
    peer = Peer(answer)
    try:
        status, headers, body = peer.connection().request("GET", "/x", {}, 256)
    except ERRORS:
        return
    finally:
        peer.done()
    assert 100 <= status <= 599
    assert len(body) <= 256
    assert all(k == k.lower() for k in headers)
