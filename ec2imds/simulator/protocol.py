"""The simulator's IMDS protocol, without sockets: routing, versions, tokens, statuses.

:class:`SimulatorCore` turns ``(method, path, headers)`` into a :class:`SimResponse`; the
socket server (:mod:`ec2imds.simulator.server`) and the in-process fake
(:mod:`ec2imds.testing`) each hold one core and carry out what it says, so both behave the
same.  The core is one object made of parts, each in its own module: the tree it serves
(:class:`~ec2imds.simulator.editing.TreeEditor`, edited live), the events written into it
(:class:`~ec2imds.simulator.events.EventInjector`), the faults and the request counters.

Protocol (docs/imds.md, 'The session token', 'Status codes'): ``PUT /latest/api/token``
with ``X-aws-ec2-metadata-token-ttl-seconds``
1..21600 issues a token (the TTL is echoed in the same response header); a bad TTL is 400, a
dated path or ``X-Forwarded-For`` is 403. Every GET/HEAD needs a live token
(``X-aws-ec2-metadata-token``) unless ``allow_v1``; a missing, unknown or expired token is
401. ``GET api/token`` is 405 with ``Allow: OPTIONS, PUT`` and no body; other methods are
405; unknown paths are 404 (exact matching).

As EC2 answers on the wire (docs/imds.md, 'On the wire'): values and listings are
``text/plain`` and
``user-data`` is ``application/octet-stream``; errors carry EC2's XHTML page
(``<title>404 - Not Found</title>``) as ``text/html``; a nested directory asked for without
its trailing slash is ``301 Moved Permanently`` to the absolute URL with the slash
(``meta-data/tags/instance`` excepted: EC2 answers it 200); every answer has
``Server: EC2ws``, ``Accept-Ranges: none``, ``Last-Modified`` and ``Date``. With
``disabled`` set (``HttpEndpoint=disabled``), every request is 403.
"""

from __future__ import annotations

import email.utils
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict
from urllib.parse import unquote

from ec2imds.catalog import Node
from ec2imds.simulator.editing import TreeEditor
from ec2imds.simulator.events import EventInjector
from ec2imds.simulator.faults import Faults
from ec2imds.simulator.stats import Stats
from ec2imds.simulator.tree import TreeLike, is_indexed_key

__all__ = [
    "MAX_TOKEN_TTL",
    "METADATA_VERSIONS",
    "CoreOptions",
    "SimResponse",
    "SimulatorCore",
]


class CoreOptions(TypedDict, total=False):
    """:class:`SimulatorCore`'s keyword options, which :class:`ec2imds.testing.FakeIMDS`
    passes on as they are."""

    allow_v1: bool
    latency: float
    seed: int
    clock: Callable[[], float] | None


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


#: EC2's error page (seen for 404 in curl transcripts of real instances; docs/imds.md,
#: 'On the wire').
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


def _response(status: int, body: bytes | None = None, **headers: str) -> SimResponse:
    if body is None:
        title = f"{status} - {_REASONS.get(status, 'Error')}"
        body = _ERROR_PAGE.format(title=title).encode("ascii")
        headers.setdefault("Content-Type", "text/html")
    return SimResponse(status, dict(headers), body)


def _listing(node: Mapping[str, Node], *, slashes: bool = True) -> bytes:
    names = [
        key + "/" if slashes and isinstance(value, dict) and not is_indexed_key(key, value) else key
        for key, value in node.items()
    ]
    return "\n".join(names).encode()


class SimulatorCore:
    """The whole simulator without sockets: this protocol (:meth:`handle`, the tokens)
    over its parts, thread-safe (one lock, :attr:`lock`):

    * :attr:`editor`: the live tree (:class:`~ec2imds.simulator.editing.TreeEditor`:
      ``get``, ``set``, ``delete``, ``schedule``, ``snapshot``);
    * :attr:`events`: the events (:class:`~ec2imds.simulator.events.EventInjector`:
      ``inject_*``, ``set_lifecycle_state``), written into that tree;
    * :attr:`faults` (:class:`~ec2imds.simulator.faults.Faults`) and :attr:`stats`
      (:class:`~ec2imds.simulator.stats.Stats`).

    ``tree`` is copied (``None``: the default instance,
    :func:`ec2imds.simulator.instance.default_tree`).  ``clock`` (default
    :func:`time.monotonic`) drives token expiry and scheduled changes, so tests can move
    time by hand.  ``seed`` makes random faults and generated event ids reproducible.
    The socket server and the in-process fake each hold one core (their ``core``) and
    offer its controls (:class:`~ec2imds.simulator.controls.SimulatorControls`).
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
        #: The tree served, edited live.
        self.editor = TreeEditor(tree, clock=clock)
        #: The one lock (the tree's) guarding the tree, tokens, schedule, stats and faults.
        self.lock = self.editor.lock
        #: The events, written into the tree of :attr:`editor`.
        self.events = EventInjector(self.editor, seed=seed)
        self._tokens: dict[str, float] = {}
        #: Whether token-less GETs are answered (IMDSv1).
        self.allow_v1 = allow_v1
        #: ``HttpEndpoint=disabled``: every request is answered 403.
        self.disabled = False
        #: Where this IMDS is reached (``Location`` of a 301); the server sets its own.
        self.base_url = "http://169.254.169.254"
        self._last_modified = email.utils.formatdate(time.time(), usegmt=True)
        #: Request counters (see :class:`~ec2imds.simulator.stats.Stats`).
        self.stats = Stats(self.lock)
        #: Fault settings (see :class:`~ec2imds.simulator.faults.Faults`).
        self.faults = Faults(self.lock, seed=seed, on_expire_tokens=self.expire_tokens)
        self.faults.latency = latency

    # -- the protocol ------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str]) -> SimResponse:
        """Answer one request.  ``path`` is the request target (query ignored)."""
        method = method.upper()
        lower = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            now = self.editor.now()
            self.editor.run_due(now)
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
            resp = _response(fault.status, b"", Location=fault.location)
        elif fault.kind == "status":
            resp = _response(fault.status)
        elif self.disabled:
            resp = _response(403)
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
            return _response(405, b"", Allow="OPTIONS, PUT")  # GET, POST...: as EC2 answers
        if method not in ("GET", "HEAD"):
            return _response(405, Allow="GET, HEAD")
        denied = self._check_token(headers, now)
        if denied is not None:
            return denied
        if version is None:
            return _response(200, "\n".join(METADATA_VERSIONS).encode())
        if version != "latest" and version not in _DATED:
            return _response(404)
        if rest in ("", "/"):
            return _response(200, _listing(self._root(), slashes=False))
        return self._serve(version, rest)

    def _issue_token(self, version: str | None, headers: dict[str, str], now: float) -> SimResponse:
        if version != "latest" or "x-forwarded-for" in headers:
            return _response(403)
        raw = headers.get(TTL_HEADER.lower(), "").strip()
        if not _TTL_RE.fullmatch(raw) or not 1 <= int(raw) <= MAX_TOKEN_TTL:
            return _response(400)
        ttl = int(raw)
        if len(self._tokens) >= _PRUNE_AT:
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
        token = secrets.token_urlsafe(40)
        self._tokens[token] = now + ttl
        self.stats.record_token()
        return _response(200, token.encode(), **{TTL_HEADER: str(ttl)})

    def _check_token(self, headers: dict[str, str], now: float) -> SimResponse | None:
        token = headers.get(TOKEN_HEADER.lower())
        if token is None:
            # A request carrying either v2 header is treated as v2 (docs/imds.md,
            # 'The session token').
            if self.allow_v1 and TTL_HEADER.lower() not in headers:
                return None
            return _response(401)
        expiry = self._tokens.get(token)
        if expiry is None or expiry <= now:
            self._tokens.pop(token, None)
            return _response(401)
        return None

    def _serve(self, version: str, rest: str) -> SimResponse:
        directory = rest.endswith("/")
        parts = rest[:-1].split("/") if directory else rest.split("/")
        node = self.editor.node_at(parts)
        if node is None:
            return _response(404)
        if isinstance(node, dict):
            if not directory and len(parts) > 1 and rest not in _NO_REDIRECT:
                location = f"{self.base_url}/{version}/{rest}/"
                return _response(301, b"", Location=location)
            return _response(200, _listing(node))
        if parts == ["user-data"]:
            return _response(
                200,
                node.encode() if isinstance(node, str) else node,
                **{"Content-Type": "application/octet-stream"},
            )
        # A leaf asked for with a trailing slash is still served, as AWS does
        # (``meta-data/instance-id/``, ``user-data/``; see boto/boto#1900).
        return _response(200, node.encode() if isinstance(node, str) else node)

    def _root(self) -> Mapping[str, Node]:
        root = self.editor.node_at([])
        assert isinstance(root, dict)
        return root

    # -- tokens ------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid now."""
        with self.lock:
            self._tokens.clear()

    @property
    def live_tokens(self) -> int:
        """Tokens issued and not yet expired."""
        with self.lock:
            now = self.editor.now()
            return sum(1 for exp in self._tokens.values() if exp > now)
