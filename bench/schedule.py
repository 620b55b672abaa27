"""The order of repetitions: interleaved across tools (A B C A B C …), never A A A B B B.

Interleaving spreads slow drifts of a noisy machine (another job starting, a CPU
frequency change) over every tool instead of charging them to whichever ran then. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

__all__ = ["interleave"]

T = TypeVar("T")


def interleave(items: Sequence[T], reps: int, *, warmup: int = 0) -> list[tuple[int, T]]:
    """``(repetition, item)`` pairs: every item once per round, rounds in order.

    Rounds ``0 .. warmup-1`` are warm-ups (numbered negative: ``-warmup .. -1``), so a
    caller keeps the pairs with ``repetition >= 0``.
    """
    if reps < 0 or warmup < 0:
        raise ValueError("reps and warmup must not be negative")
    return [(rep, item) for rep in range(-warmup, reps) for item in items]
