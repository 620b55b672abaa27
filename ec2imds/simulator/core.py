"""The sans-socket IMDS simulator: all protocol logic, no I/O.

:class:`SimulatorCore` turns ``(method, path, headers)`` into a :class:`SimResponse`; the
socket server (:mod:`ec2imds.simulator.server`) and the in-process fake
(:mod:`ec2imds.testing`) only carry out what it says, so both behave the same.

Protocol (IMDS.md §1): ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds``
1..21600 issues a token (the TTL is echoed in the same response header); a bad TTL is 400, a
dated path or ``X-Forwarded-For`` is 403. Every GET/HEAD needs a live token
(``X-aws-ec2-metadata-token``) unless ``allow_v1``; a missing, unknown or expired token is
401. ``GET api/token`` is 405 with ``Allow: OPTIONS, PUT`` and no body; other methods are
405; unknown paths are 404 (exact matching).

As EC2 answers on the wire (IMDS.md §1.7): values and listings are ``text/plain`` and
``user-data`` is ``application/octet-stream``; errors carry EC2's XHTML page
(``<title>404 - Not Found</title>``) as ``text/html``; a nested directory asked for without
its trailing slash is ``301 Moved Permanently`` to the absolute URL with the slash
(``meta-data/tags/instance`` excepted: EC2 answers it 200); every answer has
``Server: EC2ws``, ``Accept-Ranges: none``, ``Last-Modified`` and ``Date``. With
``disabled`` set (``HttpEndpoint=disabled``), every request is 403.
"""

from __future__ import annotations

import copy
import email.utils
import heapq
import itertools
import json
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from ec2imds.catalog import Node
from ec2imds.simulator.faults import Faults
from ec2imds.simulator.stats import Stats
from ec2imds.simulator.tree import TreeLike, copy_tree, is_indexed_key

__all__ = [
    "MAX_TOKEN_TTL",
    "METADATA_VERSIONS",
    "SimResponse",
    "SimulatorControls",
    "SimulatorCore",
    "format_imds_time",
    "format_iso_z",
]

MAX_TOKEN_TTL = 21600
TOKEN_PATH = "api/token"  # noqa: S105 - a path, not a secret
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"  # noqa: S105 - a header name

#: What ``GET /`` lists: the metadata builds, then ``latest``.  Dated builds alias ``latest``.
METADATA_VERSIONS: tuple[str, ...] = (
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
    "2011-01-01",
    "2011-05-01",
    "2012-01-12",
    "2014-02-25",
    "2014-11-05",
    "2015-10-20",
    "2016-04-19",
    "2016-06-30",
    "2016-09-02",
    "2018-03-28",
    "2018-08-17",
    "2018-09-24",
    "2019-10-01",
    "2020-10-27",
    "2021-01-03",
    "2021-03-23",
    "2021-07-15",
    "latest",
)
_DATED = frozenset(METADATA_VERSIONS) - {"latest"}

#: The body is sent in up to this many chunks when ``faults.slow_body`` is set.
SLOW_BODY_CHUNKS = 4

_TTL_RE = re.compile(r"[0-9]{1,9}")
_PRUNE_AT = 4096
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_REASONS = {
    301: "Moved Permanently",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_MAINTENANCE_DESCRIPTIONS = {
    "instance-reboot": "scheduled reboot",
    "system-reboot": "scheduled reboot",
    "system-maintenance": "scheduled maintenance",
    "instance-retirement": "scheduled retirement",
    "instance-stop": "scheduled stop",
}


@dataclass
class SimResponse:
    """One answer of the core, plus the fault directives a transport carries out.

    ``status``/``headers``/``body`` are the HTTP response (``headers`` always include
    ``Content-Type`` and ``Content-Length``; for HEAD the body is empty and
    ``Content-Length`` is what GET would send).  Directives, in the order applied:

    * ``delay``: seconds to wait before answering (latency).
    * ``hang``: never answer (until the server stops).
    * ``drop``: close the connection without sending anything.
    * ``reset_after``: send the headers and ``body[:reset_after]``, then reset the connection.
    * ``chunk_delay``: send the body in :meth:`chunks`, waiting this long before each.
    * ``chunk_size``: with ``chunk_delay``, chunks of this many bytes (a trickle) instead
      of ``SLOW_BODY_CHUNKS`` pieces.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    drop: bool = False
    reset_after: int | None = None
    hang: bool = False
    chunk_delay: float = 0.0
    chunk_size: int = 0

    @property
    def answered(self) -> bool:
        """True when a status line is sent (not a drop or a hang)."""
        return not (self.drop or self.hang)

    def chunks(self) -> list[bytes]:
        """The body split into ``chunk_size`` pieces, else at most ``SLOW_BODY_CHUNKS``
        non-empty pieces."""
        if not self.body:
            return []
        size = self.chunk_size or -(-len(self.body) // SLOW_BODY_CHUNKS)
        return [self.body[i : i + size] for i in range(0, len(self.body), size)]


def format_iso_z(moment: datetime) -> str:
    """``2024-05-01T12:00:00Z``: the form of spot and rebalance notices."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_imds_time(moment: datetime) -> str:
    """``21 Jan 2019 09:00:43 GMT``: the form of maintenance event times (locale-free)."""
    m = moment.astimezone(UTC)
    return f"{m.day:02d} {_MONTHS[m.month - 1]} {m.year} {m:%H:%M:%S} GMT"


def _load_default_tree() -> dict[str, Node]:
    # Imported lazily: the catalog (the single source of the default instance) is only
    # needed when no tree is given.
    from ec2imds.catalog import default_tree

    return copy_tree(default_tree())


#: EC2's error page (seen for 404 in curl transcripts of real instances; IMDS.md §1.7).
_ERROR_PAGE = """\
<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>{title}</title>
 </head>
 <body>
  <h1>{title}</h1>
 </body>
</html>
"""

#: Directories EC2 serves without the trailing slash (the docs show ``tags/instance``).
_NO_REDIRECT = frozenset({"meta-data/tags/instance"})

_IDENTITY_DOCUMENT = ["dynamic", "instance-identity", "document"]


def _keep_signed(tree: dict[str, Node], previous: bytes | None = None) -> None:
    """A new identity document gets new signatures from the simulator's TEST keys, where
    the blobs were the simulator's own for the ``previous`` document (``None``: the
    default one); see :mod:`ec2imds.simulator.identity`."""
    from ec2imds.simulator.identity import keep_signed

    keep_signed(tree, previous)


def _document_of(tree: dict[str, Node]) -> bytes | None:
    from ec2imds.simulator.identity import document_of

    return document_of(tree)


def _plain(status: int, body: bytes | None = None, **headers: str) -> SimResponse:
    if body is None:
        title = f"{status} - {_REASONS.get(status, 'Error')}"
        body = _ERROR_PAGE.format(title=title).encode("ascii")
        headers.setdefault("Content-Type", "text/html")
    return SimResponse(status, dict(headers), body)


def _tree_parts(path: str) -> list[str]:
    """``"meta-data/spot/instance-action"`` (or ``/latest/meta-data/...``) as segments."""
    text = path.strip().strip("/")
    if text.startswith("latest/"):
        text = text[len("latest/") :]
    parts = text.split("/")
    if not text or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid tree path {path!r}")
    return parts


def _child_key(node: Mapping[str, Node], segment: str) -> str | None:
    """The key of ``node`` that ``segment`` addresses: itself, or ``<index>=<name>`` by index."""
    if segment in node and not is_indexed_key(segment, node[segment]):
        return segment
    prefix = segment + "="
    if segment.isdigit():
        for key, value in node.items():
            if key.startswith(prefix) and is_indexed_key(key, value):
                return key
    return None


def _listing(node: Mapping[str, Node], *, slashes: bool = True) -> bytes:
    names = [
        key + "/" if slashes and isinstance(value, dict) and not is_indexed_key(key, value) else key
        for key, value in node.items()
    ]
    return "\n".join(names).encode()


class SimulatorCore:
    """All of the simulator's behaviour, without sockets; thread-safe (one lock).

    ``tree`` is copied (``None``: the catalog's ``default_tree()``).  ``clock`` (default
    :func:`time.monotonic`) drives token expiry and scheduled changes, so tests can move
    time by hand.  ``seed`` makes random faults and generated event ids reproducible.
    """

    def __init__(
        self,
        tree: TreeLike | None = None,
        *,
        allow_v1: bool = False,
        latency: float = 0.0,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._clock: Callable[[], float] = clock if clock is not None else time.monotonic
        self._tree: dict[str, Node] = copy_tree(tree) if tree is not None else _load_default_tree()
        _keep_signed(self._tree)
        self._tokens: dict[str, float] = {}
        self._pending: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._rng = random.Random(seed)
        self.allow_v1 = allow_v1
        #: ``HttpEndpoint=disabled``: every request is answered 403.
        self.disabled = False
        #: Where this IMDS is reached (``Location`` of a 301); the server sets its own.
        self.base_url = "http://169.254.169.254"
        self._last_modified = email.utils.formatdate(time.time(), usegmt=True)
        self.stats = Stats(self._lock)
        self.faults = Faults(self._lock, seed=seed, on_expire_tokens=self.expire_tokens)
        self.faults.latency = latency

    @property
    def lock(self) -> threading.RLock:
        """The one lock guarding the tree, tokens, schedule, stats and faults."""
        return self._lock

    # -- the protocol ------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str]) -> SimResponse:
        """Answer one request.  ``path`` is the request target (query ignored)."""
        method = method.upper()
        lower = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            now = self._clock()
            self._run_due(now)
            resp = self._respond(method, path, lower, now)
            self.stats.record_request(
                method,
                path,
                resp.status if resp.answered else None,
                drop=resp.drop,
                reset=resp.answered and resp.reset_after is not None,
                hang=resp.hang,
            )
        return resp

    def _respond(
        self, method: str, raw_path: str, headers: dict[str, str], now: float
    ) -> SimResponse:
        target = raw_path.split("?", 1)[0].split("#", 1)[0]
        version, rest = self._split(target)
        is_token_path = version is not None and rest == TOKEN_PATH
        fault = self.faults.decide(method, target, token_put=is_token_path and method == "PUT")
        if fault.kind == "hang":
            return SimResponse(0, hang=True, delay=fault.delay)
        if fault.kind == "drop":
            return SimResponse(0, drop=True, delay=fault.delay)
        if fault.kind == "redirect":
            resp = _plain(fault.status, b"", Location=fault.location)
        elif fault.kind == "status":
            resp = _plain(fault.status)
        elif self.disabled:
            resp = _plain(403)
        else:
            resp = self._route(method, version, rest, is_token_path, headers, now)
        resp.delay = fault.delay
        resp.chunk_size = fault.chunk_size
        resp.chunk_delay = fault.chunk_delay
        resp.headers.setdefault("Content-Type", "text/plain")
        resp.headers["Content-Length"] = str(len(resp.body))
        resp.headers.update(
            {
                "Accept-Ranges": "none",
                "Last-Modified": self._last_modified,
                "Date": email.utils.formatdate(usegmt=True),
                "Server": "EC2ws",
            }
        )
        if method == "HEAD":
            resp.body = b""
        if fault.kind == "reset":
            resp.reset_after = len(resp.body) // 2
        return resp

    @staticmethod
    def _split(target: str) -> tuple[str | None, str]:
        """``/latest/meta-data/x`` → ``("latest", "meta-data/x")``; ``/`` → ``(None, "")``."""
        text = unquote(target)
        if text in ("", "/"):
            return None, ""
        version, _, rest = text.lstrip("/").partition("/")
        return version, rest

    def _route(
        self,
        method: str,
        version: str | None,
        rest: str,
        is_token_path: bool,
        headers: dict[str, str],
        now: float,
    ) -> SimResponse:
        if is_token_path:
            if method == "PUT":
                return self._issue_token(version, headers, now)
            return _plain(405, b"", Allow="OPTIONS, PUT")  # GET, POST...: as EC2 answers
        if method not in ("GET", "HEAD"):
            return _plain(405, Allow="GET, HEAD")
        denied = self._check_token(headers, now)
        if denied is not None:
            return denied
        if version is None:
            return _plain(200, "\n".join(METADATA_VERSIONS).encode())
        if version != "latest" and version not in _DATED:
            return _plain(404)
        if rest in ("", "/"):
            return _plain(200, _listing(self._tree, slashes=False))
        return self._serve(version, rest)

    def _issue_token(self, version: str | None, headers: dict[str, str], now: float) -> SimResponse:
        if version != "latest" or "x-forwarded-for" in headers:
            return _plain(403)
        raw = headers.get(TTL_HEADER.lower(), "").strip()
        if not _TTL_RE.fullmatch(raw) or not 1 <= int(raw) <= MAX_TOKEN_TTL:
            return _plain(400)
        ttl = int(raw)
        if len(self._tokens) >= _PRUNE_AT:
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
        token = secrets.token_urlsafe(40)
        self._tokens[token] = now + ttl
        self.stats.record_token()
        return _plain(200, token.encode(), **{TTL_HEADER: str(ttl)})

    def _check_token(self, headers: dict[str, str], now: float) -> SimResponse | None:
        token = headers.get(TOKEN_HEADER.lower())
        if token is None:
            # A request carrying either v2 header is treated as v2 (IMDS.md §1.2).
            if self.allow_v1 and TTL_HEADER.lower() not in headers:
                return None
            return _plain(401)
        expiry = self._tokens.get(token)
        if expiry is None or expiry <= now:
            self._tokens.pop(token, None)
            return _plain(401)
        return None

    def _serve(self, version: str, rest: str) -> SimResponse:
        directory = rest.endswith("/")
        parts = rest[:-1].split("/") if directory else rest.split("/")
        node: Node = self._tree
        for segment in parts:
            if not isinstance(node, dict):
                return _plain(404)
            key = _child_key(node, segment)
            if key is None:
                return _plain(404)
            node = node[key]
        if isinstance(node, dict):
            if not directory and len(parts) > 1 and rest not in _NO_REDIRECT:
                location = f"{self.base_url}/{version}/{rest}/"
                return _plain(301, b"", Location=location)
            return _plain(200, _listing(node))
        if parts == ["user-data"]:
            return _plain(
                200,
                node.encode() if isinstance(node, str) else node,
                **{"Content-Type": "application/octet-stream"},
            )
        # A leaf asked for with a trailing slash is still served, as AWS does
        # (``meta-data/instance-id/``, ``user-data/``; see boto/boto#1900).
        return _plain(200, node.encode() if isinstance(node, str) else node)

    # -- tokens ------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid now."""
        with self._lock:
            self._tokens.clear()

    @property
    def live_tokens(self) -> int:
        """Tokens issued and not yet expired."""
        with self._lock:
            now = self._clock()
            return sum(1 for exp in self._tokens.values() if exp > now)

    # -- the tree, live ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Node]:
        """A deep copy of the tree as served now (scheduled changes that are due applied)."""
        with self._lock:
            self._run_due(self._clock())
            return copy.deepcopy(self._tree)

    def get(self, path: str) -> Node | None:
        """The node at ``path`` (a copy), or ``None`` when absent."""
        parts = _tree_parts(path)
        with self._lock:
            self._run_due(self._clock())
            node: Node = self._tree
            for segment in parts:
                if not isinstance(node, dict):
                    return None
                key = _child_key(node, segment)
                if key is None:
                    return None
                node = node[key]
            return copy.deepcopy(node)

    def set(self, path: str, value: Node) -> None:
        """Set the node at ``path`` (``"meta-data/spot/instance-action"``), creating
        directories as needed.  Raises ``ValueError`` if a parent is a leaf."""
        parts = _tree_parts(path)
        value = self._copy_node(value)
        with self._lock:
            self._run_due(self._clock())
            self._set(parts, value)

    def delete(self, path: str) -> bool:
        """Remove the node at ``path``; returns whether there was one."""
        parts = _tree_parts(path)
        with self._lock:
            self._run_due(self._clock())
            return self._delete(parts)

    def schedule(self, after: float, path: str, value: Node | None) -> None:
        """Set (or, with ``None``, delete) ``path`` ``after`` seconds from now.

        Changes are applied lazily, on the first request (or tree read) at or after the
        due time, in the order scheduled; no timer thread runs.  A change that no longer
        fits the tree (a parent became a leaf) is skipped.
        """
        parts = _tree_parts(path)
        node = None if value is None else self._copy_node(value)

        def apply() -> None:
            if node is None:
                self._delete(parts)
            else:
                self._set(parts, copy.deepcopy(node))

        self._schedule(after, apply)

    @property
    def pending_changes(self) -> int:
        """Scheduled changes not applied yet."""
        with self._lock:
            self._run_due(self._clock())
            return len(self._pending)

    def _schedule(self, after: float, action: Callable[[], None]) -> None:
        after = float(after)
        with self._lock:
            now = self._clock()
            self._run_due(now)
            if after <= 0.0:
                action()
            else:
                heapq.heappush(self._pending, (now + after, next(self._seq), action))

    def _run_due(self, now: float) -> None:
        while self._pending and self._pending[0][0] <= now:
            _, _, action = heapq.heappop(self._pending)
            try:
                action()
            except ValueError:
                continue

    @staticmethod
    def _copy_node(value: Node) -> Node:
        if isinstance(value, str | bytes):
            return value
        return copy_tree(value)

    def _set(self, parts: list[str], value: Node) -> None:
        identity = parts == _IDENTITY_DOCUMENT[: len(parts)]
        previous = _document_of(self._tree) if identity else None
        node = self._tree
        for i, segment in enumerate(parts[:-1]):
            key = _child_key(node, segment)
            if key is None:
                child: Node = {}
                node[segment] = child
            else:
                child = node[key]
            if not isinstance(child, dict):
                raise ValueError(f"{'/'.join(parts[: i + 1])} is a leaf, not a directory")
            node = child
        key = _child_key(node, parts[-1])
        node[parts[-1] if key is None else key] = value
        if previous is not None:
            _keep_signed(self._tree, previous)

    def _delete(self, parts: list[str]) -> bool:
        node: Node = self._tree
        for segment in parts[:-1]:
            if not isinstance(node, dict):
                return False
            key = _child_key(node, segment)
            if key is None:
                return False
            node = node[key]
        if not isinstance(node, dict):
            return False
        key = _child_key(node, parts[-1])
        if key is None:
            return False
        del node[key]
        return True

    # -- events ------------------------------------------------------------------------

    def inject_spot_interruption(
        self, action: str = "terminate", after: float = 0.0, *, notice: float = 120.0
    ) -> str:
        """Mark the instance for interruption ``after`` seconds from now.

        Sets ``meta-data/spot/instance-action`` to ``{"action": action, "time": T}`` and
        ``meta-data/spot/termination-time`` to ``T``, where ``T`` (ISO ``Z``) is ``notice``
        seconds (2 minutes) after the notice appears.  Returns ``T``.
        """
        when = format_iso_z(datetime.now(UTC) + timedelta(seconds=after + notice))
        doc = json.dumps({"action": action, "time": when})

        def apply() -> None:
            self._set(["meta-data", "spot", "instance-action"], doc)
            self._set(["meta-data", "spot", "termination-time"], when)

        self._schedule(after, apply)
        return when

    def inject_rebalance(self, after: float = 0.0) -> str:
        """Emit a rebalance recommendation ``after`` seconds from now: sets
        ``meta-data/events/recommendations/rebalance`` to ``{"noticeTime": T}``; returns T."""
        when = format_iso_z(datetime.now(UTC) + timedelta(seconds=after))
        doc = json.dumps({"noticeTime": when})
        self._schedule(
            after, lambda: self._set(["meta-data", "events", "recommendations", "rebalance"], doc)
        )
        return when

    def inject_maintenance(
        self,
        after: float = 0.0,
        code: str = "system-reboot",
        *,
        description: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        not_before_deadline: datetime | None = None,
        state: str = "active",
        event_id: str | None = None,
    ) -> dict[str, str]:
        """Append a scheduled maintenance event ``after`` seconds from now.

        The event goes into the JSON array at ``meta-data/events/maintenance/scheduled``
        (created if absent), with IMDS's time format (``21 Jan 2019 09:00:43 GMT``).
        Defaults: ``NotBefore`` one day after the event appears, ``NotAfter`` two hours
        later, no ``NotBeforeDeadline``, an ``EventId`` from the seeded generator.
        Returns the event object.
        """
        start = not_before or datetime.now(UTC) + timedelta(seconds=after, days=1)
        end = not_after or start + timedelta(hours=2)
        with self._lock:
            eid = event_id or f"instance-event-{self._rng.getrandbits(68):017x}"
        event = {
            "NotBefore": format_imds_time(start),
            "Code": code,
            "Description": description or _MAINTENANCE_DESCRIPTIONS.get(code, "scheduled event"),
            "EventId": eid,
            "NotAfter": format_imds_time(end),
            "State": state,
        }
        if not_before_deadline is not None:
            event["NotBeforeDeadline"] = format_imds_time(not_before_deadline)
        parts = ["meta-data", "events", "maintenance", "scheduled"]

        def apply() -> None:
            events: list[object] = []
            current = self._get_leaf(parts)
            if current is not None:
                try:
                    loaded = json.loads(current)
                except ValueError:
                    loaded = None
                if isinstance(loaded, list):
                    events = loaded
            events.append(event)
            self._set(parts, json.dumps(events, indent=2))

        self._schedule(after, apply)
        return dict(event)

    def set_lifecycle_state(self, state: str, after: float = 0.0) -> None:
        """Set ``meta-data/autoscaling/target-lifecycle-state`` (e.g. ``Terminated``)."""
        self._schedule(
            after,
            lambda: self._set(["meta-data", "autoscaling", "target-lifecycle-state"], state),
        )

    def _get_leaf(self, parts: list[str]) -> str | bytes | None:
        node: Node = self._tree
        for segment in parts:
            if not isinstance(node, dict):
                return None
            key = _child_key(node, segment)
            if key is None:
                return None
            node = node[key]
        return None if isinstance(node, dict) else node


class SimulatorControls:
    """The control surface shared by the socket server and the in-process fake.

    Subclasses set ``self.core``; everything here forwards to it, so tests drive either
    the same way: ``.stats``, ``.faults``, ``set``/``delete``/``schedule``, the ``inject_*``
    events, ``set_lifecycle_state`` and ``expire_tokens``.
    """

    core: SimulatorCore

    @property
    def stats(self) -> Stats:
        """Request counters (see :class:`~ec2imds.simulator.stats.Stats`)."""
        return self.core.stats

    @property
    def faults(self) -> Faults:
        """Fault settings (see :class:`~ec2imds.simulator.faults.Faults`)."""
        return self.core.faults

    @property
    def allow_v1(self) -> bool:
        """Whether token-less GETs are answered."""
        return self.core.allow_v1

    @allow_v1.setter
    def allow_v1(self, value: bool) -> None:
        self.core.allow_v1 = value

    @property
    def disabled(self) -> bool:
        """Whether IMDS is turned off (``HttpEndpoint=disabled``: 403 to everything)."""
        return self.core.disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        self.core.disabled = value

    def get(self, path: str) -> Node | None:
        """The node at ``path`` (a copy), or ``None``."""
        return self.core.get(path)

    def set(self, path: str, value: Node) -> None:
        """Set ``path`` (``"meta-data/..."``) to ``value``, creating directories."""
        self.core.set(path, value)

    def delete(self, path: str) -> bool:
        """Remove ``path``; returns whether it existed."""
        return self.core.delete(path)

    def schedule(self, after: float, path: str, value: Node | None) -> None:
        """Set (``None``: delete) ``path`` ``after`` seconds from now."""
        self.core.schedule(after, path, value)

    def snapshot(self) -> dict[str, Node]:
        """A deep copy of the tree as served now."""
        return self.core.snapshot()

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid now."""
        self.core.expire_tokens()

    def inject_spot_interruption(
        self, action: str = "terminate", after: float = 0.0, *, notice: float = 120.0
    ) -> str:
        """Spot interruption notice; see :meth:`SimulatorCore.inject_spot_interruption`."""
        return self.core.inject_spot_interruption(action, after, notice=notice)

    def inject_rebalance(self, after: float = 0.0) -> str:
        """Rebalance recommendation; see :meth:`SimulatorCore.inject_rebalance`."""
        return self.core.inject_rebalance(after)

    def inject_maintenance(
        self,
        after: float = 0.0,
        code: str = "system-reboot",
        *,
        description: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        not_before_deadline: datetime | None = None,
        state: str = "active",
        event_id: str | None = None,
    ) -> dict[str, str]:
        """Scheduled maintenance event; see :meth:`SimulatorCore.inject_maintenance`."""
        return self.core.inject_maintenance(
            after,
            code,
            description=description,
            not_before=not_before,
            not_after=not_after,
            not_before_deadline=not_before_deadline,
            state=state,
            event_id=event_id,
        )

    def set_lifecycle_state(self, state: str, after: float = 0.0) -> None:
        """Auto Scaling target lifecycle state; see :meth:`SimulatorCore.set_lifecycle_state`."""
        self.core.set_lifecycle_state(state, after)
