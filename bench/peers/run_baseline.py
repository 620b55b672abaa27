"""Runner for a baseline: a bare standard-library crawler (``http.client``), no SDK.

Not a peer: it shows what the simulator plus the thinnest possible client cost on this
machine, so a crawl's distance from the latency floor can be split into "client CPU" and
"what any client pays here". It walks the same tree the way ec2imds does (roots
``meta-data/``, ``dynamic/``, ``user-data``; ``public-keys`` entries ``0=name`` are the
directory ``0/``), with one cached token, keep-alive connections, no parsing of values.

* ``full_seq``: one connection, one request at a time
* ``full_8``: 8 threads, one connection each, fed from one queue (a streaming crawl)
"""

from __future__ import annotations

import http.client
import queue
import threading

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


class Pool:
    def __init__(self, n: int) -> None:
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
        conn = connect()
        while True:
            job = self.jobs.get()
            if job is None:
                return
            path, found = job
            body = get(conn, path)
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


POOL = Pool(8)


def full_seq(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(crawl_seq()))
    return t, (box[-1]["meta-data/instance-id"] or b"").decode(), {"paths": len(box[-1])}


def full_8(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(POOL.crawl()))
    return t, (box[-1]["meta-data/instance-id"] or b"").decode(), {"paths": len(box[-1])}


_proto.serve("http.client baseline", "stdlib", {"full_seq": full_seq, "full_8": full_8}, {})
