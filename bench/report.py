"""The markdown report: machine, tables, the floor, and the targets. Pure (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bench.floor import Floor
from bench.measure import fmt_count, fmt_ratio, fmt_spread, fmt_time, ratio
from bench.results import Row, ratios
from ec2imds._compat import SLOTS

__all__ = ["SECTIONS", "Target", "evaluate_targets", "render"]

#: Section key -> (title, what it measures).
SECTIONS: dict[str, tuple[str, str]] = {
    "S1": (
        "1. Library, warm process: full crawl",
        "One long-lived process per tool, token cached, value caches emptied before each "
        "run (untimed): everything the tool can fetch.",
    ),
    "S1c": (
        "1b. Library, cold client: full crawl",
        "A new client object per run in the same warm process: token PUT, new connections.",
    ),
    "S1s": (
        "1c. Library, warm process: common subset",
        "instance-id, instance-type, ami-id, placement/availability-zone, placement/region, "
        "local-ipv4, local-hostname, mac (value caches emptied before each run).",
    ),
    "S2": (
        "2. Library, warm process: one key (meta-data/instance-id), repeated",
        "Time per call; every call is a GET on the network (value caches bypassed or "
        "emptied), token cached.",
    ),
    "S3": (
        "3. Whole process: full dump (-a)",
        "A new process per run, token directory warm (token cached on disk).",
    ),
    "S4": (
        "4. Whole process: one key (meta-data/instance-id)",
        "A new process per run; 'cached token': the same -t directory as the warm-up run; "
        "'no token': a new, empty -t directory per run.",
    ),
}


def _rss(row: Row) -> str:
    s = row.summary("rss_kib")
    return "—" if s is None else f"{s.median / 1024:.1f} MiB"


def _cpu(row: Row) -> str:
    s = row.summary("cpu")
    return fmt_time(None if s is None else s.median)


def _per(row: Row, attr: str) -> str:
    s = row.summary(attr)
    return fmt_count(s, digits=2 if row.calls > 1 else 0)


def _table(rows: Sequence[Row], rel: Mapping[int, float | None]) -> list[str]:
    per_call = any(r.calls > 1 for r in rows)
    unit = "call" if per_call else "run"
    out = [
        f"| tool | measures | latency | median{' per call' if per_call else ''} "
        f"| spread (min – max) | client CPU{' per call' if per_call else ''} | vs ec2imds "
        f"| req/{unit} | PUT/{unit} | new TCP/{unit} | peak RSS | n |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lat = f"{r.latency_ms:g} ms"
        if r.na is not None or not r.samples:
            reason = r.na or "no samples"
            out.append(f"| {r.tool} | {r.what} | {lat} | n/a: {reason} | | | | | | | | |")
            continue
        s = r.summary()
        vs = "ref" if r.ref else fmt_ratio(rel.get(id(r)))
        what = r.what + (f" (×{r.calls}/run)" if r.calls > 1 else "")
        n = f"{len(r.samples)}" + (f", {len(r.errors)} failed" if r.errors else "")
        out.append(
            f"| {r.tool} | {what} | {lat} | **{fmt_time(s.median if s else None)}** "
            f"| {fmt_spread(s)} | {_cpu(r)} | {vs} | {_per(r, 'requests')} | {_per(r, 'puts')} "
            f"| {_per(r, 'connections')} | {_rss(r)} | {n} |"
        )
    return out


def _many_table(rows: Sequence[Row]) -> list[str]:
    out = [
        "| tool | invocations | token PUTs in total | median per invocation "
        "| spread (min – max) | client CPU (median) | requests in total | new TCP in total "
        "| peak RSS (median) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        if r.na is not None or not r.samples:
            out.append(f"| {r.tool} | n/a: {r.na or 'no samples'} | | | | | | | |")
            continue
        s = r.summary()
        puts = sum(x.puts for x in r.samples)
        reqs = sum(x.requests for x in r.samples)
        conns = sum(x.connections for x in r.samples)
        out.append(
            f"| {r.tool} | {len(r.samples)} | **{puts:g}** | {fmt_time(s.median if s else None)} "
            f"| {fmt_spread(s)} | {_cpu(r)} | {reqs:g} | {conns:g} | {_rss(r)} |"
        )
    return out


@dataclass(frozen=True, **SLOTS)
class Target:
    name: str
    measured: str
    passed: bool | None  #: None: not measured

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else "PASS" if self.passed else "MISS"


def _find(rows: Iterable[Row], group: str, tool: str, latency: float) -> Row | None:
    for r in rows:
        if r.group == group and r.tool == tool and r.latency_ms == latency and r.samples:
            return r
    return None


def _median(row: Row | None, attr: str = "seconds") -> float | None:
    s = row.summary(attr) if row is not None else None
    return None if s is None else s.median


def _at_most(
    name: str, ours: Row | None, other: Row | None, limit: float, attr: str, label: str
) -> Target:
    """Target: ``ours``'s median ``attr`` is at most ``limit`` × ``other``'s."""
    a, b = _median(ours, attr), _median(other, attr)
    r = ratio(a, b)
    measured = (
        "not measured"
        if r is None
        else f"{fmt_ratio(r)} of {label} ({fmt_time(a)} vs {fmt_time(b)})"
    )
    return Target(name, measured, None if r is None else r <= limit + 1e-9)


def evaluate_targets(
    rows: Sequence[Row], floor: Floor, *, latency_ms: float = 1.0, ours: str = "ec2imds"
) -> list[Target]:
    """The performance issue's targets (#15), measured at ``latency_ms``."""
    out: list[Target] = []
    lat = f"{latency_ms:g} ms"
    old = "ec2imds 0.0.3"

    def find(group: str, tool: str, task: str | None = None) -> Row | None:
        for r in rows:
            if (
                r.group == group
                and r.tool == tool
                and r.latency_ms == latency_ms
                and r.samples
                and (task is None or r.task == task)
            ):
                return r
        return None

    cold = find("cold", ours, "full_cold")
    cold_old = find("cold", old)
    out.append(
        _at_most(
            f"1. fresh client's full crawl at {lat}: client CPU ≤ 0.0.3's",
            cold,
            cold_old,
            1.0,
            "cpu",
            "0.0.3's CPU",
        )
    )
    out.append(
        _at_most(
            f"1. (stretch) fresh client's full crawl at {lat}: client CPU ≤ 2× the bare-socket "
            "floor",
            cold,
            find("cold", "baseline", "sock_8_cold"),
            2.0,
            "cpu",
            "the floor's CPU",
        )
    )
    out.append(
        _at_most(
            f"1. fresh client's full crawl at {lat}: wall ≥ 3× faster than 0.0.3 (≤ 0.33×)",
            cold,
            cold_old,
            1 / 3,
            "seconds",
            "0.0.3's time",
        )
    )
    one = find("one", ours, "one_key_typed")
    one_old = find("one", old)
    out.append(
        _at_most(
            f"2. one value from a warm client at {lat}: wall per call ≤ 0.0.3's",
            one,
            one_old,
            1.0,
            "seconds",
            "0.0.3's time",
        )
    )
    out.append(
        _at_most(
            f"2. one value from a warm client at {lat}: CPU per call ≤ 0.0.3's",
            one,
            one_old,
            1.0,
            "cpu",
            "0.0.3's CPU",
        )
    )
    out.append(
        _at_most(
            f"3. `AsyncIMDS` fresh client's full crawl at {lat}: wall ≤ 1.2× `IMDS`'s",
            find("cold", ours, "full_cold_async"),
            cold,
            1.2,
            "seconds",
            "`IMDS`'s time",
        )
    )
    out.append(
        _at_most(
            f"3. `AsyncIMDS` warm full crawl at {lat}: wall ≤ 1.2× `IMDS`'s",
            find("full", ours, "full_all_async"),
            find("full", ours, "full_all"),
            1.2,
            "seconds",
            "`IMDS`'s time",
        )
    )
    out.append(
        _at_most(
            f"4. whole-process `ec2imds -a` at {lat}: ≤ 0.8× 0.0.3's time",
            find("cli_all", ours),
            find("cli_all", old),
            0.8,
            "seconds",
            "0.0.3's time",
        )
    )
    out.append(
        _at_most(
            f"4. whole-process single key, cached token, at {lat}: ≤ 0.8× 0.0.3's time",
            find("cli_one_cached", ours),
            find("cli_one_cached", old),
            0.8,
            "seconds",
            "0.0.3's time",
        )
    )
    warm = find("full", ours, "full_all")
    if cold is None or warm is None:
        out.append(Target("5. full crawl requests = dirs + leaves + ≤1 PUT", "not measured", None))
    else:
        want = floor.requests
        checked = [*cold.samples, *warm.samples]
        async_rows = [find("cold", ours, "full_cold_async"), find("full", ours, "full_all_async")]
        for extra in async_rows:
            if extra is not None:
                checked += extra.samples
        ok = all(x.requests - x.puts == want and x.puts <= 1 for x in checked)
        out.append(
            Target(
                "5. full crawl requests = directories + leaves + ≤1 PUT (sync and async)",
                f"fresh client: {fmt_count(cold.summary('requests'))} requests incl. "
                f"{fmt_count(cold.summary('puts'))} PUT; warm: "
                f"{fmt_count(warm.summary('requests'))} incl. {fmt_count(warm.summary('puts'))} "
                f"PUT; expected {floor.dirs} dirs + {floor.leaves} leaves = {want} GETs",
                ok,
            )
        )
    many = next((r for r in rows if r.group == "cli_many" and r.tool == ours and r.samples), None)
    if many is None:
        out.append(Target("5. 100 CLI invocations → 1 PUT", "not measured", None))
    else:
        total_puts = sum(s.puts for s in many.samples)
        out.append(
            Target(
                f"5. {len(many.samples)} CLI invocations → 1 PUT",
                f"{total_puts:g} PUT(s) in {len(many.samples)} invocations",
                total_puts == 1,
            )
        )
    return out


_FLOOR_COLS = (
    ("ec2imds", "full_all", "ec2imds `all()` warm"),
    ("ec2imds", "full_raw", "`raw_tree()` warm"),
    ("ec2imds", "full_cold", "`all()` cold client"),
    ("baseline", "full_8", "bare http.client, 8 threads"),
    ("baseline", "sock_8", "bare sockets, 8 threads"),
)


def render_floor(floor: Floor, rows: Sequence[Row], latencies: Sequence[float]) -> list[str]:
    out = [
        "## The floor",
        "",
        f"Full crawl of the simulator's tree: {floor.dirs} directory listings + "
        f"{floor.leaves} leaves = {floor.requests} GETs. With {floor.slots} requests in flight "
        f"and a directory's children only after its listing: {floor.rounds_fifo} rounds "
        f"breadth-first, {floor.rounds_critical} longest-path-first (no schedule can do "
        f"better than {floor.lower_bound}). Floor = ({floor.rounds} rounds + 1 token PUT) × "
        "latency. The floor counts no CPU; the bare crawlers (8 threads, no SDK: "
        "`http.client`, and bare sockets that write the request by hand and check nothing) "
        "show what the simulator and the thinnest client cost on this machine.",
        "",
        "| latency | floor | "
        + " | ".join(f"{label} | ratio" for _, _, label in _FLOOR_COLS)
        + " |",
        "|--:|--:|" + "--:|--:|" * len(_FLOOR_COLS),
    ]
    for lat in latencies:
        fl = floor.seconds(lat / 1000)
        cells = [f"{lat:g} ms", fmt_time(fl)]
        for tool, task, _ in _FLOOR_COLS:
            row = next(
                (
                    r
                    for r in rows
                    if r.task == task and r.latency_ms == lat and r.tool == tool and r.samples
                ),
                None,
            )
            med = row.median if row else None
            cells += [fmt_time(med), fmt_ratio(ratio(med, fl))]
        out.append("| " + " | ".join(cells) + " |")
    return out


def render(
    *,
    machine: Sequence[str],
    rows: Sequence[Row],
    floor: Floor,
    latencies: Sequence[float],
    targets: Sequence[Target],
    peers: Sequence[str],
    notes: Sequence[str],
) -> str:
    """The whole report as markdown."""
    rel = ratios(list(rows))
    out = ["# ec2imds benchmark", "", *machine, "", "## Peers", "", *peers, ""]
    if notes:
        out += ["## Method and caveats", "", *[f"* {n}" for n in notes], ""]
    out += ["## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    out += [f"| {t.name} | {t.measured} | **{t.verdict}** |" for t in targets]
    out.append("")
    out += render_floor(floor, rows, latencies)
    out.append("")
    for key, (title, desc) in SECTIONS.items():
        section = [r for r in rows if r.section == key]
        if not section:
            continue
        out += [f"## {title}", "", desc, "", *_table(section, rel), ""]
        seen: set[tuple[str, str, str]] = set()
        for r in section:
            for note in r.notes:
                if (r.tool, r.what, note) not in seen:
                    seen.add((r.tool, r.what, note))
                    out.append(f"* {r.tool}, {r.what}: {note}")
            for err in dict.fromkeys(r.errors[:3]):
                out.append(f"* {r.tool}, {r.what} ({r.latency_ms:g} ms): failed run: {err}")
        out.append("")
    many = [r for r in rows if r.section == "S5"]
    if many:
        lat = many[0].latency_ms
        out += [
            f"## 5. {len(many[0].samples)} consecutive one-key CLI invocations ({lat:g} ms)",
            "",
            "Interleaved across tools, one token directory per tool, empty at the start: "
            "token PUTs counted by the simulator.",
            "",
            *_many_table(many),
            "",
        ]
        for r in many:
            for note in dict.fromkeys(r.notes + r.errors[:3]):
                out.append(f"* {r.tool}: {note}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
