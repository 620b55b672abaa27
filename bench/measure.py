"""Summaries of repeated timings and their formatting (pure: no I/O, no clock)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ec2imds._compat import SLOTS

__all__ = [
    "Summary",
    "fmt_count",
    "fmt_ratio",
    "fmt_spread",
    "fmt_time",
    "ratio",
    "summarize",
]


@dataclass(frozen=True, **SLOTS)
class Summary:
    """Median, extremes and quartiles of one row's repetitions (seconds or counts)."""

    n: int
    median: float
    lo: float
    hi: float
    q1: float
    q3: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def summarize(values: Sequence[float]) -> Summary | None:
    """The summary of ``values`` (None when there are none).

    Quartiles use the "inclusive" method, so a single value is its own q1, median and q3.
    """
    data = sorted(float(v) for v in values)
    if not data:
        return None
    if len(data) == 1:
        q1 = q3 = data[0]
    else:
        q1, _, q3 = statistics.quantiles(data, n=4, method="inclusive")
    return Summary(len(data), statistics.median(data), data[0], data[-1], q1, q3)


def ratio(peer: float | None, ours: float | None) -> float | None:
    """``peer / ours`` (>1: ec2imds is faster); None when either is missing or ours is 0."""
    if peer is None or ours is None or ours <= 0.0 or math.isnan(peer) or math.isnan(ours):
        return None
    return peer / ours


def fmt_time(seconds: float | None) -> str:
    """A duration with a unit that keeps 3 significant digits: ``850 µs``, ``12.3 ms``."""
    if seconds is None or math.isnan(seconds):
        return "n/a"
    if seconds < 0:
        return "-" + fmt_time(-seconds)
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 0.01:
        return f"{seconds * 1e3:.2f} ms"
    if seconds < 0.1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 1.0:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_spread(summary: Summary | None) -> str:
    """``min–max`` of the repetitions, in the median's unit style (``9.81–12.4 ms``)."""
    if summary is None:
        return "n/a"
    if summary.n == 1:
        return "(1 run)"
    return f"{fmt_time(summary.lo)} – {fmt_time(summary.hi)}"


def fmt_ratio(value: float | None) -> str:
    """A ratio as ``5.2×`` (``n/a`` when missing)."""
    if value is None:
        return "n/a"
    if value >= 10:
        return f"{value:.0f}×"
    return f"{value:.2f}×"


def fmt_count(summary: Summary | None, *, digits: int = 0) -> str:
    """A per-run count: its median, with the range when the runs disagree (``114`` or
    ``114 (113–115)``)."""
    if summary is None:
        return "n/a"

    def one(v: float) -> str:
        return f"{v:.{digits}f}" if digits or v != int(v) else str(int(v))

    if summary.lo == summary.hi:
        return one(summary.median)
    return f"{one(summary.median)} ({one(summary.lo)}–{one(summary.hi)})"
