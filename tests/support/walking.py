"""A reference driver of :class:`ec2imds.crawl.Walk` for the walk's tests (the package
runs a walk as ``walk_flow`` on the flow runners; this drives the state machine alone)."""

from __future__ import annotations

from collections.abc import Callable

from ec2imds.crawl import RawNode, Walk


def run_walk(walk: Walk, fetch: Callable[[list[str]], list[bytes | None]]) -> RawNode | None:
    """Drive ``walk`` level by level with a batch fetcher."""
    batch = walk.start()
    while batch:
        bodies = fetch(batch)
        if len(bodies) != len(batch):
            raise ValueError(f"fetch gave {len(bodies)} bodies for {len(batch)} paths")
        batch = [p for path, body in zip(batch, bodies) for p in walk.feed(path, body)]
    return walk.result()
