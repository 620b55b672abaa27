"""The listing parser and the walk: hostile listings, bounds, and a real crawl of the simulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ec2imds._flow import IO, arun, run
from ec2imds.catalog import Node
from ec2imds.client import IMDS, AsyncIMDS
from ec2imds.crawl import Entry, RawNode, Walk, parse_listing, walk_flow
from ec2imds.errors import IMDSHTTPError, IMDSValidationError
from ec2imds.simulator import IMDSSimulator
from tests.support.properties import examples
from tests.support.walking import run_walk


def as_raw(node: Node) -> RawNode:
    """The simulator's tree with every leaf as the bytes it serves."""
    if isinstance(node, dict):
        return {k: as_raw(v) for k, v in node.items()}
    return node.encode() if isinstance(node, str) else node


def count_nodes(node: RawNode) -> tuple[int, int]:
    """(directories, leaves) below and including ``node``."""
    if not isinstance(node, dict):
        return 0, 1
    dirs, leaves = 1, 0
    for child in node.values():
        d, f = count_nodes(child)
        dirs, leaves = dirs + d, leaves + f
    return dirs, leaves


# -- the listing parser ----------------------------------------------------------------------


def test_listing_basic_forms() -> None:
    body = b"ami-id\r\nplacement/\n\n  \npublic-keys/\nami-id\n"
    assert parse_listing(body, path="meta-data") == [
        Entry("ami-id", "ami-id", False),
        Entry("placement", "placement", True),
        Entry("public-keys", "public-keys", True),
    ]


def test_listing_indexed_public_keys() -> None:
    body = b"0=my-key\n1=other=key"
    assert parse_listing(body, path="meta-data/public-keys", indexed=True) == [
        Entry("0=my-key", "0", True),
        Entry("1=other=key", "1", True),
    ]
    # Outside public-keys a '=' is just part of a name (tag keys may contain it).
    assert parse_listing(b"a=b", path="meta-data/tags/instance") == [Entry("a=b", "a=b", False)]


@pytest.mark.parametrize(
    "line",
    [
        b".",
        b"..",
        b"../",
        b"/etc/passwd",
        b"a/b",
        b"a/b/",
        b"/",
        b"//",
        b"sp ace",
        b"x\x00y",
        b"q?x",
        b"h#x",
        b"%2e%2e",
    ],
)
def test_listing_skips_entries_that_could_leave_the_subtree(line: bytes) -> None:
    assert parse_listing(b"good\n" + line, path="meta-data") == [Entry("good", "good", False)]


def test_listing_rejects_invalid_utf8_naming_the_path() -> None:
    with pytest.raises(IMDSValidationError, match="meta-data/x") as info:
        parse_listing(b"\xff\xfe", path="meta-data/x")
    assert info.value.path == "meta-data/x"


@given(st.binary(max_size=2000), st.booleans())
def test_listing_parser_never_raises_anything_else(body: bytes, indexed: bool) -> None:
    try:
        entries = parse_listing(body, path="meta-data", indexed=indexed)
    except IMDSValidationError:
        return
    for e in entries:
        assert e.segment not in ("", ".", "..")
        assert "/" not in e.segment
    assert len({e.segment for e in entries}) == len(entries)


# -- the walk, against hostile in-memory servers -------------------------------------------


def serve(tree: dict[str, bytes]) -> Callable[[list[str]], list[bytes | None]]:
    def fetch(paths: list[str]) -> list[bytes | None]:
        for p in paths:
            fetched[p] += 1
        return [tree.get(p) for p in paths]

    fetched: Counter[str] = Counter()
    fetch.fetched = fetched  # type: ignore[attr-defined]
    return fetch


def test_walk_builds_the_tree_and_fetches_each_path_once() -> None:
    fetch = serve(
        {
            "meta-data/": b"a\nd/\npublic-keys/",
            "meta-data/a": b"1",
            "meta-data/d/": b"b",
            "meta-data/d/b": b"2",
            "meta-data/public-keys/": b"0=k",
            "meta-data/public-keys/0/": b"openssh-key",
            "meta-data/public-keys/0/openssh-key": b"ssh-rsa AAA",
        }
    )
    tree = run_walk(Walk("meta-data"), fetch)
    assert tree == {
        "a": b"1",
        "d": {"b": b"2"},
        "public-keys": {"0=k": {"openssh-key": b"ssh-rsa AAA"}},
    }
    assert set(fetch.fetched.values()) == {1}  # type: ignore[attr-defined]
    # The package's flow, on either runner, fetches the same paths once each.
    for pool in (None, ThreadPoolExecutor(3)):
        fetch.fetched.clear()  # type: ignore[attr-defined]
        io = IO(lambda path: fetch([path])[0], pool=pool)
        assert run(walk_flow(Walk("meta-data")), io) == tree
        assert set(fetch.fetched.values()) == {1}  # type: ignore[attr-defined]

    async def main() -> RawNode | None:
        async def get(path: str) -> bytes | None:
            await asyncio.sleep(0)
            return fetch([path])[0]

        return await arun(walk_flow(Walk("meta-data")), IO(get, limit=asyncio.Semaphore(2)))

    fetch.fetched.clear()  # type: ignore[attr-defined]
    assert asyncio.run(main()) == tree
    assert set(fetch.fetched.values()) == {1}  # type: ignore[attr-defined]


def test_a_listed_entry_that_stays_404_is_absent_after_one_more_look() -> None:
    fetch = serve({"meta-data/": b"a\nd/", "meta-data/a": b"1", "meta-data/d/": b"b\ngone/"})
    fetch_d = serve({"meta-data/d/b": b"2"})

    def both(paths: list[str]) -> list[bytes | None]:
        first, second = fetch(paths), fetch_d(paths)
        assert len(first) == len(second)
        return [x if x is not None else y for x, y in zip(first, second)]

    tree = run_walk(Walk("meta-data"), both)
    assert tree == {"a": b"1", "d": {"b": b"2"}}  # 'gone/' is listed but 404: absent
    # d/ was walked again once to make sure it had not changed; nothing else was.
    assert fetch.fetched == {  # type: ignore[attr-defined]
        "meta-data/": 1, "meta-data/a": 1, "meta-data/d/": 2, "meta-data/d/b": 2,
        "meta-data/d/gone/": 2,
    }  # fmt: skip


def test_seeded_entries_that_404_are_simply_absent() -> None:
    # As the command line seeds categories: paths with slashes, leaves and maps.
    seed = [
        Entry("user-data", "user-data", False),
        Entry("meta-data/kernel-id", "meta-data/kernel-id", False),
        Entry("meta-data/tags/instance", "meta-data/tags/instance", True),
        Entry("dynamic", "dynamic", True),
    ]
    fetch = serve({"dynamic/": b"x", "dynamic/x": b"1"})
    assert run_walk(Walk("", seed=seed), fetch) == {"dynamic": {"x": b"1"}}
    assert set(fetch.fetched.values()) == {1}  # type: ignore[attr-defined]


class Changing:
    """A server whose tree changes once, just before the request numbered ``at``."""

    def __init__(self, before: dict[str, bytes], after: dict[str, bytes], at: int) -> None:
        self.trees, self.at, self.count = (before, after), at, 0

    def fetch(self, paths: list[str]) -> list[bytes | None]:
        out = []
        for p in paths:
            self.count += 1
            out.append(self.trees[self.count >= self.at].get(p))
        return out


def test_a_seeded_map_that_changes_is_walked_again() -> None:
    seed = [Entry("meta-data/tags/instance", "meta-data/tags/instance", True)]
    server = Changing(
        {"meta-data/tags/instance/": b"Name\nTeam", "meta-data/tags/instance/Name": b"web"},
        {"meta-data/tags/instance/": b"Name", "meta-data/tags/instance/Name": b"web"},
        at=3,  # Team is removed after it was listed, before it was read
    )
    tree = run_walk(Walk("", seed=seed), server.fetch)
    assert tree == {"meta-data/tags/instance": {"Name": b"web"}}
    assert server.count == 5  # the listing and Name read again, once


ENI = {
    "net/": b"macs/",
    "net/macs/": b"m1/\nm2/",
    "net/macs/m1/": b"id\nip",
    "net/macs/m1/id": b"eni-1",
    "net/macs/m1/ip": b"10.0.0.1",
    "net/macs/m2/": b"id\nip\nsg",
    "net/macs/m2/id": b"eni-2",
    "net/macs/m2/ip": b"10.0.0.2",
    "net/macs/m2/sg": b"web",
}
DETACHED = {k: v for k, v in ENI.items() if not k.startswith("net/macs/m2/")} | {
    "net/macs/": b"m1/"
}
AFTER = {"macs": {"m1": {"id": b"eni-1", "ip": b"10.0.0.1"}}}
BEFORE = {"macs": {**AFTER["macs"], "m2": {"id": b"eni-2", "ip": b"10.0.0.2", "sg": b"web"}}}


@pytest.mark.parametrize("at", range(1, 12))
def test_an_interface_detached_mid_walk_is_whole_or_absent(at: int) -> None:
    server = Changing(ENI, DETACHED, at)
    tree = run_walk(Walk("net"), server.fetch)
    assert tree in (BEFORE, AFTER)
    if at > 9:  # the change came after the last request: nothing to notice
        assert tree == BEFORE
        assert server.count == 9


def test_a_flapping_directory_is_walked_again_at_most_once() -> None:
    calls: Counter[str] = Counter()

    def fetch(paths: list[str]) -> list[bytes | None]:
        calls.update(paths)
        return [b"a\nb" if p == "d/" else None for p in paths]  # listed, never served

    assert run_walk(Walk("d"), fetch) == {}
    assert calls == {"d/": 2, "d/a": 2, "d/b": 2}


def test_walk_of_a_missing_root_is_none() -> None:
    assert run_walk(Walk("meta-data/iam"), serve({})) is None


def test_walk_of_a_self_listing_server_stops() -> None:
    def fetch(paths: list[str]) -> list[bytes | None]:
        return [b"again/" if p.endswith("/") else b"x" for p in paths]

    with pytest.raises(IMDSValidationError, match="deeper than"):
        run_walk(Walk("meta-data"), fetch)


def test_walk_of_a_huge_tree_stops() -> None:
    def fetch(paths: list[str]) -> list[bytes | None]:
        return [
            "\n".join(f"d{i}/" for i in range(50)).encode() if p.endswith("/") else b""
            for p in paths
        ]

    with pytest.raises(IMDSValidationError, match="more than"):
        run_walk(Walk("meta-data", max_nodes=5000), fetch)


@settings(max_examples=examples(60), deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=30), st.binary(max_size=300), max_size=30))
def test_walk_never_leaves_its_subtree(server: dict[str, bytes]) -> None:
    asked: list[str] = []

    def fetch(paths: list[str]) -> list[bytes | None]:
        asked.extend(paths)
        return [server.get(p, b"x/\n../\n/abs\nleaf") if p.endswith("/") else b"v" for p in paths]

    with contextlib.suppress(IMDSValidationError):
        run_walk(Walk("meta-data/tags", max_depth=4, max_nodes=2000), fetch)
    assert all(p.startswith("meta-data/tags/") for p in asked)
    assert len(asked) == len(set(asked))
    assert not any("/../" in p or "//" in p for p in asked)


# -- a real crawl of the simulator ------------------------------------------------------------


def test_full_crawl_matches_the_tree_served_and_counts_requests() -> None:
    with IMDSSimulator() as sim, IMDS(endpoints=[sim.endpoint]) as imds:
        served = as_raw(sim.snapshot())
        raw = imds.raw_tree()
        assert raw == served
        dirs, leaves = count_nodes(served)
        # The root is seeded (no listing of /latest/), every other directory is listed once
        # and every leaf fetched once, plus one token PUT.
        assert sim.stats.gets == dirs - 1 + leaves
        assert sim.stats.puts == 1
        assert max(sim.stats.requests.values()) == 1
        # EC2 closes every connection: one per request, however the client pools them.
        assert sim.stats.connections == sim.stats.total


def test_full_crawl_reuses_connections_when_the_server_keeps_them() -> None:
    with IMDSSimulator(keep_alive=True) as sim, IMDS(endpoints=[sim.endpoint]) as imds:
        imds.raw_tree()
        assert sim.stats.connections <= imds.settings.concurrency


def test_async_full_crawl_matches_too() -> None:
    async def main() -> tuple[RawNode, RawNode, int]:
        with IMDSSimulator() as sim:
            async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:
                raw = await aimds.raw_tree()
            return raw, as_raw(sim.snapshot()), max(sim.stats.requests.values())

    raw, served, most = asyncio.run(main())
    assert raw == served
    assert most == 1


def test_crawl_error_cancels_the_rest() -> None:
    with IMDSSimulator() as sim, IMDS(endpoints=[sim.endpoint], attempts=1) as imds:
        sim.faults.burst(500, 1, path="/latest/meta-data/placement/")
        with pytest.raises(IMDSHTTPError, match="500"):
            imds.raw_tree()
        # Nothing is left running: the client still works and answers the whole tree.
        assert imds.raw_tree() == as_raw(sim.snapshot())


def test_async_walk_retrieves_every_failure_of_a_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Several fetches failing in the same batch: the first is raised, the others are
    retrieved (asyncio would log 'Task exception was never retrieved' for them)."""
    import asyncio
    import gc

    from ec2imds.errors import IMDSUnavailable

    async def get(path: str) -> bytes | None:
        if path == "meta-data/":
            return b"a\nb\nc\nd"
        await asyncio.sleep(0)
        raise IMDSUnavailable(f"{path}: down")

    async def main() -> None:
        with pytest.raises(IMDSUnavailable):
            await arun(walk_flow(Walk("meta-data")), IO(get, limit=asyncio.Semaphore(8)))

    with caplog.at_level("ERROR", logger="asyncio"):
        asyncio.run(main())
        gc.collect()
    assert "never retrieved" not in caplog.text


def test_a_public_key_listed_as_0_slash_and_0_equals_name_keeps_its_name() -> None:
    from ec2imds.crawl import Entry, parse_listing

    for body in (b"0/\n0=my-key", b"0=my-key\n0/"):
        assert parse_listing(body, path="meta-data/public-keys", indexed=True) == [
            Entry("0=my-key", "0", True)
        ]
