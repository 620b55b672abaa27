"""The benchmark harness's pure logic: the floor, the interleaving, the number formatting.

No timing assertions, no peer installs, no processes: ``python -m bench`` is run by hand.
"""

from __future__ import annotations

import pytest

from bench.floor import build_tasks, compute_floor, count_nodes, schedule_rounds
from bench.measure import fmt_count, fmt_ratio, fmt_spread, fmt_time, ratio, summarize
from bench.results import Row, Sample, ratios
from bench.schedule import interleave

# meta-data/ lists 9 leaves and a/ ; a/ lists b/ ; b/ lists one leaf. dynamic/ is absent
# (a 404: still one request); user-data is a leaf.
SMALL = {
    "meta-data": {
        **{f"k{i}": "v" for i in range(9)},
        "a": {"b": {"leaf": "x"}},
    },
    "user-data": b"#!/bin/sh\n",
}


def test_floor_counts_every_directory_and_leaf_once() -> None:
    tasks = build_tasks(SMALL)
    assert [t.path for t in tasks] == ["meta-data/", "dynamic", "user-data"]
    # dirs: meta-data/, a/, b/ ; leaves: k0..k8, leaf, dynamic (404), user-data
    assert count_nodes(tasks) == (3, 12)


def test_floor_rounds_with_two_slots() -> None:
    tasks = build_tasks(SMALL)
    # fifo: [md, dyn] [ud, k0] [k1 k2] [k3 k4] [k5 k6] [k7 k8] [a] [b] [leaf]
    assert schedule_rounds(tasks, slots=2, policy="fifo") == 9
    # longest path first: [md, dyn] [a, ud] [b, k0] [leaf, k1] [k2 k3] [k4 k5] [k6 k7] [k8]
    assert schedule_rounds(tasks, slots=2, policy="critical") == 8
    floor = compute_floor(SMALL, slots=2)
    assert floor.rounds == 8
    assert floor.lower_bound == 8  # ceil(15 / 2)
    assert floor.requests == 15
    assert floor.seconds(0.001) == pytest.approx(0.009)  # 8 rounds + the token PUT


def test_floor_with_unlimited_slots_is_the_depth() -> None:
    floor = compute_floor(SMALL, slots=100)
    # meta-data/ -> a/ -> b/ -> leaf
    assert floor.rounds_fifo == floor.rounds_critical == floor.lower_bound == 4


def test_floor_of_an_empty_tree_is_the_roots() -> None:
    assert compute_floor({}, slots=8).rounds == 1
    assert compute_floor({}, slots=8, roots=None).rounds == 0
    with pytest.raises(ValueError, match="slots"):
        schedule_rounds([], slots=0)


def test_interleave_round_robins_with_negative_warmups() -> None:
    assert interleave(["A", "B", "C"], 2, warmup=1) == [
        (-1, "A"),
        (-1, "B"),
        (-1, "C"),
        (0, "A"),
        (0, "B"),
        (0, "C"),
        (1, "A"),
        (1, "B"),
        (1, "C"),
    ]
    assert interleave(["A"], 0) == []
    with pytest.raises(ValueError, match="negative"):
        interleave(["A"], -1)


def test_summary_median_and_spread() -> None:
    s = summarize([0.030, 0.010, 0.020, 0.100])
    assert s is not None
    assert (s.n, s.lo, s.hi) == (4, 0.010, 0.100)
    assert s.median == pytest.approx(0.025)
    assert s.q1 <= s.median <= s.q3
    one = summarize([2.0])
    assert one is not None
    assert one.q1 == one.median == one.q3 == 2.0
    assert summarize([]) is None
    assert fmt_spread(s) == "10.0 ms – 100 ms"
    assert fmt_spread(one) == "(1 run)"
    assert fmt_spread(None) == "n/a"


def test_time_formatting() -> None:
    assert fmt_time(0.000_850) == "850 µs"
    assert fmt_time(0.001_234) == "1.23 ms"
    assert fmt_time(0.012_34) == "12.3 ms"
    assert fmt_time(0.1234) == "123 ms"
    assert fmt_time(2.5) == "2.50 s"
    assert fmt_time(None) == "n/a"


def test_ratio_is_peer_over_ours() -> None:
    assert ratio(0.5, 0.1) == pytest.approx(5.0)  # >1: ec2imds is faster
    assert ratio(None, 0.1) is None
    assert ratio(0.1, 0.0) is None
    assert fmt_ratio(5.0) == "5.00×"
    assert fmt_ratio(0.25) == "0.25×"
    assert fmt_ratio(12.4) == "12×"
    assert fmt_ratio(None) == "n/a"


def test_count_formatting_shows_disagreement() -> None:
    assert fmt_count(summarize([114, 114])) == "114"
    assert fmt_count(summarize([113, 114, 115])) == "114 (113–115)"
    assert fmt_count(summarize([1.0]), digits=2) == "1.00"
    assert fmt_count(None) == "n/a"


def test_ratios_divide_by_the_reference_of_the_same_group_and_latency() -> None:
    def row(tool: str, lat: float, seconds: float, ref: bool = False) -> Row:
        r = Row("S1", "full", tool, "x", lat, ref=ref)
        r.samples = [Sample(seconds, 1, 0, 0)]
        return r

    ours1, peer1 = row("ec2imds", 1.0, 0.02, ref=True), row("peer", 1.0, 0.10)
    peer5 = row("peer", 5.0, 0.10)  # no reference at 5 ms
    got = ratios([ours1, peer1, peer5])
    assert got[id(ours1)] == pytest.approx(1.0)
    assert got[id(peer1)] == pytest.approx(5.0)
    assert got[id(peer5)] is None


def test_targets_pass_and_miss_from_rows() -> None:
    from bench.report import evaluate_targets

    floor = compute_floor(SMALL, slots=2)  # 15 GETs

    def row(
        group: str,
        tool: str,
        seconds: float,
        cpu: float,
        *,
        task: str = "",
        requests: float = 15,
        puts: float = 0,
    ) -> Row:
        r = Row("S", group, tool, "x", 1.0, task=task, ref=tool == "ec2imds")
        r.samples = [Sample(seconds, requests, puts, 1, None, cpu)]
        return r

    rows = [
        row("cold", "ec2imds", 0.020, 0.010, task="full_cold", requests=16, puts=1),
        row("cold", "ec2imds", 0.030, 0.012, task="full_cold_async", requests=16, puts=1),
        row("cold", "ec2imds 0.0.3", 0.090, 0.012),  # CPU: pass; wall 4.5×: pass
        row("cold", "baseline", 0.015, 0.004, task="sock_8_cold"),  # 2.5× floor: miss
        row("full", "ec2imds", 0.010, 0.008, task="full_all"),
        row("full", "ec2imds", 0.011, 0.008, task="full_all_async"),  # 1.1×: pass
        row("one", "ec2imds", 0.0020, 0.0005, task="one_key_typed"),
        row("one", "ec2imds 0.0.3", 0.0019, 0.0006),  # wall: miss; CPU: pass
        row("cli_all", "ec2imds", 0.30, 0.2),
        row("cli_all", "ec2imds 0.0.3", 0.20, 0.2),  # ours 1.5× theirs: miss
    ]
    verdicts = [t.verdict for t in evaluate_targets(rows, floor)]
    # CPU vs 0.0.3, stretch vs the floor, wall 3×; one value wall, CPU; async cold (1.5×),
    # async warm; -a, single key (not measured); requests; N invocations (not measured)
    assert verdicts == [
        "PASS",
        "MISS",
        "PASS",
        "MISS",
        "PASS",
        "MISS",
        "PASS",
        "MISS",
        "n/a",
        "PASS",
        "n/a",
    ]


def test_race_bench_targets_and_its_dead_endpoint_stay_on_loopback() -> None:
    from bench.race import TARGETS, DeadEndpoint, targets

    medians = {name: 0.1 for _, name, _, _ in TARGETS}
    medians.update({"cli later: good alone": 0.1, "cli first: good alone": 0.1})
    medians.update({"lib IMDS: good alone": 0.1, "lib AsyncIMDS: good alone": 0.1})
    medians["cli later: dead IPv6 + good"] = 0.14  # 1.4x
    medians["lib IMDS: dead IPv6 + good"] = 0.4  # +300 ms
    lines = targets(medians)
    assert lines[0] == "MISS  later CLI call, dead IPv6 beside IPv4: 1.40× (limit 1.3×)"
    assert lines[2] == "PASS  IMDS process that raced: +300 ms (limit +350 ms)"
    with pytest.raises(SystemExit, match="not a loopback address"):
        DeadEndpoint("192.0.2.1")
