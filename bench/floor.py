"""The floor of a full crawl: round trips a perfect client needs, from the tree served.

A crawl cannot fetch a directory's children before it has the directory's listing, and it
keeps at most ``slots`` requests in flight. With every request taking one unit of latency,
the crawl is a schedule of rounds: each round runs up to ``slots`` ready requests, and a
directory's children become ready in the round after it. The floor is the number of rounds
of the best schedule we try (breadth-first, or "longest path first"), plus one round trip
for the token PUT, times the latency. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ec2imds._compat import SLOTS

__all__ = [
    "CRAWL_ROOTS",
    "Floor",
    "Task",
    "build_tasks",
    "compute_floor",
    "count_nodes",
    "schedule_rounds",
]

#: What a full crawl starts from (ec2imds seeds its walk with these, below ``/latest/``):
#: a root that is absent from the tree still costs one request (a 404).
CRAWL_ROOTS: tuple[str, ...] = ("meta-data", "dynamic", "user-data")

Policy = Literal["fifo", "critical"]


@dataclass(frozen=True, **SLOTS)
class Task:
    """One request of the crawl: a directory listing (with children) or a leaf."""

    path: str
    children: tuple[Task, ...] = ()
    is_dir: bool = False

    @property
    def height(self) -> int:
        """Rounds needed below and including this request, with unlimited slots."""
        return 1 + max((c.height for c in self.children), default=0)

    @property
    def size(self) -> int:
        """Requests in this subtree, this one included."""
        return 1 + sum(c.size for c in self.children)


def _task(path: str, node: object) -> Task:
    if isinstance(node, Mapping):
        kids = tuple(_task(f"{path}/{k}", v) for k, v in node.items())
        return Task(path + "/", kids, True)
    return Task(path)


def build_tasks(
    tree: Mapping[str, object], roots: Sequence[str] | None = CRAWL_ROOTS
) -> list[Task]:
    """The crawl's first requests (its roots), each carrying the requests it reveals.

    A dict is a directory (one listing request; an indexed ``0=name`` key as well), any
    other value a leaf (one request). ``roots=None`` starts from every key of ``tree``.
    """
    names = list(tree) if roots is None else list(roots)
    return [_task(name, tree[name]) if name in tree else Task(name) for name in names]


def count_nodes(tasks: Iterable[Task]) -> tuple[int, int]:
    """``(directories, leaves)`` requested by a crawl of ``tasks``."""
    dirs = leaves = 0
    stack = list(tasks)
    while stack:
        t = stack.pop()
        if t.is_dir:
            dirs += 1
        else:
            leaves += 1
        stack.extend(t.children)
    return dirs, leaves


def schedule_rounds(tasks: Sequence[Task], slots: int = 8, policy: Policy = "fifo") -> int:
    """Rounds (unit round trips) to run every request with ``slots`` in flight.

    ``fifo``: breadth-first, requests start in the order they were revealed (what a
    streaming crawler with a queue does). ``critical``: among ready requests, the one
    with the longest path below it first (ties: the bigger subtree), which is never worse
    than fifo by more than rounding and usually the best a list schedule can do.
    """
    if slots < 1:
        raise ValueError("slots must be at least 1")
    ready = list(tasks)
    rounds = 0
    while ready:
        if policy == "critical":
            ready.sort(key=lambda t: (-t.height, -t.size))
        batch, ready = ready[:slots], ready[slots:]
        rounds += 1
        for t in batch:
            ready.extend(t.children)
    return rounds


@dataclass(frozen=True, **SLOTS)
class Floor:
    """The floor of a full crawl of one tree."""

    dirs: int
    leaves: int
    slots: int
    rounds_fifo: int
    rounds_critical: int
    #: ``max(depth, ceil(requests / slots))``: no schedule can do better.
    lower_bound: int

    @property
    def requests(self) -> int:
        """GETs of a full crawl: every directory and every leaf once (no PUT)."""
        return self.dirs + self.leaves

    @property
    def rounds(self) -> int:
        """Rounds of the best schedule tried."""
        return min(self.rounds_fifo, self.rounds_critical)

    def seconds(self, latency: float) -> float:
        """The floor at ``latency`` seconds per round trip: the crawl's rounds plus the PUT."""
        return (self.rounds + 1) * latency


def compute_floor(
    tree: Mapping[str, object], slots: int = 8, roots: Sequence[str] | None = CRAWL_ROOTS
) -> Floor:
    """The floor of a full crawl of ``tree`` with ``slots`` requests in flight."""
    tasks = build_tasks(tree, roots)
    dirs, leaves = count_nodes(tasks)
    depth = max((t.height for t in tasks), default=0)
    return Floor(
        dirs=dirs,
        leaves=leaves,
        slots=slots,
        rounds_fifo=schedule_rounds(tasks, slots, "fifo"),
        rounds_critical=schedule_rounds(tasks, slots, "critical"),
        lower_bound=max(depth, math.ceil((dirs + leaves) / slots)),
    )
