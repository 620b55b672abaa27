"""The endpoint race (RFC 8305 "Happy Eyeballs"), as a flow for both runners.

With more than one endpoint configured (IPv4 and IPv6), the first request races them in
the order of :func:`race_order`: the endpoint that won the last race (remembered by the
token store) gets the head start, then IPv4, then IPv6; each next one starts
``race_delay`` later or as soon as the previous fails. The first endpoint that answers is
kept by the driver for the client's life, and remembered for the next race.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from ec2imds._flow import IO, FanOut, Flow
from ec2imds.endpoints import DEFAULT_PORT, Endpoint, is_ipv6
from ec2imds.errors import IMDSError, IMDSUnavailable

__all__ = ["race", "race_order"]

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


class _Raised:
    """An attempt that raised something else than an IMDSError: the race ends with it."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def race(
    endpoints: Sequence[Endpoint],
    attempt: Callable[[Endpoint], Flow[T]],
    io: Callable[[Endpoint], IO],
    delay: float,
    first: Endpoint | None = None,
) -> Flow[tuple[Endpoint, T | IMDSError]]:
    """The race as a flow (:mod:`ec2imds._flow`): ``attempt(ep)`` on each endpoint with
    its ``io(ep)``, in :func:`race_order` (``first``, the remembered winner, at once), each
    next one ``delay`` seconds later or as soon as the previous fails; the first endpoint
    that *answers* wins, and the others are cancelled.

    Returns the winner and its result, or the :class:`IMDSError` it answered with (an
    endpoint that says "disabled" is still the IMDS). Raises :class:`IMDSUnavailable`
    naming every endpoint when none answers. On the blocking runner the attempts' steps
    run on daemon threads: a loser's connect that hangs holds neither the answer nor the
    process's exit; on asyncio they are tasks, cancelled.
    """
    order = race_order(endpoints, first)
    errors: dict[Endpoint, IMDSError] = {}

    def one(ep: Endpoint) -> Flow[T | IMDSError | _Raised]:
        try:
            return (yield from attempt(ep))
        except IMDSUnavailable as exc:
            errors[ep] = exc
            raise
        except IMDSError as exc:
            return exc
        except Exception as exc:  # a bug, not an endpoint's answer: no next endpoint
            return _Raised(exc)

    fan = FanOut([one(ep) for ep in order], first=True, delay=delay, ios=[io(ep) for ep in order])
    try:
        slot, outcome = yield fan
    except IMDSUnavailable:
        raise _all_failed(errors) from None
    if isinstance(outcome, _Raised):
        raise outcome.error
    return order[slot], outcome
