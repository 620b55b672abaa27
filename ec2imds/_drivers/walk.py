"""The walk drivers: run a :class:`~ec2imds.crawl.Walk` over a fetch function.

:func:`run_threaded` (a thread pool) and :func:`run_async` (asyncio tasks) keep up to
``concurrency`` fetches in flight, feeding each body to the walk as it arrives, so a
crawl takes about as many round trips as the tree is deep. :func:`run_walk` is the
simplest driver, level by level, for tests. With a ``failures`` dict, an error that
concerns one path (``PATH_ERRORS``, a bad listing) is collected and the walk goes on;
without one, it is raised and whatever is pending is cancelled.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Awaitable, Callable

from ec2imds.crawl import RawNode, Walk
from ec2imds.errors import PATH_ERRORS, Failures, IMDSValidationError, collect

__all__ = ["run_async", "run_threaded", "run_walk"]


def run_walk(walk: Walk, fetch: Callable[[list[str]], list[bytes | None]]) -> RawNode | None:
    """Drive ``walk`` level by level with a batch fetcher (a simple reference driver)."""
    batch = walk.start()
    while batch:
        bodies = fetch(batch)
        if len(bodies) != len(batch):
            raise ValueError(f"fetch gave {len(bodies)} bodies for {len(batch)} paths")
        batch = [p for path, body in zip(batch, bodies) for p in walk.feed(path, body)]
    return walk.result()


def _feed(
    walk: Walk, path: str, body: bytes | None, failures: Failures | None, *, failed: bool
) -> list[str]:
    """:meth:`Walk.feed`; a bad listing is collected (:func:`~ec2imds.errors.collect`)
    and the walk goes on as if that directory were absent."""
    try:
        return walk.feed(path, body, failed=failed)
    except IMDSValidationError as exc:
        collect(failures, path, exc)
        return walk.feed(path, None, failed=True)


def run_threaded(
    walk: Walk,
    get: Callable[[str], bytes | None],
    pool: cf.Executor,
    failures: Failures | None = None,
) -> RawNode | None:
    """Drive ``walk`` with ``get`` on a thread pool: as soon as a listing arrives its
    children are submitted, so the pool's size is the number of requests in flight.

    With ``failures``, an error that concerns one path only (``PATH_ERRORS``) is recorded
    there and the walk goes on; any other error cancels what is pending and is raised.
    """
    import queue

    # Finished futures arrive on a queue (cheaper than cf.wait over every running future).
    finished: queue.SimpleQueue[cf.Future[bytes | None]] = queue.SimpleQueue()
    running: dict[cf.Future[bytes | None], str] = {}

    def submit(path: str) -> None:
        future = pool.submit(get, path)
        running[future] = path
        future.add_done_callback(finished.put)

    try:
        for path in walk.start():
            submit(path)
        while running:
            future = finished.get()
            path = running.pop(future)
            failed = False
            try:
                body = future.result()
            except PATH_ERRORS as exc:
                collect(failures, path, exc)
                body, failed = None, True
            for child in _feed(walk, path, body, failures, failed=failed):
                submit(child)
    finally:
        for future in running:
            future.cancel()
        cf.wait(running)
    return walk.result()


async def run_async(
    walk: Walk,
    get: Callable[[str], Awaitable[bytes | None]],
    concurrency: int,
    failures: Failures | None = None,
) -> RawNode | None:
    """The asyncio twin of :func:`run_threaded`: one task per path, at most
    ``concurrency`` requests in flight; cancelled cleanly with whatever is pending."""
    import asyncio

    limit = asyncio.Semaphore(concurrency)

    async def one(path: str) -> tuple[str, bytes | None, bool]:
        async with limit:
            try:
                return path, await get(path), False
            except PATH_ERRORS as exc:
                collect(failures, path, exc)
                return path, None, True

    # Finished tasks arrive on a queue (cheaper than asyncio.wait over every running task).
    finished: asyncio.Queue[asyncio.Task[tuple[str, bytes | None, bool]]] = asyncio.Queue()
    running: set[asyncio.Task[tuple[str, bytes | None, bool]]] = set()

    def spawn(paths: list[str]) -> None:
        for path in paths:
            task = asyncio.ensure_future(one(path))
            running.add(task)
            task.add_done_callback(finished.put_nowait)

    try:
        spawn(walk.start())
        while running:
            task = await finished.get()
            running.discard(task)
            path, body, failed = task.result()
            spawn(_feed(walk, path, body, failures, failed=failed))
    finally:
        for task in running:
            task.cancel()
        if running:
            # Finished tasks still queued behind the one that raised are in ``running``
            # too: gathered here, their exceptions are retrieved, so never logged.
            await asyncio.gather(*running, return_exceptions=True)
    return walk.result()
