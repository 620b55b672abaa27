"""The endpoint race (RFC 8305 "Happy Eyeballs"), threaded and asyncio.

With more than one endpoint configured (IPv4 and IPv6), the first request races them in
the order of :func:`race_order`: the endpoint that won the last race (remembered by the
token store) gets the head start, then IPv4, then IPv6; each next one starts
``race_delay`` later or as soon as the previous fails. The first endpoint that answers is
kept by the driver for the client's life, and remembered for the next race.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from ec2imds.endpoints import DEFAULT_PORT, Endpoint, is_ipv6
from ec2imds.errors import IMDSError, IMDSUnavailable

__all__ = ["arace", "race", "race_order"]

T = TypeVar("T")


def race_order(endpoints: Sequence[Endpoint], first: Endpoint | None = None) -> list[Endpoint]:
    """The order of a race: ``first`` (the last winner, when it is one of ``endpoints``),
    then IPv4 and names, then IPv6 literals, each in their configured order.

    IPv4 leads by default: it answers wherever IMDS is on (IPv6-only subnets aside), while
    the IPv6 endpoint is off unless the instance enables it (and then only on Nitro): on
    most dual-stack instances an IPv6-first race would wait ``race_delay`` for nothing.
    """
    order = sorted(endpoints, key=is_ipv6)
    if first is not None:
        key = (first[0], first[1] or DEFAULT_PORT)
        for i, ep in enumerate(order):
            if (ep[0], ep[1] or DEFAULT_PORT) == key:
                order.insert(0, order.pop(i))
                break
    return order


def _all_failed(errors: dict[Endpoint, IMDSError]) -> IMDSUnavailable:
    return IMDSUnavailable("no IMDS endpoint answered: " + "; ".join(map(str, errors.values())))


def race(
    endpoints: Sequence[Endpoint],
    call: Callable[[Endpoint], T],
    delay: float,
    first: Endpoint | None = None,
) -> tuple[Endpoint, T | IMDSError]:
    """Race ``call`` over ``endpoints`` (RFC 8305) in :func:`race_order` (``first``, the
    remembered winner, at once), each next one ``delay`` seconds later or as soon as the
    previous fails; the first endpoint that *answers* wins.

    Returns the winner and its result, or the :class:`IMDSError` it answered with (an
    endpoint that says "disabled" is still the IMDS). Raises :class:`IMDSUnavailable`
    naming every endpoint when none answers. Losers still running are abandoned to their
    own timeouts on daemon threads: neither the answer nor the process exit waits for them.
    """
    import queue as queue_mod
    import threading

    order = race_order(endpoints, first)
    errors: dict[Endpoint, IMDSError] = {}
    # Daemon threads of our own, not a ThreadPoolExecutor: the executor's workers are
    # joined at interpreter exit even after shutdown(wait=False), so a losing connect
    # held the process for a whole timeout.
    results: queue_mod.Queue[tuple[Endpoint, T | None, BaseException | None]] = queue_mod.Queue()

    def run(ep: Endpoint) -> None:
        try:
            results.put((ep, call(ep), None))
        except BaseException as exc:  # handed to the racing thread
            results.put((ep, None, exc))

    running = 0
    while order or running:
        if order:
            ep = order.pop(0)
            threading.Thread(target=run, args=(ep,), name="ec2imds-race", daemon=True).start()
            running += 1
        try:
            ep, value, exc = results.get(timeout=delay if order else None)
        except queue_mod.Empty:
            continue
        running -= 1
        if exc is None:
            return ep, value  # type: ignore[return-value]
        if isinstance(exc, IMDSUnavailable):
            errors[ep] = exc
        elif isinstance(exc, IMDSError):
            return ep, exc
        else:
            raise exc
    raise _all_failed(errors)


async def arace(
    endpoints: Sequence[Endpoint],
    call: Callable[[Endpoint], Awaitable[T]],
    delay: float,
    first: Endpoint | None = None,
) -> tuple[Endpoint, T | IMDSError]:
    """The asyncio twin of :func:`race`; losers are cancelled."""
    import asyncio

    queue = race_order(endpoints, first)
    errors: dict[Endpoint, IMDSError] = {}
    pending: dict[asyncio.Future[T], Endpoint] = {}

    async def attempt(ep: Endpoint) -> T:
        return await call(ep)

    try:
        while queue or pending:
            if queue:
                ep = queue.pop(0)
                pending[asyncio.ensure_future(attempt(ep))] = ep
            done, _ = await asyncio.wait(
                pending, timeout=delay if queue else None, return_when=asyncio.FIRST_COMPLETED
            )
            for future in done:
                ep = pending.pop(future)
                try:
                    return ep, future.result()
                except IMDSUnavailable as exc:
                    errors[ep] = exc
                except IMDSError as exc:
                    return ep, exc
        raise _all_failed(errors)
    finally:
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
