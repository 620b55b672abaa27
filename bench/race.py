"""The endpoint race beside a dead endpoint, emulated on loopback (issue 21 item 1).

    python -m bench.race                 # 15 repetitions of each row, interleaved
    python -m bench.race --reps 31

On a dual-stack instance whose IMDS IPv6 endpoint is not enabled, ``[fd00:ec2::254]``
swallows SYNs: no answer, no reset. Here a listener on ``[::1]`` with backlog 0 whose
accept queue is filled (connections made and never accepted) drops further SYNs the same
way; the simulator answers on ``127.0.0.1``. Nothing leaves loopback: every address is
checked before the first run.

Rows (each a fresh process of the project venv's interpreter, wall time from spawn to
exit, interleaved A B C A B C so the machine's drifts are shared):

* CLI, one value (``--raw meta-data/instance-id``), later calls: the good endpoint alone
  vs the dead IPv6 one listed beside it (``--imds=[::1]:D,127.0.0.1:P``), each with its
  own warm token directory (the token, and the race's winner, from the previous call).
* CLI, first call: the same, each run with a new, empty token directory (a token PUT, and
  for the pair a race with nothing remembered).
* The reverse order, "only IPv6 answers": a dead endpoint on ``127.0.0.1`` (IPv4, which the
  race tries first) and the simulator on ``[::1]``: the first call waits the race delay,
  later calls start with the remembered winner.
* Library, a process that reads one value with ``IMDS`` / ``AsyncIMDS`` and exits: the
  good endpoint alone vs raced beside the dead one, in both orders (in the reverse order
  the dead endpoint's connect starts first and loses; the process must not wait for it).

Targets: a later CLI call with the dead IPv6 endpoint at most 1.3x the good endpoint alone,
a first call at most 0.35 s more, a library process that raced at most 0.35 s more.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import fmt_ratio, fmt_spread, fmt_time, summarize
from bench.schedule import interleave

__all__ = ["TARGETS", "DeadEndpoint", "main", "targets"]

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = (
    "import sys\n"
    "from ec2imds import IMDS\n"
    "with IMDS(endpoints=sys.argv[1]) as imds:\n"
    "    assert imds.driver.get('meta-data/instance-id')\n"
)
LIBRARY_ASYNC = (
    "import asyncio, sys\n"
    "from ec2imds import AsyncIMDS\n"
    "async def main():\n"
    "    async with AsyncIMDS(endpoints=sys.argv[1]) as imds:\n"
    "        assert await imds.driver.get('meta-data/instance-id')\n"
    "asyncio.run(main())\n"
)


class DeadEndpoint:
    """A loopback listener that drops SYNs: backlog 0, its accept queue filled."""

    def __init__(self, host: str) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise SystemExit(f"{host}: not a loopback address")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(0)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(4):  # backlog 0 queues one or two; the rest are dropped
            filler = socket.socket(family, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex((host, self.port))
            self.fillers.append(filler)
        probe = socket.socket(family, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        try:
            probe.connect((host, self.port))
        except OSError:
            pass  # timed out: SYNs are dropped, as wanted
        else:
            raise SystemExit(f"{self}: the accept queue is not full; connections still land")
        finally:
            probe.close()

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def close(self) -> None:
        for s in [*self.fillers, self.sock]:
            s.close()


def _simulator(python: str, host: str) -> tuple[subprocess.Popen[str], str]:
    """A simulator process on ``host``; returns it and its ``host:port`` endpoint."""
    proc = subprocess.Popen(
        [python, "-m", "ec2imds.simulator", "--host", host, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    found = re.search(r"http://(\S+)", proc.stdout.readline())
    if found is None:
        proc.kill()
        raise SystemExit("the simulator did not say where it listens")
    return proc, found.group(1)


@dataclass
class Row:
    name: str
    argv: list[str]
    #: A new, empty token directory for every run (the first call).
    fresh: bool = False
    times: list[float] = field(default_factory=list)


def _run(row: Row, python: str, env: dict[str, str], scratch: str) -> float:
    argv = list(row.argv)
    if row.fresh:
        argv = [tempfile.mkdtemp(dir=scratch) + "/tokens" if a == "{tokens}" else a for a in argv]
    started = time.perf_counter()
    done = subprocess.run(
        [python, *argv], capture_output=True, env=env, cwd=scratch, check=False, timeout=120
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{row.name}: exit {done.returncode}\n{done.stderr.decode()[-2000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.race")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="ec2imds-bench-race-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env.update(HOME=scratch, NO_PROXY="127.0.0.1,localhost,::1")
    sim4, good4 = _simulator(args.python, "127.0.0.1")
    sim6, good6 = _simulator(args.python, "::1")
    dead6, dead4 = DeadEndpoint("::1"), DeadEndpoint("127.0.0.1")
    try:
        pair = f"{dead6},{good4}"  # the dead IPv6 endpoint beside the good IPv4 one
        reverse = f"{dead4},{good6}"  # only IPv6 answers (IPv4 is tried first)
        cli = ["-m", "ec2imds", "--raw", "meta-data/instance-id", "-t"]
        warm = {name: os.path.join(scratch, name) for name in ("alone", "pair", "reverse")}
        rows = [
            Row("cli later: good alone", [*cli, warm["alone"], f"--imds={good4}"]),
            Row("cli later: dead IPv6 + good", [*cli, warm["pair"], f"--imds={pair}"]),
            Row("cli later: dead IPv4 + good IPv6", [*cli, warm["reverse"], f"--imds={reverse}"]),
            Row("cli first: good alone", [*cli, "{tokens}", f"--imds={good4}"], fresh=True),
            Row("cli first: dead IPv6 + good", [*cli, "{tokens}", f"--imds={pair}"], fresh=True),
            Row(
                "cli first: dead IPv4 + good IPv6",
                [*cli, "{tokens}", f"--imds={reverse}"],
                fresh=True,
            ),
            Row("lib IMDS: good alone", ["-c", LIBRARY, good4]),
            Row("lib IMDS: dead IPv6 + good", ["-c", LIBRARY, pair]),
            Row("lib IMDS: dead IPv4 + good IPv6", ["-c", LIBRARY, reverse]),
            Row("lib AsyncIMDS: good alone", ["-c", LIBRARY_ASYNC, good4]),
            Row("lib AsyncIMDS: dead IPv6 + good", ["-c", LIBRARY_ASYNC, pair]),
            Row("lib AsyncIMDS: dead IPv4 + good IPv6", ["-c", LIBRARY_ASYNC, reverse]),
        ]
        print(
            f"# dead endpoints {dead6} and {dead4} (SYNs dropped), simulators {good4} and "
            f"{good6}; {args.reps} runs per row, interleaved, after 1 warm-up round",
            file=sys.stderr,
            flush=True,
        )
        for rep, row in interleave(rows, args.reps, warmup=1):
            elapsed = _run(row, args.python, env, scratch)
            if rep >= 0:
                row.times.append(elapsed)
        _report(rows)
    finally:
        dead6.close()
        dead4.close()
        for sim in (sim4, sim6):
            sim.terminate()
            sim.wait(10)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _report(rows: list[Row]) -> None:
    by_name = {row.name: row for row in rows}
    print("| row | median | spread (min – max) | vs good alone | difference |")
    print("|---|---|---|---|---|")
    for row in rows:
        summary = summarize(row.times)
        assert summary is not None
        base_name = row.name.split(":")[0] + ": good alone"
        base = statistics.median(by_name[base_name].times)
        same = row.name == base_name
        ratio = None if same else summary.median / base
        diff = "" if same else f"{(summary.median - base) * 1000:+.0f} ms"
        print(
            f"| {row.name} | {fmt_time(summary.median)} | {fmt_spread(summary)} | "
            f"{'' if same else fmt_ratio(ratio)} | {diff} |"
        )
    print()
    for line in targets({row.name: statistics.median(row.times) for row in rows}):
        print(line)


#: (what, row, its reference row, the limit, "ratio" or "difference" in seconds)
TARGETS = [
    ("later CLI call, dead IPv6 beside IPv4", "cli later: dead IPv6 + good", 1.3, "ratio"),
    ("first CLI call, dead IPv6 beside IPv4", "cli first: dead IPv6 + good", 0.35, "diff"),
    ("IMDS process that raced", "lib IMDS: dead IPv6 + good", 0.35, "diff"),
    ("AsyncIMDS process that raced", "lib AsyncIMDS: dead IPv6 + good", 0.35, "diff"),
    ("IMDS process, the dead one raced first", "lib IMDS: dead IPv4 + good IPv6", 0.35, "diff"),
    (
        "AsyncIMDS process, the dead one raced first",
        "lib AsyncIMDS: dead IPv4 + good IPv6",
        0.35,
        "diff",
    ),
]


def targets(medians: dict[str, float]) -> list[str]:
    """One PASS/MISS line per target, from the rows' medians (seconds). Pure."""
    lines = []
    for what, name, limit, kind in TARGETS:
        value, base = medians[name], medians[name.split(":")[0] + ": good alone"]
        if kind == "ratio":
            got, said = value / base, f"{fmt_ratio(value / base)} (limit {limit:g}×)"
        else:
            got, said = (
                value - base,
                f"{(value - base) * 1000:+.0f} ms (limit +{limit * 1000:g} ms)",
            )
        lines.append(f"{'PASS' if got <= limit else 'MISS'}  {what}: {said}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
