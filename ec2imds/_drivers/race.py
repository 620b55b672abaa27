"""The endpoint race (RFC 8305 "Happy Eyeballs"), threaded and asyncio.

With more than one endpoint configured (IPv4 and IPv6), the first request races them:
IPv6 first, each next one ``race_delay`` later or as soon as the previous fails; the
first endpoint that answers is kept by the driver for the client's life.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from ec2imds.endpoints import Endpoint, is_ipv6
from ec2imds.errors import IMDSError, IMDSUnavailable

__all__ = ["arace", "race", "race_order"]

T = TypeVar("T")


def race_order(endpoints: Sequence[Endpoint]) -> list[Endpoint]:
    """RFC 8305 order: IPv6 literals first, the rest in their configured order."""
    return sorted(endpoints, key=lambda ep: not is_ipv6(ep))


def _all_failed(errors: dict[Endpoint, IMDSError]) -> IMDSUnavailable:
    return IMDSUnavailable("no IMDS endpoint answered: " + "; ".join(map(str, errors.values())))


def race(
    endpoints: Sequence[Endpoint], call: Callable[[Endpoint], T], delay: float
) -> tuple[Endpoint, T | IMDSError]:
    """Race ``call`` over ``endpoints`` (RFC 8305): IPv6 first, each next one ``delay``
    seconds later or as soon as the previous fails; the first endpoint that *answers* wins.

    Returns the winner and its result, or the :class:`IMDSError` it answered with (an
    endpoint that says "disabled" is still the IMDS). Raises :class:`IMDSUnavailable`
    naming every endpoint when none answers. Losers still running are abandoned to their
    own timeouts (their threads are not waited for).
    """
    import concurrent.futures as cf

    queue = race_order(endpoints)
    errors: dict[Endpoint, IMDSError] = {}
    pool = cf.ThreadPoolExecutor(len(queue), "ec2imds-race")
    try:
        pending: dict[cf.Future[T], Endpoint] = {}
        while queue or pending:
            if queue:
                ep = queue.pop(0)
                pending[pool.submit(call, ep)] = ep
            done, _ = cf.wait(
                pending, timeout=delay if queue else None, return_when=cf.FIRST_COMPLETED
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
        pool.shutdown(wait=False, cancel_futures=True)


async def arace(
    endpoints: Sequence[Endpoint], call: Callable[[Endpoint], Awaitable[T]], delay: float
) -> tuple[Endpoint, T | IMDSError]:
    """The asyncio twin of :func:`race`; losers are cancelled."""
    import asyncio

    queue = race_order(endpoints)
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
