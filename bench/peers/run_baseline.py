"""Runner for a baseline: bare standard-library crawlers (``http.client``, sockets), no SDK.

Not a peer: it shows what the simulator plus the thinnest possible client cost on this
machine, so a crawl's distance from the latency floor can be split into "client CPU" and
"what any client pays here". It walks the same tree the way ec2imds does (roots
``meta-data/``, ``dynamic/``, ``user-data``; ``public-keys`` entries ``0=name`` are the
directory ``0/``), with one cached token, keep-alive connections, no parsing of values.

* ``full_seq``: one connection, one request at a time
* ``full_8``: 8 threads, one connection each, fed from one queue (a streaming crawl)
* ``sock_8``: the same 8-thread crawl over bare sockets: a new TCP connection per request
  (EC2 closes it after every answer), the request written by hand, the answer read up to
  its ``Content-Length``, nothing checked: the floor of client CPU per request
* ``sock_8_cold``: a token PUT (bare socket) then ``sock_8``: what a fresh client must do
"""

from __future__ import annotations

import http.client
import queue
import socket
import threading
from collections.abc import Callable

import _proto

args = _proto.arguments()
HOST, PORT = args.host, args.port
ROOTS = ["meta-data/", "dynamic/", "user-data"]
INDEXED = "meta-data/public-keys/"


def connect() -> http.client.HTTPConnection:
    return http.client.HTTPConnection(HOST, PORT, timeout=5)


def token() -> str:
    c = connect()
    c.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    if r.status != 200:
        raise RuntimeError(f"token PUT: {r.status}")
    return body


HEADERS = {"X-aws-ec2-metadata-token": token()}


def get(conn: http.client.HTTPConnection, path: str) -> bytes | None:
    conn.request("GET", "/latest/" + path, headers=HEADERS)
    r = conn.getresponse()
    body = r.read()
    return body if r.status == 200 else None


def children(path: str, body: bytes | None) -> list[str]:
    if not path.endswith("/") or body is None:
        return []
    out = []
    for line in body.decode().split("\n"):
        name = line.strip()
        if not name:
            continue
        if path == INDEXED and "=" in name:
            name = name.split("=", 1)[0] + "/"
        out.append(path + name)
    return out


SEQ = connect()


def crawl_seq() -> dict[str, bytes | None]:
    found: dict[str, bytes | None] = {}
    todo = list(ROOTS)
    while todo:
        path = todo.pop(0)
        found[path] = body = get(SEQ, path)
        todo.extend(children(path, body))
    return found


def sock_request(head: bytes) -> tuple[int, bytes]:
    """One request on a new connection: status and body (read up to Content-Length)."""
    with socket.create_connection((HOST, PORT), timeout=5) as sock:
        sock.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("closed before the head")
            data += chunk
        head_end = data.index(b"\r\n\r\n") + 4
        lines = data[:head_end].decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            if line[:15].lower() == "content-length:":
                length = int(line[15:])
        body = data[head_end:]
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(lines[0].split(" ", 2)[1]), body


def sock_token() -> str:
    status, body = sock_request(
        f"PUT /latest/api/token HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
        "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 0\r\n\r\n".encode()
    )
    if status != 200:
        raise RuntimeError(f"token PUT: {status}")
    return body.decode()


SOCK_TOKEN = [sock_token()]


def sock_get(path: str) -> bytes | None:
    status, body = sock_request(
        f"GET /latest/{path} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
        f"X-aws-ec2-metadata-token: {SOCK_TOKEN[0]}\r\n\r\n".encode()
    )
    return body if status == 200 else None


class Pool:
    def __init__(self, n: int, getter: Callable[[], Callable[[str], bytes | None]]) -> None:
        self.getter = getter
        self.jobs: queue.SimpleQueue[tuple[str, dict[str, bytes | None]] | None] = (
            queue.SimpleQueue()
        )
        self.cond = threading.Condition()
        self.pending = 0
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(n)]
        for t in self.threads:
            t.start()

    def submit(self, path: str, found: dict[str, bytes | None]) -> None:
        with self.cond:
            self.pending += 1
        self.jobs.put((path, found))

    def work(self) -> None:
        fetch = self.getter()
        while True:
            job = self.jobs.get()
            if job is None:
                return
            path, found = job
            body = fetch(path)
            found[path] = body
            for child in children(path, body):
                self.submit(child, found)
            with self.cond:
                self.pending -= 1
                if self.pending == 0:
                    self.cond.notify_all()

    def crawl(self) -> dict[str, bytes | None]:
        found: dict[str, bytes | None] = {}
        for root in ROOTS:
            self.submit(root, found)
        with self.cond:
            if not self.cond.wait_for(lambda: self.pending == 0, timeout=60):
                raise RuntimeError("crawl did not finish in 60 s")
        return found


def _http_client_getter() -> Callable[[str], bytes | None]:
    conn = connect()
    return lambda path: get(conn, path)


POOL = Pool(8, _http_client_getter)
SOCK_POOL = Pool(8, lambda: sock_get)


def full_seq(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(crawl_seq()))
    return t, (box[-1]["meta-data/instance-id"] or b"").decode(), {"paths": len(box[-1])}


def full_8(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(POOL.crawl()))
    return t, (box[-1]["meta-data/instance-id"] or b"").decode(), {"paths": len(box[-1])}


def sock_8(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(SOCK_POOL.crawl()))
    return t, (box[-1]["meta-data/instance-id"] or b"").decode(), {"paths": len(box[-1])}


def sock_8_cold(n: int) -> _proto.Result:
    box = []

    def once() -> None:
        SOCK_TOKEN[0] = sock_token()
        box.append(SOCK_POOL.crawl())

    t = _proto.timed(n, once)
    return t, (box[-1]["meta-data/instance-id"] or b"").decode(), {"paths": len(box[-1])}


_proto.serve(
    "stdlib baseline",
    "stdlib",
    {"full_seq": full_seq, "full_8": full_8, "sock_8": sock_8, "sock_8_cold": sock_8_cold},
    {},
)
