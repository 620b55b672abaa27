"""Walking the IMDS tree: the listing parser and the walk, without I/O.

:class:`Walk` is a small state machine: :meth:`Walk.start` gives the first paths to
fetch, :meth:`Walk.feed` takes one path's body and gives the paths it reveals, and
:meth:`Walk.result` assembles the raw tree once every fetched path has been fed.
:func:`walk_flow` is the walk as a flow (:mod:`ec2imds._flow`): it asks each path and
fans a directory's children out as soon as its listing arrives; the runners keep up to
``concurrency`` fetches in flight (threads or tasks), so a full crawl takes about as many
round trips as the tree is deep, and fetches every directory and every leaf exactly once
(unless the tree changes under the walk: see below).

The raw tree has the shape of the simulator's tree with bytes leaves: a directory is a
``dict`` in listing order, keys without the trailing ``/``; a public-keys entry keeps its
``0=name`` key and holds the ``0/`` directory.

The listing is the truth (docs/imds.md, 'Directory listings'): the walk asks only for what
a listing names, so a
path a server does not list is absent and never requested, even when the server would
answer it (Amazon's mock, AEMM, matches paths by substring and answers unlisted paths with
another listing). A name listed both with and without a trailing slash (AEMM lists
``associations`` and ``associations/``) is a directory. With ``only``, a walk from the root
descends only towards (and into) the paths named, so that a few categories cost their
ancestors' listings and their own subtrees, and nothing else.

The walk survives what a broken or hostile server could send: CRLF, blank lines, a
missing final newline, ``.``/``..``, absolute paths, empty names, odd characters
(skipped, with a warning), duplicates, huge listings and endless depth (errors): it never
leaves the subtree it was asked for and never loops.

The tree can change while it is walked (an interface detached, a tag removed). A
directory in the result is never a half of itself: when an entry its listing named
answers 404, the directory is walked again once it is quiet (once per directory per
walk), from its listing down, so the result holds it as it was before the change, as it
is after it, or not at all (its own listing gone: a 404 one level up, walked again in
turn). An entry that a fresh listing still names but that still answers 404 is absent:
IMDS lists it and does not serve it.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Union

from ec2imds._flow import FanOut, Flow
from ec2imds._log import log
from ec2imds.errors import PATH_ERRORS, Failures, IMDSValidationError, collect

__all__ = [
    "INDEXED_DIRS",
    "MAX_DEPTH",
    "MAX_NODES",
    "NAME",
    "Entry",
    "RawNode",
    "RawTree",
    "Walk",
    "parse_listing",
    "walk_flow",
]


RawNode = Union[bytes, dict[str, "RawNode"]]  # evaluated at run time: no X | Y before Python 3.10
RawTree = dict[str, RawNode]

#: Directories whose listing says ``<index>=<name>`` for the sub-directory ``<index>/``.
INDEXED_DIRS = frozenset({"meta-data/public-keys"})
#: Deeper than any real IMDS tree (meta-data/network/interfaces/macs/<mac>/ipv4-associations/<ip>
#: is 7 below /latest/): a deeper walk is a server that lists itself forever.
MAX_DEPTH = 12
#: More paths than any real instance has (a few hundred); beyond this the walk stops.
MAX_NODES = 20_000

# IMDS names: tag keys allow [a-zA-Z0-9+-=.,_:@]; MACs, IPs, roles and CIDR-free names fit.
#: A plain listing name: what a walk (and a path under a keyed directory) may contain.
NAME = re.compile(r"[A-Za-z0-9+\-=.,_:@~]+")


class Entry(NamedTuple):
    """One listing entry: ``key`` in the raw tree, ``segment`` in the URL.

    (A NamedTuple, not a dataclass: the command line imports this module at start-up.)
    """

    key: str
    segment: str
    is_dir: bool


def parse_listing(body: bytes, *, path: str, indexed: bool = False) -> list[Entry]:
    """Parse a directory listing body into entries.

    Lines are split on LF (CR tolerated); blank lines and duplicates are dropped (a name
    listed both as ``x`` and ``x/`` is the directory ``x``: a trailing slash is never a
    leaf's); an entry that is not a plain name (``.``, ``..``, ``/x``, ``a/b``, control
    characters, spaces...) is skipped with a warning, so a walk never leaves its subtree.
    Invalid UTF-8 is an :class:`~ec2imds.errors.IMDSValidationError` naming ``path``.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IMDSValidationError(
            f"{path}: the listing is not UTF-8 text", path=path, value=body[:80]
        ) from exc
    entries: list[Entry] = []
    seen: dict[str, int] = {}  # segment -> index in entries
    for raw in text.split("\n"):
        line = raw.strip("\r")
        if not line.strip():
            continue
        is_dir = line.endswith("/")
        name = line[:-1] if is_dir else line
        segment = name
        if indexed and not is_dir and "=" in name:
            segment = name.split("=", 1)[0]
            is_dir = True
        if (
            not NAME.fullmatch(segment)
            or segment in (".", "..")
            or (not indexed and not NAME.fullmatch(name))
        ):
            log.warning("%s: skipped listing entry %r (not a plain name)", path, line[:80])
            continue
        if segment in seen:
            index = seen[segment]
            kept = entries[index]
            if is_dir and not kept.is_dir:
                entries[index] = Entry(name, segment, True)
            elif indexed and "=" in name and "=" not in kept.key:
                entries[index] = Entry(name, segment, True)  # 0=name says more than 0/
            continue
        seen[segment] = len(entries)
        entries.append(Entry(name, segment, is_dir))
    return entries


class Walk:
    """The walk of one subtree (``root`` relative to ``/latest/``, e.g. ``meta-data``).

    Paths handed out are relative to ``/latest/``; directories end with ``/``. A body of
    ``None`` means 404: the entry is absent from the result. When a listed entry is
    absent, its directory changed during the walk and is walked again (see the module
    docstring), so :meth:`feed` may hand out a path a second time; a driver with a cache
    must then fetch it afresh. ``failed=True`` feeds a path whose fetch failed for good
    (recorded by the driver): it is absent and nothing is walked again for it.

    ``only`` (paths relative to ``/latest/``) restricts the walk to those paths, their
    ancestors' listings and their subtrees: an entry that is none of these is neither
    fetched nor in the result.
    """

    def __init__(
        self,
        root: str,
        *,
        seed: list[Entry] | None = None,
        only: list[str] | None = None,
        max_depth: int = MAX_DEPTH,
        max_nodes: int = MAX_NODES,
    ) -> None:
        self.root = root.strip("/")
        self._only = None if only is None else tuple(p.strip("/") for p in only)
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self._dirs: dict[str, list[Entry] | None] = {}
        self._leaves: dict[str, bytes | None] = {}
        self._pending: set[str] = set()
        self._issued = 0
        self._seed = seed
        prefix = f"{self.root}/" if self.root else ""
        #: Paths of the seeded entries (``meta-data/placement/region`` may be one).
        self._seeded = {prefix + e.segment for e in seed or ()}
        #: Directories with a listed entry that answered 404; walked again when quiet.
        self._stale: set[str] = set()
        #: Directories walked again already (at most once each).
        self._rewalked: set[str] = set()

    def start(self) -> list[str]:
        """The first paths to fetch: the root's listing, or the seeded entries' paths."""
        if self._seed is None:
            return self._issue([self.root + "/"])
        prefix = f"{self.root}/" if self.root else ""
        seed = [e for e in self._seed if self._wanted(prefix + e.segment)]
        self._dirs[self.root] = seed
        return self._issue([prefix + e.segment + ("/" if e.is_dir else "") for e in seed])

    def _wanted(self, path: str) -> bool:
        """True when ``path`` is on the way to, is, or is inside a path of ``only``."""
        if self._only is None:
            return True
        return any(
            t == path or t.startswith(path + "/") or path.startswith(t + "/") or not t
            for t in self._only
        )

    def _issue(self, paths: list[str]) -> list[str]:
        self._issued += len(paths)
        if self._issued > self.max_nodes:
            raise IMDSValidationError(
                f"{self.root}: more than {self.max_nodes} paths; refusing to walk further",
                path=self.root,
            )
        self._pending.update(paths)
        return paths

    @property
    def done(self) -> bool:
        return not self._pending

    def feed(self, path: str, body: bytes | None, *, failed: bool = False) -> list[str]:
        """Record the body fetched at ``path``; returns the new paths it reveals (and,
        once nothing is pending, the directories to walk again)."""
        self._pending.discard(path)
        if body is None and not failed:
            self._vanished(path.rstrip("/"))
        found = self._record(path, body)
        if not self._pending and self._stale:
            found = found + self._rewalk()
        return found

    def _record(self, path: str, body: bytes | None) -> list[str]:
        if not path.endswith("/"):
            self._leaves[path] = body
            return []
        directory = path[:-1]
        if body is None:
            self._dirs[directory] = None
            return []
        entries = parse_listing(body, path=directory, indexed=directory in INDEXED_DIRS)
        if self._only is not None:
            entries = [e for e in entries if self._wanted(f"{directory}/{e.segment}")]
        self._dirs[directory] = entries
        depth = self._depth(directory) + 1
        children = []
        for entry in entries:
            child = f"{directory}/{entry.segment}"
            if entry.is_dir:
                if depth >= self.max_depth:
                    raise IMDSValidationError(
                        f"{child}: deeper than {self.max_depth} levels; refusing to walk further",
                        path=child,
                    )
                children.append(child + "/")
            else:
                children.append(child)
        return self._issue(children)

    def _vanished(self, path: str) -> None:
        """``path`` answered 404: if a listing fetched in this walk named it, that
        listing is stale (the seeded root's entries were never listed by IMDS)."""
        if path == self.root or path in self._seeded:
            return
        parent = path.rpartition("/")[0]
        if parent in self._rewalked:
            log.info("%s: listed by %s/ but absent (404), after walking it again", path, parent)
            return
        self._stale.add(parent)

    def _rewalk(self) -> list[str]:
        """Forget what was fetched below each stale directory and fetch it again from
        its listing (the outermost ones only: they cover the rest)."""
        stale = sorted(self._stale)
        outer = [d for d in stale if not any(_below(d, other) for other in stale if other != d)]
        paths = self._issue([d + "/" for d in outer])  # raises before anything is forgotten
        self._stale.clear()
        for directory in outer:
            log.info("%s/ changed during the walk; walking it again", directory)
            self._rewalked.add(directory)
            for table in (self._dirs, self._leaves):
                for key in [k for k in table if k == directory or _below(k, directory)]:
                    del table[key]
        return paths

    def _depth(self, directory: str) -> int:
        """Levels below the root (0 for the root itself)."""
        return len([s for s in directory[len(self.root) :].split("/") if s])

    def result(self) -> RawNode | None:
        """The raw tree of the root directory (None when the root itself was 404)."""
        if self._pending:
            raise RuntimeError(f"walk of {self.root} is not finished: {sorted(self._pending)[:3]}")
        return self._build(self.root)

    def _build(self, directory: str) -> RawTree | None:
        entries = self._dirs.get(directory)
        if entries is None:
            return None
        out: RawTree = {}
        prefix = f"{directory}/" if directory else ""
        for entry in entries:
            child = prefix + entry.segment
            node: RawNode | None = self._build(child) if entry.is_dir else self._leaves.get(child)
            if node is not None:
                out[entry.key] = node
        return out


def _below(path: str, directory: str) -> bool:
    """True when ``path`` is strictly inside ``directory`` (``""`` is the root)."""
    return path.startswith(directory + "/") if directory else bool(path)


def walk_flow(walk: Walk, failures: Failures | None = None) -> Flow[RawNode | None]:
    """``walk`` as a flow: asks each path (relative to ``/latest/``; the answer is its body,
    ``None`` for 404) and fans out the paths a listing reveals as soon as it arrives.

    With ``failures``, an error that concerns one path only (``PATH_ERRORS``, a bad
    listing) is recorded there (:func:`~ec2imds.errors.collect`) and the walk goes on as
    if that path were absent; any other error cancels what is pending and is raised.
    """

    def visit(path: str) -> Flow[None]:
        failed = False
        try:
            body = yield path
        except PATH_ERRORS as exc:
            collect(failures, path, exc)
            body, failed = None, True
        try:
            children = walk.feed(path, body, failed=failed)
        except IMDSValidationError as exc:
            collect(failures, path, exc)
            children = walk.feed(path, None, failed=True)
        if children:
            yield FanOut([visit(child) for child in children])

    yield FanOut([visit(path) for path in walk.start()])
    return walk.result()
