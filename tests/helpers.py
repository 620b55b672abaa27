"""What the tests share (fixtures are in ``conftest.py``): no test file imports from another.

* the command line as a subprocess (:func:`run`, :func:`cli_env`, :func:`error_line`), with
  the real-IMDS guard of ``tests/_guard`` loaded in every subprocess;
* the drivers behind one facade (:class:`Client`, made by ``conftest.make_client``), quick
  settings (:func:`fast`), a listener that never answers and a port nobody listens on;
* the protocol driven without sockets: a fake :class:`Clock` and :func:`drive`, which runs
  an ``exchange()`` or ``token_flow()`` against a script of answers;
* a simulator with test hooks (:class:`HookedCore`) for the fault matrix and the leak tests;
* the fault matrix's tally (:data:`TALLY`), printed after the run by ``conftest.py``;
* servers that answer with bytes (:class:`RawServer`): answers recorded from real
  instances (:data:`RECORDED`) and Amazon's mock's quirks (:class:`AEMMLike`), loopback only;
* :func:`mypy`: snippets type-checked as a user's application would be;
* :func:`examples`: a property test's example count, scaled down in the fast tier.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import itertools
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import httpx
import pytest
from anyio.from_thread import BlockingPortal
from hypothesis import settings as hypothesis_settings

from ec2imds._drivers.default import DefaultDriver
from ec2imds._drivers.default_async import AsyncDefaultDriver
from ec2imds._drivers.httpx import AsyncHttpxDriver, HttpxDriver
from ec2imds._protocol import (
    ACQUIRE,
    RELEASE,
    TTL_HEADER,
    Answer,
    EndpointSession,
    Failure,
    Request,
    Response,
    Sleep,
    Step,
    exchange,
)
from ec2imds.catalog import default_tree
from ec2imds.endpoints import Endpoint
from ec2imds.errors import IMDSError
from ec2imds.settings import Settings
from ec2imds.simulator import IMDSSimulator, SimResponse
from ec2imds.tokens import MemoryTokenStore, Token, TokenStore

# The real-IMDS guard (``conftest.py`` imports it for the test process; every subprocess
# loads it from GUARD_DIR): what it writes on refusal, and what it raises.
from tests._guard.sitecustomize import GUARD_MESSAGE as GUARD_MESSAGE
from tests._guard.sitecustomize import RealIMDSAccess as RealIMDSAccess

if TYPE_CHECKING:
    from typing_extensions import Self

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
GUARD_DIR = TESTS / "_guard"
GOLDEN = TESTS / "golden"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
HELP_LINE = "Run 'ec2imds -h' for help."

# -- the command line ---------------------------------------------------------------------

#: User data with NUL bytes, invalid UTF-8 and a real gzip member in the middle.
USER_DATA = (
    b"\x00\x01\xff\xfe#!/bin/sh\r\n"
    + gzip.compress(b"#cloud-config\npackages: [jq]\n" * 40, mtime=0)
    + b"\x00\x00tail\n\x00"
)
INSTANCE_ID = "i-0123456789abcdef0"


#: An AWS config file that does not exist: what the tests read unless they set one.
NO_CONFIG_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no-such-aws-config")


def cli_env(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of every subprocess: ``base`` (default: ours) with the guard first
    on PYTHONPATH and without AWS_* or proxy variables; ``extra`` is applied last, so a
    test can set one on purpose."""
    env = {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if not name.upper().startswith("AWS_") and not name.lower().endswith("_proxy")
    }
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(GUARD_DIR), os.environ.get("PYTHONPATH", "")) if p
    )
    env["AWS_CONFIG_FILE"] = NO_CONFIG_FILE  # never the real ~/.aws/config
    env["AWS_SHARED_CREDENTIALS_FILE"] = NO_CONFIG_FILE  # nor ~/.aws/credentials
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()

    def json(self) -> Any:
        return json.loads(self.out)


PYTHON_M = [sys.executable, "-m", "ec2imds"]


def run(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    stdout: int | None = None,
    command: Sequence[str] = PYTHON_M,
) -> Result:
    """Run the command line; ``stdout`` may be a file descriptor (e.g. a pty)."""
    proc = subprocess.run(
        [*command, *args],
        input=stdin if stdin is not None else b"",
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(env),
        timeout=30,  # a generous bound: the command must never hang
        check=False,
    )
    return Result(proc.returncode, proc.stdout or b"", proc.stderr.decode())


def on(sim: IMDSSimulator, token_dir: Path) -> list[str]:
    """The options pointing the command at ``sim`` with its own token directory."""
    return [f"--imds=127.0.0.1:{sim.port}", "-t", str(token_dir)]


def error_line(result: Result, code: int) -> str:
    """Assert a clean failure (the exit code, no traceback, one line of message, plus the
    help line for usage errors) and return the message line."""
    assert result.code == code, (result.code, result.err)
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    if code == 2:
        assert len(lines) == 2, result.err
        assert lines[1] == HELP_LINE
        assert result.out == b""
    else:
        assert len(lines) == 1, result.err
    assert lines[0].startswith("ec2imds: ")
    return lines[0]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the drivers ---------------------------------------------------------------------------


class Client:
    """One face for every driver, so a test is written once and run in each mode:
    ``sync`` (httpx), ``async`` (httpx, on an event loop in a helper thread: an anyio
    portal), ``stdlib`` (the lean ``_http11`` driver: the command line's, and ``IMDS``'s
    default) and ``aio`` (its asyncio twin, ``AsyncIMDS``'s default, on the portal).
    """

    def __init__(
        self,
        mode: str,
        settings: Settings,
        store: TokenStore | None,
        portal: BlockingPortal,
        mock: httpx.MockTransport | None = None,
    ) -> None:
        self.mode = mode
        self._portal = portal
        self.sync: HttpxDriver | None = None
        self.aio: AsyncHttpxDriver | AsyncDefaultDriver | None = None
        self.stdlib: DefaultDriver | None = None
        if mode == "sync":
            self.sync = HttpxDriver(settings, store=store, http_transport=mock, seed=1)
        elif mode == "async":
            self.aio = AsyncHttpxDriver(settings, store=store, http_transport=mock, seed=1)
        elif mode == "aio":
            assert mock is None, "the lean asyncio driver has no mock transport"
            self.aio = AsyncDefaultDriver(settings, store=store, seed=1)
        else:
            assert mock is None, "the stdlib driver has no mock transport"
            self.stdlib = DefaultDriver(
                settings, store if store is not None else MemoryTokenStore()
            )

    @property
    def driver(self) -> HttpxDriver | AsyncHttpxDriver | AsyncDefaultDriver | DefaultDriver:
        found = self.sync or self.aio or self.stdlib
        assert found is not None
        return found

    def _call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        result: T = self._portal.call(fn)
        return result

    def get(self, path: str) -> bytes | None:
        if self.sync is not None:
            return self.sync.get(path)
        if self.stdlib is not None:
            return self.stdlib.get(path)
        aio = self.aio
        assert aio is not None
        return self._call(lambda: aio.get(path))

    def token(self) -> Token:
        if self.sync is not None:
            return self.sync.token()
        if self.stdlib is not None:
            return self.stdlib.token()
        aio = self.aio
        assert aio is not None
        return self._call(aio.token)

    @property
    def token_puts(self) -> int:
        return self.driver.token_puts

    def close(self) -> None:
        if self.sync is not None:
            self.sync.close()
        elif self.stdlib is not None:
            self.stdlib.close()
        elif self.aio is not None:
            self._call(self.aio.aclose)


ClientFactory = Callable[..., Client]


def fast(*endpoints: Endpoint, **kw: Any) -> Settings:
    """Settings for tests: quick backoff so retries cost milliseconds."""
    kw.setdefault("backoff_base", 0.001)
    kw.setdefault("backoff_cap", 0.01)
    return Settings.resolve(endpoints=list(endpoints), env={}, **kw)


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


# -- the protocol, without sockets ----------------------------------------------------------

EP = ("127.0.0.1", 1338)
START = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
PATH = "/latest/meta-data/instance-id"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def token_answer(value: str = "tok-1", ttl: int | None = 21600) -> Response:
    headers = {TTL_HEADER.lower(): str(ttl)} if ttl is not None else {}
    return Response(200, value.encode(), headers)


def session(clock: Clock, **settings: Any) -> EndpointSession:
    settings.setdefault("attempts", 3)
    return EndpointSession(
        EP,
        MemoryTokenStore(),
        Settings.resolve(endpoints=[EP], env={}, **settings),
        clock=clock,
        guard=threading.Lock(),
    )


class Run:
    """The steps a flow took and how it ended (``result`` or ``error``)."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.result: Any = None
        self.error: BaseException | None = None

    @property
    def requests(self) -> list[Request]:
        return [s for s in self.steps if isinstance(s, Request)]

    @property
    def sleeps(self) -> list[float]:
        return [s.seconds for s in self.steps if isinstance(s, Sleep)]

    def shape(self) -> list[str]:
        """``["acquire", "PUT", "release", "GET", "sleep", ...]``."""
        out = []
        for s in self.steps:
            if s is ACQUIRE:
                out.append("acquire")
            elif s is RELEASE:
                out.append("release")
            elif isinstance(s, Sleep):
                out.append("sleep")
            else:
                assert isinstance(s, Request)
                out.append(s.method)
        return out


def drive(
    flow: Generator[Step, Answer, Any],
    answers: Iterable[Response | Failure],
    clock: Clock | None = None,
    *,
    during: dict[int, float] | None = None,
) -> Run:
    """Run ``flow`` with the scripted ``answers``; a Sleep moves ``clock`` on by its
    seconds, and ``during[i]`` seconds pass while request ``i`` (0-based) is in flight."""
    run = Run()
    script = iter(answers)
    sent = 0
    try:
        step = next(flow)
        while True:
            run.steps.append(step)
            if isinstance(step, Request):
                if clock is not None and during and sent in during:
                    clock.advance(during[sent])
                sent += 1
                step = flow.send(next(script))
            else:
                if isinstance(step, Sleep) and clock is not None:
                    clock.advance(step.seconds)
                step = flow.send(None)
    except StopIteration as stop:
        run.result = stop.value
    except IMDSError as exc:
        run.error = exc
    assert next(script, None) is None, "the flow ended with answers left over"
    return run


def get(s: EndpointSession, path: str = PATH) -> Generator[Step, Answer, Response]:
    return exchange(s, "GET", path, random.Random(1))


# -- a simulator with hooks (the fault matrix, the leak tests) ------------------------------

#: Connect and read timeout of every trial (the CLI's via AWS_METADATA_SERVICE_TIMEOUT).
TIMEOUT = 0.2
#: Attempts per request (the default); a burst of ATTEMPTS - 1 is survivable.
ATTEMPTS = 3


def _same(requested: str, path: str) -> bool:
    return requested.rstrip("/") == "/latest/" + path.rstrip("/")


class HookedCore(IMDSSimulator):
    """The simulator plus test hooks: an action before the n-th matching request
    (a token revoked, an interface detached), a slow body on one path, and the tokens
    issued (to look for them where they must never be)."""

    def __init__(self, *, seed: int) -> None:
        super().__init__(seed=seed)
        self.before: list[Callable[[str, str], None]] = []
        self.after: list[Callable[[str, str, SimResponse], None]] = []
        self.issued: list[str] = []
        self.fired: list[str] = []

    def handle(self, method: str, path: str, headers: Mapping[str, str]) -> SimResponse:
        for hook in self.before:
            hook(method, path)
        response = super().handle(method, path, headers)
        if method == "PUT" and response.status == 200:
            self.issued.append(response.body.decode())
        for shape in self.after:
            shape(method, path, response)
        return response

    def before_nth(
        self, match: Callable[[str, str], bool], nth: int, action: Callable[[], object]
    ) -> None:
        """Run ``action`` just before the ``nth`` request that ``match``es."""
        count = itertools.count(1)
        lock = threading.Lock()

        def hook(method: str, path: str) -> None:
            if match(method, path):
                with lock:
                    n = next(count)
                if n == nth:
                    action()
                    self.fired.append(f"before #{nth}")

        self.before.append(hook)

    def slow(self, path: str, delay: float, count: int, size: int = 0) -> None:
        """The next ``count`` GETs of ``path``: each body chunk ``delay`` s late (chunks
        of ``size`` bytes: ``1`` is a trickle)."""
        left = [count]
        lock = threading.Lock()

        def shape(method: str, requested: str, response: SimResponse) -> None:
            if method != "GET" or not _same(requested, path):
                return
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
                if left[0] == 0:
                    self.fired.append(f"slow x{count}")
            response.chunk_delay = delay
            response.chunk_size = size

        self.after.append(shape)


@contextlib.contextmanager
def simulator(seed: int = 5) -> Iterator[IMDSSimulator]:
    sim = HookedCore(seed=seed)
    with sim:
        yield sim


def settings_for(sim: IMDSSimulator) -> Settings:
    return Settings.resolve(
        endpoints=[sim.endpoint],
        env={},
        timeout=TIMEOUT,
        attempts=ATTEMPTS,
        backoff_base=0.001,
        backoff_cap=0.01,
    )


# -- the reliability tally (the fault matrix's trials, the soak's figures) -----------------

Verdict = Literal["survived", "failed clearly", "failed wrongly"]
VERDICTS: Final[tuple[Verdict, ...]] = ("survived", "failed clearly", "failed wrongly")


@dataclass(frozen=True)
class Trial:
    fault: str
    target: str
    driver: str
    verdict: Verdict
    detail: str = ""


class Tally:
    """The session's trials (one per fault, target and driver), in the order run."""

    def __init__(self) -> None:
        self.trials: list[Trial] = []
        self.notes: list[str] = []

    def record(self, trial: Trial) -> None:
        self.trials.append(trial)

    def note(self, line: str) -> None:
        """A figure of another reliability test (the soak), printed after the matrix."""
        self.notes.append(line)

    def counts(self) -> Counter[Verdict]:
        return Counter(t.verdict for t in self.trials)

    def summary(self) -> list[str]:
        """Lines for the terminal: the totals, one line per fault, any wrong trial, and
        the notes of the other reliability tests."""
        if not self.trials:
            return list(self.notes)
        counts = self.counts()
        faults = list(dict.fromkeys(t.fault for t in self.trials))
        targets = sorted({t.target for t in self.trials})
        drivers = list(dict.fromkeys(t.driver for t in self.trials))
        lines = [
            f"{len(self.trials)} faults tried ({len(faults)} faults x {'/'.join(targets)} x "
            f"{'/'.join(drivers)}): {counts['survived']} survived, "
            f"{counts['failed clearly']} failed clearly, "
            f"{counts['failed wrongly']} failed wrongly",
        ]
        width = max(len(f) for f in faults)
        lines.append(f"{'fault':<{width}}  survived  failed clearly  failed wrongly")
        for fault in faults:
            per = Counter(t.verdict for t in self.trials if t.fault == fault)
            lines.append(
                f"{fault:<{width}}  {per['survived']:>8}  {per['failed clearly']:>14}  "
                f"{per['failed wrongly']:>14}"
            )
        lines += [
            f"WRONG: {t.fault} / {t.target} / {t.driver}: {t.detail}"
            for t in self.trials
            if t.verdict == "failed wrongly"
        ]
        return lines + self.notes


#: The one tally of a pytest session.
TALLY: Final = Tally()


# -- servers that answer with bytes (what goes over the wire) ------------------------------

RawAnswer = Callable[[str, str, Mapping[str, str]], bytes]


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

    def __init__(self, answer: RawAnswer) -> None:
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
            except (TimeoutError, socket.timeout):  # not a TimeoutError before Python 3.10
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
RECORDED_USER_DATA = b"#!/bin/bash\n\x00\xff binary \xfe and no Content-Length: the close ends it\n"

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
        RECORDED_USER_DATA,
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
    """The default instance as AEMM would serve it: no ``ipv6`` nor ``profile``, public
    keys under ``0/``, an Elastic Inference accelerator."""
    tree: dict[str, Any] = default_tree()
    md = tree["meta-data"]
    md.pop("ipv6", None)
    md.pop("profile", None)  # undocumented, and AEMM does not serve it
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


# -- type-checking snippets as a user's application would be -------------------------------


def mypy(files: dict[str, str], where: Path) -> dict[str, list[str]]:
    """Check ``{module name: source}`` written under ``where``; mypy's lines per module
    (errors and ``reveal_type`` notes, without the file name): empty when it type-checks."""
    paths = []
    for name, source in files.items():
        path = where / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        paths.append(str(path))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "mypy.ini"),
            "--no-error-summary",
            "--show-error-codes",
            "--no-pretty",
            *paths,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr or done.stdout
    out: dict[str, list[str]] = {name: [] for name in files}
    for line in done.stdout.splitlines():
        # Kept alike whichever mypy runs (mypy 1 is the last for Python 3.9): mypy 1 says
        # "builtins.str" where mypy 2 says "str", and notes where a callee is defined in
        # its own words and place (mypy 2 on the caller's line), so that note is left out.
        found = re.match(r"(?:.*/)?(\w+)\.py(?::(\d+))?: (.*)", line)
        assert found is not None, line
        name, lineno, message = found.groups()
        if re.fullmatch(r'note: "\w+" defined (here|in "[\w.]+")', message):
            continue
        if name in out:
            out[name].append(f"{lineno}: {message.replace('builtins.', '')}")
    return out


# -- property tests ---------------------------------------------------------------------------


def examples(count: int) -> int:
    """``count`` hypothesis examples in a full run, scaled by the loaded profile: the
    default (100 examples) keeps ``count``, the fast tier's ``ec2imds-fast`` (25) runs a
    quarter of them (``conftest.py``). Read when the test module is imported, after
    pytest's ``--hypothesis-profile`` is applied."""
    loaded: int = hypothesis_settings().max_examples  # typed Any by some hypothesis releases
    return max(1, count * loaded // 100)


# -- third-party test data ------------------------------------------------------------------


def shared_data(*parts: str) -> Path:
    """A file or folder of third-party test data (the AWS SDKs' IMDS cases, Wycheproof's
    vectors, AWS's published certificates) in the ``shared/`` folder CI lays beside the
    repository. The data is not copied into the repository: where that folder is absent
    (a user's clone) the test is skipped, saying so; under CI (``CI=true``) a missing
    folder fails the test, so CI never passes without running it."""
    for parent in ROOT.parents:
        candidate = parent.joinpath("shared", *parts)
        if candidate.exists():
            return candidate
    where = "/".join(("shared", *parts))
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI=true but {where} is not beside the repository ({ROOT})")
    pytest.skip(f"third-party test data {where} is not beside this clone (CI has it)")
