"""What the harness records: rows of repeated samples, grouped for ratios. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.measure import Summary, ratio, summarize
from ec2imds._compat import SLOTS

__all__ = ["Row", "Sample", "ratios"]


@dataclass(frozen=True, **SLOTS)
class Sample:
    """One repetition: seconds (per call for loops), the simulator's counters, the client's
    CPU seconds (process time; per call for loops) and peak RSS when known."""

    seconds: float
    requests: float
    puts: float
    connections: float
    rss_kib: int | None = None
    cpu: float | None = None


@dataclass(**SLOTS)
class Row:
    """One tool doing one thing at one latency, repeated."""

    section: str
    group: str  #: rows of a group at one latency are compared with the group's reference
    tool: str
    what: str
    latency_ms: float
    task: str = ""  #: the runner task or CLI variant behind the row
    ref: bool = False  #: ec2imds's row that ratios divide by
    calls: int = 1  #: calls per repetition (samples are per call when > 1)
    samples: list[Sample] = field(default_factory=list)
    na: str | None = None  #: why the row has no numbers
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self, attr: str = "seconds") -> Summary | None:
        values = [getattr(s, attr) for s in self.samples if getattr(s, attr) is not None]
        return summarize(values)

    @property
    def median(self) -> float | None:
        s = self.summary()
        return None if s is None else s.median


def ratios(rows: list[Row]) -> dict[int, float | None]:
    """``id(row) -> row median / reference median`` within each (group, latency).

    So a peer's ratio above 1 means ec2imds (the reference) is faster.
    """
    refs: dict[tuple[str, float], float | None] = {}
    for row in rows:
        if row.ref:
            refs[(row.group, row.latency_ms)] = row.median
    return {id(r): ratio(r.median, refs.get((r.group, r.latency_ms))) for r in rows}
