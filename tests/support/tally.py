"""The fault matrix's tally (:data:`TALLY`), printed after the run by ``conftest.py``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final, Literal

Verdict = Literal["survived", "failed clearly", "failed wrongly"]
VERDICTS: Final[tuple[Verdict, ...]] = ("survived", "failed clearly", "failed wrongly")


@dataclass(frozen=True)
class Trial:
    fault: str
    target: str
    driver: str
    verdict: Verdict
    detail: str = ""


class Tally:
    """The session's trials (one per fault, target and driver), in the order run."""

    def __init__(self) -> None:
        self.trials: list[Trial] = []
        self.notes: list[str] = []

    def record(self, trial: Trial) -> None:
        self.trials.append(trial)

    def note(self, line: str) -> None:
        """A figure of another reliability test (the soak), printed after the matrix."""
        self.notes.append(line)

    def counts(self) -> Counter[Verdict]:
        return Counter(t.verdict for t in self.trials)

    def summary(self) -> list[str]:
        """Lines for the terminal: the totals, one line per fault, any wrong trial, and
        the notes of the other reliability tests."""
        if not self.trials:
            return list(self.notes)
        counts = self.counts()
        faults = list(dict.fromkeys(t.fault for t in self.trials))
        targets = sorted({t.target for t in self.trials})
        drivers = list(dict.fromkeys(t.driver for t in self.trials))
        lines = [
            f"{len(self.trials)} faults tried ({len(faults)} faults x {'/'.join(targets)} x "
            f"{'/'.join(drivers)}): {counts['survived']} survived, "
            f"{counts['failed clearly']} failed clearly, "
            f"{counts['failed wrongly']} failed wrongly",
        ]
        width = max(len(f) for f in faults)
        lines.append(f"{'fault':<{width}}  survived  failed clearly  failed wrongly")
        for fault in faults:
            per = Counter(t.verdict for t in self.trials if t.fault == fault)
            lines.append(
                f"{fault:<{width}}  {per['survived']:>8}  {per['failed clearly']:>14}  "
                f"{per['failed wrongly']:>14}"
            )
        lines += [
            f"WRONG: {t.fault} / {t.target} / {t.driver}: {t.detail}"
            for t in self.trials
            if t.verdict == "failed wrongly"
        ]
        return lines + self.notes


#: The one tally of a pytest session.
TALLY: Final = Tally()
