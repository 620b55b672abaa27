"""The markdown report: machine, tables, the floor, and the targets. Pure (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bench.floor import Floor
from bench.measure import fmt_count, fmt_ratio, fmt_spread, fmt_time, ratio
from bench.results import Row, ratios

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


def _per(row: Row, attr: str) -> str:
    s = row.summary(attr)
    return fmt_count(s, digits=2 if row.calls > 1 else 0)


def _table(rows: Sequence[Row], rel: Mapping[int, float | None]) -> list[str]:
    per_call = any(r.calls > 1 for r in rows)
    unit = "call" if per_call else "run"
    out = [
        f"| tool | measures | latency | median{' per call' if per_call else ''} "
        f"| spread (min – max) | vs ec2imds | req/{unit} | PUT/{unit} | new TCP/{unit} "
        "| peak RSS | n |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lat = f"{r.latency_ms:g} ms"
        if r.na is not None or not r.samples:
            reason = r.na or "no samples"
            out.append(f"| {r.tool} | {r.what} | {lat} | n/a: {reason} | | | | | | | |")
            continue
        s = r.summary()
        vs = "ref" if r.ref else fmt_ratio(rel.get(id(r)))
        what = r.what + (f" (×{r.calls}/run)" if r.calls > 1 else "")
        n = f"{len(r.samples)}" + (f", {len(r.errors)} failed" if r.errors else "")
        out.append(
            f"| {r.tool} | {what} | {lat} | **{fmt_time(s.median if s else None)}** "
            f"| {fmt_spread(s)} | {vs} | {_per(r, 'requests')} | {_per(r, 'puts')} "
            f"| {_per(r, 'connections')} | {_rss(r)} | {n} |"
        )
    return out


def _many_table(rows: Sequence[Row]) -> list[str]:
    out = [
        "| tool | invocations | token PUTs in total | median per invocation "
        "| spread (min – max) | requests in total | new TCP in total | peak RSS (median) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        if r.na is not None or not r.samples:
            out.append(f"| {r.tool} | n/a: {r.na or 'no samples'} | | | | | | |")
            continue
        s = r.summary()
        puts = sum(x.puts for x in r.samples)
        reqs = sum(x.requests for x in r.samples)
        conns = sum(x.connections for x in r.samples)
        out.append(
            f"| {r.tool} | {len(r.samples)} | **{puts:g}** | {fmt_time(s.median if s else None)} "
            f"| {fmt_spread(s)} | {reqs:g} | {conns:g} | {_rss(r)} |"
        )
    return out


@dataclass(frozen=True, slots=True)
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


def evaluate_targets(
    rows: Sequence[Row], floor: Floor, *, latency_ms: float = 1.0, ours: str = "ec2imds"
) -> list[Target]:
    """The performance issue's targets, measured at ``latency_ms``."""
    out: list[Target] = []
    lat = f"{latency_ms:g} ms"
    ref = _find(rows, "full", ours, latency_ms)
    for peer, label in (("ec2imds 0.0.3", "0.0.3's all()"), ("ec2-metadata", "ec2-metadata")):
        other = _find(rows, "full", peer, latency_ms)
        r = ratio(other.median if other else None, ref.median if ref else None)
        out.append(
            Target(
                f"library full crawl at {lat} ≥5× faster than {label}",
                "not measured"
                if r is None
                else f"{fmt_ratio(r)} ({fmt_time(other.median if other else None)} vs "
                f"{fmt_time(ref.median if ref else None)})",
                None if r is None else r >= 5.0,
            )
        )
    fl = floor.seconds(latency_ms / 1000)
    r = ratio(ref.median if ref else None, fl)
    out.append(
        Target(
            f"library full crawl at {lat} ≤1.5× the floor",
            "not measured"
            if r is None
            else f"{fmt_ratio(r)} ({fmt_time(ref.median if ref else None)} vs floor "
            f"{fmt_time(fl)})",
            None if r is None else r <= 1.5,
        )
    )
    cold = _find(rows, "cold", ours, latency_ms)
    if cold is None or ref is None:
        out.append(Target("full crawl requests = dirs + leaves + ≤1 PUT", "not measured", None))
        out.append(Target("full crawl ≤8 TCP connections", "not measured", None))
    else:
        want = floor.requests
        gets = [s.requests - s.puts for s in cold.samples] + [
            s.requests - s.puts for s in ref.samples
        ]
        puts = [s.puts for s in cold.samples] + [s.puts for s in ref.samples]
        ok = all(g == want for g in gets) and all(p <= 1 for p in puts)
        out.append(
            Target(
                "full crawl requests = directories + leaves + ≤1 PUT",
                f"cold client: {fmt_count(cold.summary('requests'))} requests incl. "
                f"{fmt_count(cold.summary('puts'))} PUT; warm: "
                f"{fmt_count(ref.summary('requests'))} incl. {fmt_count(ref.summary('puts'))} "
                f"PUT; expected {floor.dirs} dirs + {floor.leaves} leaves = {want} GETs",
                ok,
            )
        )
        conns = max(s.connections for s in cold.samples)
        out.append(
            Target(
                "full crawl ≤8 TCP connections",
                f"cold client: at most {conns:g} new connections per crawl",
                conns <= 8,
            )
        )
    for group, name in (
        ("cli_all", f"whole-process `ec2imds -a` at {lat} ≤1.0× 0.0.3's time"),
        ("cli_one_cached", f"whole-process single key, cached token, at {lat} ≤1.0× 0.0.3's"),
    ):
        a = _find(rows, group, ours, latency_ms)
        b = _find(rows, group, "ec2imds 0.0.3", latency_ms)
        r = ratio(a.median if a else None, b.median if b else None)
        out.append(
            Target(
                name,
                "not measured"
                if r is None
                else f"{fmt_ratio(r)} of 0.0.3 ({fmt_time(a.median if a else None)} vs "
                f"{fmt_time(b.median if b else None)})",
                None if r is None else r <= 1.0,
            )
        )
    many = next((r for r in rows if r.group == "cli_many" and r.tool == ours and r.samples), None)
    if many is None:
        out.append(Target("100 CLI invocations → 1 PUT", "not measured", None))
    else:
        total_puts = sum(s.puts for s in many.samples)
        out.append(
            Target(
                f"{len(many.samples)} CLI invocations → 1 PUT",
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
        "latency. The floor counts no CPU; the bare `http.client` crawler (8 threads, no "
        "SDK) shows what the simulator and the thinnest client cost on this machine.",
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
