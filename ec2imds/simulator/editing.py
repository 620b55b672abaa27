"""The simulator's tree, edited live: read, set, delete, snapshot and scheduled changes.

:class:`TreeEditor` owns the tree an IMDS serves, the simulator's one lock and its clock.
Paths are ``"meta-data/spot/instance-action"`` (a leading ``/latest/`` is accepted); a
segment of digits addresses an indexed key (``public-keys/0`` is ``0=my-key``).  A
changed identity document is signed again (:mod:`ec2imds.simulator.identity`).

Scheduled changes are applied lazily, before the next request is answered or the tree is
read, in the order scheduled; no timer thread runs.  The simulator's core
(:class:`~ec2imds.simulator.protocol.SimulatorCore`) holds one editor and serves its tree;
the events (:class:`~ec2imds.simulator.events.EventInjector`) write through it.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Mapping

from ec2imds.catalog import Node
from ec2imds.simulator.tree import TreeLike, copy_tree, is_indexed_key

__all__ = ["TreeEditor"]

_IDENTITY_DOCUMENT = ["dynamic", "instance-identity", "document"]


def _load_default_tree() -> dict[str, Node]:
    # Imported lazily: the default instance is only built when no tree is given.
    from ec2imds.simulator.instance import default_tree

    return default_tree()


def _keep_signed(tree: dict[str, Node], previous: bytes | None = None) -> None:
    """A new identity document gets new signatures from the simulator's TEST keys, where
    the blobs were the simulator's own for the ``previous`` document (``None``: the
    default one); see :mod:`ec2imds.simulator.identity`."""
    from ec2imds.simulator.identity import keep_signed

    keep_signed(tree, previous)


def _document_of(tree: dict[str, Node]) -> bytes | None:
    from ec2imds.simulator.identity import document_of

    return document_of(tree)


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


def _copy_node(value: Node) -> Node:
    if isinstance(value, (str, bytes)):
        return value
    return copy_tree(value)


class TreeEditor:
    """The served tree and its live changes; thread-safe (one lock).

    ``tree`` is copied (``None``: the default instance,
    :func:`ec2imds.simulator.instance.default_tree`).  ``clock`` (default
    :func:`time.monotonic`) says when scheduled changes are due, so tests can move time
    by hand.  The methods after "for the core and the events" are the ones the core and
    the events call (all but :meth:`schedule_action` with :attr:`lock` held).
    """

    def __init__(
        self, tree: TreeLike | None = None, *, clock: Callable[[], float] | None = None
    ) -> None:
        self._lock = threading.RLock()
        self._clock: Callable[[], float] = clock if clock is not None else time.monotonic
        self._tree: dict[str, Node] = copy_tree(tree) if tree is not None else _load_default_tree()
        _keep_signed(self._tree)
        self._pending: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    @property
    def lock(self) -> threading.RLock:
        """The one lock guarding the tree, tokens, schedule, stats and faults."""
        return self._lock

    def now(self) -> float:
        """The simulator's clock (seconds; :func:`time.monotonic` unless one was given)."""
        return self._clock()

    def snapshot(self) -> dict[str, Node]:
        """A deep copy of the tree as served now (scheduled changes that are due applied)."""
        with self._lock:
            self.run_due(self._clock())
            return copy.deepcopy(self._tree)

    def get(self, path: str) -> Node | None:
        """The node at ``path`` (a copy), or ``None`` when absent."""
        parts = _tree_parts(path)
        with self._lock:
            self.run_due(self._clock())
            return copy.deepcopy(self.node_at(parts))

    def set(self, path: str, value: Node) -> None:
        """Set the node at ``path`` (``"meta-data/spot/instance-action"``), creating
        directories as needed.  Raises ``ValueError`` if a parent is a leaf."""
        parts = _tree_parts(path)
        value = _copy_node(value)
        with self._lock:
            self.run_due(self._clock())
            self.set_parts(parts, value)

    def delete(self, path: str) -> bool:
        """Remove the node at ``path``; returns whether there was one."""
        parts = _tree_parts(path)
        with self._lock:
            self.run_due(self._clock())
            return self.delete_parts(parts)

    def schedule(self, after: float, path: str, value: Node | None) -> None:
        """Set (or, with ``None``, delete) ``path`` ``after`` seconds from now.

        Changes are applied lazily, on the first request (or tree read) at or after the
        due time, in the order scheduled; no timer thread runs.  A change that no longer
        fits the tree (a parent became a leaf) is skipped.
        """
        parts = _tree_parts(path)
        node = None if value is None else _copy_node(value)

        def apply() -> None:
            if node is None:
                self.delete_parts(parts)
            else:
                self.set_parts(parts, copy.deepcopy(node))

        self.schedule_action(after, apply)

    @property
    def pending_changes(self) -> int:
        """Scheduled changes not applied yet."""
        with self._lock:
            self.run_due(self._clock())
            return len(self._pending)

    # -- for the core and the events -------------------------------------------------

    def schedule_action(self, after: float, action: Callable[[], None]) -> None:
        """Run ``action`` (which edits the tree with the methods below) ``after`` seconds
        from now, or now; it runs with :attr:`lock` held."""
        after = float(after)
        with self._lock:
            now = self._clock()
            self.run_due(now)
            if after <= 0.0:
                action()
            else:
                heapq.heappush(self._pending, (now + after, next(self._seq), action))

    # The methods below expect :attr:`lock` held.

    def run_due(self, now: float) -> None:
        """Apply the scheduled changes due at ``now``, in order; skip those that no longer fit."""
        while self._pending and self._pending[0][0] <= now:
            _, _, action = heapq.heappop(self._pending)
            try:
                action()
            except ValueError:
                continue

    def node_at(self, parts: list[str]) -> Node | None:
        """The node (not a copy) at ``parts`` (``[]``: the root), or ``None``."""
        node: Node = self._tree
        for segment in parts:
            if not isinstance(node, dict):
                return None
            key = _child_key(node, segment)
            if key is None:
                return None
            node = node[key]
        return node

    def set_parts(self, parts: list[str], value: Node) -> None:
        """Set the node at ``parts`` (see :meth:`set`)."""
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

    def delete_parts(self, parts: list[str]) -> bool:
        """Remove the node at ``parts`` (see :meth:`delete`)."""
        parent = self.node_at(parts[:-1])
        if not isinstance(parent, dict):
            return False
        key = _child_key(parent, parts[-1])
        if key is None:
            return False
        del parent[key]
        return True
