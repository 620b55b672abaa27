"""Hypothesis against everything that reads untrusted input: a value or a clear error,
never another exception, a hang, an escape from the subtree, or a silently shorter result.

Extends the fuzzing elsewhere (``test_crawl``: random listing bytes and the subtree
bound; ``test_http11``: random HTTP answers; ``test_models``: random bytes into every
leaf type and random raw trees into ``InstanceMetadata``; ``test_values``: fast leaf
path equals the models; ``test_endpoints``: random endpoint text) with inputs shaped to
hit the edges: hostile listing lines, dates at the ends of the calendar, arbitrary
Python objects into the bare leaf parsers, every category model, a tree server that
lists what it does not serve, bodies around the size cap through every driver, the
``AWS_*`` settings, and the command line's arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ec2imds import _leaves, catalog, models
from ec2imds._drivers.default import DefaultDriver
from ec2imds._drivers.default_async import AsyncDefaultDriver
from ec2imds._drivers.httpx import AsyncHttpxDriver, HttpxDriver
from ec2imds.cli import main
from ec2imds.crawl import INDEXED_DIRS, Entry, Walk, parse_listing
from ec2imds.endpoints import (
    construct_endpoint_list_str,
    mk_endpoint_from_str,
    mk_endpoint_list_from_str,
)
from ec2imds.errors import IMDSConfigError, IMDSValidationError, ResponseTooLarge
from ec2imds.models import IMDSModel, validate_raw
from ec2imds.settings import Settings
from tests.support.command import RealIMDSAccess
from tests.support.properties import examples
from tests.support.walking import run_walk

# -- inputs shaped like trouble ------------------------------------------------------------

HOSTILE_LINES = [
    b".", b"..", b"../", b"./", b"/", b"//", b"/etc/passwd", b"a/b", b"a/../b", b"..\\x",
    b"0=name", b"=name", b"0=", b"00=x", b"-1=x", b"0=a/b", b"0=..", b"../=x", b"0=x=y",
    b"1=/etc", b"x=../", b"\x00", b"a\x00b", b"a b", b"\t", b"\r", b"%2e%2e", b"a?b", b"a#b",
    b"\xff\xfe", b"\xc0\xaf", "é".encode(), "\u202e".encode(), b"x" * 10_000, b"0" * 5000 + b"=k",
]  # fmt: skip
hostile_line = st.one_of(
    st.sampled_from(HOSTILE_LINES),
    st.binary(max_size=40),
    st.text(alphabet="abc01=./-\\\x00 \r", max_size=12).map(str.encode),
)
listing_body = st.one_of(
    st.lists(hostile_line, max_size=40).map(b"\n".join),
    st.lists(hostile_line, max_size=40).map(b"\r\n".join),
    st.integers(0, 30_000).map(lambda n: "\n".join(f"k{i}" for i in range(n)).encode()),
)

weird_bytes = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.sampled_from(
        [b"", b"\x00", b"\xff", b"1" * 5000, b"[" * 20_000, b"{" * 20_000, b"9" * 5000,
         b"1e999999", b"-0", b"NaN", b"null", b"\r\n", b"x\n" * 10_000, b"a" * 200_000]
    ),
)  # fmt: skip

# Times at the ends of the calendar, in every form the parsers accept.
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timedelta(minutes=m))
moments = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
) | st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)])


@st.composite
def time_texts(draw: st.DrawFn) -> str:
    moment = draw(moments)
    offset = draw(offsets)
    kind = draw(st.sampled_from(["iso-z", "iso-offset", "iso-naive", "imds", "date"]))
    if kind == "iso-z":
        return moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + "Z"
    if kind == "iso-offset":
        return moment.replace(tzinfo=timezone(offset)).isoformat()
    if kind == "iso-naive":
        return moment.isoformat()
    if kind == "imds":
        month = draw(st.sampled_from(["Jan", "Feb", "Dec", "Foo", "jan"]))
        day = draw(st.integers(0, 40))
        return f"{day:02d} {month} {moment.year:04d} {moment:%H:%M:%S} GMT"
    return moment.date().isoformat()


aware_datetimes = st.builds(
    lambda moment, offset: moment.replace(tzinfo=timezone(offset)), moments, offsets
)
py_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30), weird_bytes,
    st.binary(max_size=30).map(bytearray), moments, aware_datetimes, time_texts(),
)  # fmt: skip
py_values = st.recursive(
    py_scalars,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.tuples(kids, kids)
        | st.dictionaries(st.text(max_size=5) | st.integers(), kids, max_size=4)
    ),
    max_leaves=10,
)

LEAF_PARSERS: list[Callable[[object], object]] = [
    getattr(_leaves, name) for name in _leaves.__all__ if name.startswith("parse_")
] + [
    _leaves._lines_of(parse)
    for parse in (
        _leaves.parse_ipv4,
        _leaves.parse_ipv6,
        _leaves.parse_ipv4_net,
        _leaves.parse_ipv6_net,
    )
]


# -- leaf parsers ------------------------------------------------------------------------


@pytest.mark.slow
@settings(max_examples=examples(400), deadline=None)
@given(parse=st.sampled_from(LEAF_PARSERS), value=py_values | weird_bytes)
def test_every_leaf_parser_gives_a_value_or_a_leaf_error(
    parse: Callable[[object], object], value: object
) -> None:
    message = ""
    try:
        parse(value)
    except _leaves.LeafError as exc:
        message = str(exc) or "(empty)"
    assert len(message) < 300  # names the value, never the whole of a huge body


TIME_PARSERS = [_leaves.parse_iso_time, _leaves.parse_imds_time, _leaves.parse_lenient_time]


@settings(max_examples=examples(400), deadline=None)
@given(
    parse=st.sampled_from(TIME_PARSERS),
    value=time_texts() | time_texts().map(str.encode) | aware_datetimes | moments,
)
def test_times_at_the_ends_of_the_calendar(parse: Callable[[object], object], value: Any) -> None:
    """``0001-01-01T00:00:00+01:00`` is before year 1 in UTC: an error, not an overflow."""
    try:
        parsed = parse(value)
    except _leaves.LeafError:
        return
    if isinstance(parsed, datetime):
        assert parsed.tzinfo is timezone.utc
    else:
        assert parse is _leaves.parse_lenient_time
        assert isinstance(parsed, str)


def test_a_time_before_year_one_in_utc_is_a_validation_error_naming_the_path() -> None:
    body = b'{"Code": "Success", "Expiration": "0001-01-01T00:00:00+01:00"}'
    raw = {"meta-data": {"iam": {"security-credentials": {"role": body}}}}
    with pytest.raises(IMDSValidationError) as info:
        validate_raw(models.InstanceMetadata, raw, path="")
    assert info.value.path == "meta-data/iam/security-credentials/role"
    assert "Expiration" in str(info.value)


# -- the listing parser --------------------------------------------------------------------


@pytest.mark.slow
@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=listing_body, indexed=st.booleans())
def test_hostile_listings_never_name_a_way_out(body: bytes, indexed: bool) -> None:
    error: IMDSValidationError | None = None
    entries: list[Entry] = []
    try:
        entries = parse_listing(body, path="meta-data/public-keys", indexed=indexed)
    except IMDSValidationError as exc:
        error = exc
    if error is not None:
        assert error.path == "meta-data/public-keys"
        assert str(error).startswith("meta-data/public-keys: ")
    segments = [e.segment for e in entries]
    assert len(set(segments)) == len(segments)
    for e in entries:
        assert e.segment not in ("", ".", "..")
        assert not any(c in e.segment for c in "/\\\x00\r\n ?#%")
        if e.key != e.segment:  # only the "0=name" form of an indexed listing
            assert indexed
            assert e.is_dir
            assert e.key.startswith(e.segment + "=")


# -- validation of raw trees, category by category -----------------------------------------

CATEGORY_MODELS = [
    m
    for m in (getattr(models, n) for n in models.__all__)
    if isinstance(m, type)
    and issubclass(m, IMDSModel)
    and m.__imds_path__
    and "{" not in m.__imds_path__
]
NAMES = sorted({s for e in catalog.ENTRIES for s in e.path.split("/") if s and "{" not in s})
raw_key = st.sampled_from(NAMES) | st.sampled_from(
    ["0=my-key", "0", "=x", "..", "a/b", "\x00", "0e:49:61:0f:c3:11", "10.0.0.1", ""]
)
raw_tree = st.recursive(
    weird_bytes, lambda kids: st.dictionaries(raw_key, kids, max_size=5), max_leaves=20
)


def paths_in(node: object, prefix: str) -> set[str]:
    """Every path in a raw tree (and the prefixes of the public-keys ``0=name`` form)."""
    out = {prefix}
    if isinstance(node, dict):
        for key, child in node.items():
            for name in {key, key.partition("=")[0]}:
                out |= paths_in(child, f"{prefix}/{name}" if prefix else name)
    return out


@pytest.mark.slow
@settings(max_examples=examples(300), deadline=None)
@given(model=st.sampled_from(CATEGORY_MODELS), raw=raw_tree)
def test_any_raw_subtree_validates_or_names_a_path_in_it(model: type[IMDSModel], raw: Any) -> None:
    path = model.__imds_path__
    error: IMDSValidationError | None = None
    try:
        validate_raw(model, raw, path=path)
    except IMDSValidationError as exc:
        error = exc
    if error is not None:
        assert error.path.startswith(path)
        assert str(error).startswith(f"{error.path}: ")
        paths = paths_in(raw, path)
        # A required value that is not there is named; its directory is there.
        missing = "missing, but EC2 serves it on every instance" in str(error)
        parent = error.path.rsplit("/", 1)[0]
        assert error.path in paths or (missing and parent in paths), (error.path, raw)


# -- the walk against a server that lists what it does not serve ----------------------------

name_lines = st.sampled_from([b"a", b"b/", b"c", b"0=k", b"d/", b"..", b"/x", b"e=f", b"a/"])


@st.composite
def static_servers(draw: st.DrawFn) -> dict[str, bytes]:
    """A server as {path: body}: listings built from names (some hostile), leaves, gaps."""
    server: dict[str, bytes] = {}
    frontier = ["t/"]
    for _ in range(draw(st.integers(1, 25))):
        if not frontier:
            break
        directory = frontier.pop(draw(st.integers(0, len(frontier) - 1)))
        if draw(st.integers(0, 9)) == 0:
            continue  # listed by its parent, never served: 404
        lines = draw(st.lists(name_lines | hostile_line, max_size=6))
        server[directory] = b"\n".join(lines)
        with contextlib.suppress(IMDSValidationError):
            for e in parse_listing(server[directory], path=directory.rstrip("/")):
                child = directory + e.segment + ("/" if e.is_dir else "")
                if e.is_dir:
                    frontier.append(child)
                elif draw(st.booleans()):
                    server[child] = draw(weird_bytes)
    return server


def listed_and_served(server: dict[str, bytes], directory: str) -> dict[str, Any] | None:
    """What a complete walk of an unchanging ``server`` must return for ``directory``."""
    body = server.get(directory + "/")
    if body is None:
        return None
    out: dict[str, Any] = {}
    indexed = directory in INDEXED_DIRS
    for e in parse_listing(body, path=directory, indexed=indexed):
        child = f"{directory}/{e.segment}"
        node = listed_and_served(server, child) if e.is_dir else server.get(child)
        if node is not None:
            out[e.key] = node
    return out


@settings(max_examples=examples(200), deadline=None)
@given(server=static_servers())
def test_the_walk_is_complete_bounded_and_stays_inside(server: dict[str, bytes]) -> None:
    asked: list[str] = []

    def fetch(paths: list[str]) -> list[bytes | None]:
        asked.extend(paths)
        return [server.get(p) for p in paths]

    error: IMDSValidationError | None = None
    try:
        tree = run_walk(Walk("t", max_depth=6, max_nodes=500), fetch)
    except IMDSValidationError as exc:
        error = exc
    assert error is None or error.path.startswith("t")
    assert all(p.startswith("t/") for p in asked)
    assert not any("/../" in p or "//" in p or "/./" in p for p in asked)
    for path in set(asked):
        # Read once, plus once more for each directory walked again that holds it (itself
        # included): at most once per directory per walk.
        bound = len(path.rstrip("/").split("/")) + path.endswith("/")
        assert asked.count(path) <= bound, (path, asked)
    if error is None:
        # Nothing the server lists and serves is missing; nothing else is there.
        assert tree == listed_and_served(server, "t")


# -- the body cap, through every driver --------------------------------------------------------

CAP = 16 * 1024  # the smallest cap Settings accept (IMDS user data is up to 16 KiB)


class FramedServer:
    """A loopback HTTP/1.1 server: tokens on PUT, and on GET a body of the size and framing
    the test sets (Content-Length, chunked, close-delimited, or endless). Counts bytes sent."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.endpoint = ("127.0.0.1", self.sock.getsockname()[1])
        self.size = 0
        self.framing = "length"
        self.chunk = 1000
        self.sent = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):  # not a TimeoutError before Python 3.10
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        buf = b""
        with conn, contextlib.suppress(OSError):
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                if head.startswith(b"PUT"):
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                        b"X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\ntoken"
                    )
                    continue
                if not self._body(conn):
                    return

    def _body(self, conn: socket.socket) -> bool:
        """Send one GET response; False when the connection must close."""
        body = b"b" * self.size
        if self.framing == "length":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.size + body)
            return True
        if self.framing == "chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(body), self.chunk):
                part = body[i : i + self.chunk]
                conn.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            conn.sendall(b"0\r\n\r\n")
            return True
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        if self.framing == "close":
            conn.sendall(body)
            return False
        block = b"e" * 65536  # endless: until the client hangs up (or 256 MiB)
        for _ in range(4096):
            if self._stop.is_set():
                break
            conn.sendall(block)
            self.sent += len(block)
        return False

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._accept.join()
        for thread in self._threads:
            thread.join(10)


@pytest.fixture(scope="module")
def framed() -> Iterator[FramedServer]:
    server = FramedServer()
    yield server
    server.close()


def _drivers(server: FramedServer) -> Iterator[tuple[str, Callable[[str], bytes | None]]]:
    conf = Settings.resolve(endpoints=[server.endpoint], env={}, max_body=CAP, attempts=1)
    with HttpxDriver(conf) as sync, DefaultDriver(conf) as stdlib:
        yield "sync", sync.get
        yield "stdlib", stdlib.get

        async def aget(path: str) -> bytes | None:
            async with AsyncHttpxDriver(conf) as aio:
                return await aio.get(path)

        yield "async", lambda path: asyncio.run(aget(path))

        async def lean(path: str) -> bytes | None:
            async with AsyncDefaultDriver(conf) as aio:
                return await aio.get(path)

        yield "aio", lambda path: asyncio.run(lean(path))


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    size=st.sampled_from([0, 1, CAP - 1, CAP, CAP + 1, 3 * CAP]) | st.integers(0, 3 * CAP),
    framing=st.sampled_from(["length", "chunked", "close"]),
    chunk=st.integers(1, 2 * CAP),
)
@pytest.mark.slow
def test_bodies_around_the_cap_are_whole_or_refused(
    framed: FramedServer, size: int, framing: str, chunk: int
) -> None:
    framed.size, framed.framing, framed.chunk = size, framing, chunk
    for name, get in _drivers(framed):
        try:
            body: bytes | int | None = get("meta-data/x")
        except ResponseTooLarge as exc:
            body = exc.limit
        if size > CAP:
            assert body == CAP, (name, size, framing)  # refused, naming the cap
        else:
            assert body == b"b" * size, (name, size, framing)  # whole, never truncated


def test_an_endless_body_is_refused_without_reading_it_all(framed: FramedServer) -> None:
    framed.framing = "endless"
    for name, get in _drivers(framed):
        framed.sent = 0
        with pytest.raises(ResponseTooLarge):
            get("meta-data/x")
        # The server stops as soon as the client hangs up: what it managed to send is the
        # cap plus one read and the kernel's socket buffers, not the 256 MiB it offered.
        assert framed.sent < 32 * 1024 * 1024, name


# -- endpoints and settings ------------------------------------------------------------------

host_part = st.one_of(
    st.sampled_from(["127.0.0.1", "169.254.169.254", "localhost", "h.example", "a" * 64, "-a"]),
    st.sampled_from(["[::1]", "[fd00:ec2::254]", "[fe80::1%eth0]", "[::1%]", "[:::]", "[]"]),
    st.sampled_from(["１２７.0.0.1", "١٢٧.0.0.1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "0x7f.1"]),
    st.text(alphabet="0123456789abcdef:.[]%-", max_size=20),
)
port_part = st.one_of(
    st.just(""),
    st.integers(-5, 70_000).map(lambda p: f":{p}"),
    st.sampled_from([":", ":８０", ":٨٠", ": 80", ":+80", ":0x50", ":80:80", ":" + "9" * 30]),
)
endpoint_text = st.builds(
    lambda scheme, host, port, tail: f"{scheme}{host}{port}{tail}",
    st.sampled_from(["", "http://", "HTTP://", "https://", "http:/", "//", "ftp://"]),
    host_part,
    port_part,
    st.sampled_from(["", "/", "/x", "?", "#", " ", "\n"]),
)


@settings(max_examples=examples(400), deadline=None)
@given(text=endpoint_text)
def test_endpoint_strings_parse_or_are_refused_by_name(text: str) -> None:
    try:
        host, port = mk_endpoint_from_str(text)
    except IMDSConfigError as exc:
        message = str(exc)
    else:
        assert host.isascii()
        assert port is None or 0 < port < 65536
        return
    assert repr(text.strip()) in message or repr(text) in message


@pytest.mark.parametrize(
    "text", ["a" * 5000 + "!", "a-" * 2500 + "!", "a." * 2500 + "!", "a" * 100, "[" + "1:" * 3000]
)
def test_long_endpoint_strings_are_refused_at_once(text: str) -> None:
    """A host name regex with nested quantifiers took minutes on 'aaaa…a!' (fixed); a
    generous bound: a regression hangs, which this turns into a failure."""
    outcome: list[object] = []

    def parse() -> None:
        try:
            outcome.append(mk_endpoint_from_str(text))
        except IMDSConfigError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=parse, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the endpoint parser hung"
    assert isinstance(outcome[0], IMDSConfigError)


@settings(max_examples=examples(200), deadline=None)
@given(items=st.lists(endpoint_text, min_size=1, max_size=4), sep=st.sampled_from([",", ", "]))
def test_endpoint_lists_parse_whole_or_not_at_all(items: list[str], sep: str) -> None:
    text = sep.join(items)
    try:
        endpoints = mk_endpoint_list_from_str(text)
    except IMDSConfigError:
        return
    assert len(endpoints) == len(items)
    assert mk_endpoint_list_from_str(construct_endpoint_list_str(endpoints)) == endpoints


env_value = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["true", "TRUE", "false", "0", "1", "-1", "nan", "inf", "1e309", "0.0",
                     "IPv4", "ipv6", "IPv5", "http://127.0.0.1:1", "http://[::1]", "", " "]),
    endpoint_text,
)  # fmt: skip
ENV_NAMES = [
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "AWS_METADATA_SERVICE_TIMEOUT",
    "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
]


@settings(max_examples=examples(400), deadline=None)
@given(env=st.dictionaries(st.sampled_from(ENV_NAMES), env_value))
def test_aws_settings_resolve_or_name_the_variable(env: dict[str, str]) -> None:
    try:
        resolved = Settings.resolve(env=env)
    except IMDSConfigError as exc:
        message = str(exc)
    else:
        assert resolved.endpoints
        assert resolved.timeout > 0
        assert resolved.attempts >= 1
        return
    assert any(name in message for name in env), (env, message)


# -- the command line's arguments -----------------------------------------------------------

FLAGS = [
    "-a", "--all", "-E", "-L", "--list-all", "-l", "-U", "--user-data", "--raw", "--tree",
    "--schema", "--validate", "-v", "-vv", "-h", "--help", "-V", "--version", "-t", "--",
    "-", "-x", "--bogus", "--raw=", "--schema=Placement", "-E(", "-l[", "-E.*", "-lmeta",
]  # fmt: skip
WORDS = [
    "meta-data/instance-id", "meta-data/placement/region", "meta-data/network/interfaces/macs",
    "meta-data/instance-identity/document", "meta-data/instance-id=x", "user-data",
    "dynamic/instance-identity/document", "meta-data/", "/", "Placement", "InstanceMetadata",
    "meta-data/instance-idd", "*", "(", "[a-", ".*", "meta-data/.*", "\x00", "é", "",
]  # fmt: skip


#: Options (and their abbreviations) that point the command elsewhere, start the
#: simulator, poll on (the watcher) or run a program per event: never generated.
_NEVER = ("--imds", "--simulate", "--watch", "--exec")


def _sends_elsewhere(arg: str) -> bool:
    name = arg.split("=", 1)[0]
    return len(name) >= 3 and any(option.startswith(name) for option in _NEVER)


def _safe(arg: str) -> bool:
    return not _sends_elsewhere(arg) and not arg.startswith(("/", "~")) and ".." not in arg


cli_arg = st.one_of(st.sampled_from(FLAGS), st.sampled_from(WORDS), st.text(max_size=15)).filter(
    _safe
)


@pytest.fixture(scope="module")
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@settings(
    max_examples=examples(250),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(argv=st.lists(cli_arg, max_size=6))
@example(argv=["-a", "--bogus\n\x1b[2J"])  # was printed raw: two lines and an escape
@example(argv=["-E", "meta-data/placement/.*"])  # needs IMDS: the closed port, exit 1
def test_any_arguments_give_a_value_or_a_usage_error(
    argv: list[str], closed_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # First, so that any "--" in argv cannot turn them into categories.
    forced = [f"--imds=127.0.0.1:{closed_port}", "-t", str(tmp_path / "tokens")]
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        monkeypatch.context() as m,
    ):
        m.setattr("sys.stdin", io.StringIO(""))
        code = main([*forced, *argv])
    stderr = err.getvalue()
    assert code in (0, 1, 2), (argv, code, stderr)
    assert "Traceback" not in stderr
    assert "internal error" not in stderr, (argv, stderr)
    # One line per message, nothing an argument could smuggle into a terminal.
    assert all(c.isprintable() or c == "\n" for c in stderr), (argv, stderr)
    lines = stderr.split("\n")[:-1]
    if code == 2:
        assert len(lines) == 2, (argv, stderr)
        assert lines[1] == "Run 'ec2imds -h' for help.", (argv, stderr)
    assert all(line.startswith("ec2imds: ") for line in lines[: 1 if code == 2 else None])
    assert not (tmp_path / "tokens").exists()  # nothing answered, nothing saved


def test_the_real_imds_guard_is_still_on() -> None:
    """The fuzzed command lines ran behind the autouse guard of conftest.py."""
    with pytest.raises(RealIMDSAccess), socket.socket() as s:
        s.connect(("169.254.169.254", 80))
