"""Load and soak: many readers at once for a while, many clients one after the other.

* 64 threads sharing one :class:`IMDS` and, at the same time, 64 tasks sharing one
  :class:`AsyncIMDS` (each against its own simulator: 1 ms latency, tokens of 2 s) read
  a seeded mix of categories for 10 s: no error, every value right, token PUTs close to
  one per token lifetime per endpoint (single flight under load), and no thread or file
  descriptor left once everything is closed.
* 1000 :class:`IMDS` clients (and 1000 one-shot drivers, 500 async clients) created, used
  and closed one after the other against a simulator in another process: no socket,
  descriptor or thread left behind (``tests/test_client.py`` has the plain sync case, one fetch per
  client; here each client runs a crawl, so its thread pool comes and goes too).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from ec2imds._drivers.default import DefaultDriver
from ec2imds.client import IMDS, AsyncIMDS
from ec2imds.models import Placement, Spot
from ec2imds.settings import Settings
from ec2imds.simulator import IMDSSimulator
from tests.support.tally import TALLY

pytestmark = pytest.mark.slow

DURATION = 10.0
TTL = 2
WORKERS = 64
SEED = 20240501


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settled(before: tuple[int, int], bound: float = 10.0) -> tuple[int, int]:
    """Thread and descriptor counts once they are back to ``before`` or below (threads
    that were told to stop need a moment to end; one left over by an earlier test may end
    meanwhile), or as they are after ``bound`` seconds. A leak stays above ``before``."""
    deadline = time.monotonic() + bound
    while True:
        now = (threading.active_count(), fds())
        if (now[0] <= before[0] and now[1] <= before[1]) or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def no_more_than(now: tuple[int, int], before: tuple[int, int]) -> bool:
    return now[0] <= before[0] and now[1] <= before[1]


# -- what the readers read -------------------------------------------------------------------

SyncRead = Callable[[IMDS], Any]
AsyncRead = Callable[[AsyncIMDS], Awaitable[Any]]

SYNC_READS: dict[str, SyncRead] = {
    "region (cached)": lambda c: c.meta_data.placement.region,
    "security groups (volatile)": lambda c: c.meta_data.security_groups,
    "instance action (volatile)": lambda c: c.meta_data.instance_action,
    "tag (volatile)": lambda c: c.value("meta-data/tags/instance/Name"),
    "spot (volatile subtree, absent)": lambda c: c.get(Spot).instance_action,
    "placement (subtree)": lambda c: c.get(Placement).availability_zone,
    "credentials (volatile)": lambda c: c.driver.get(
        "meta-data/iam/security-credentials/my-app-role"
    ),
    "user data": lambda c: c.user_data(),
}


async def _avalue(c: AsyncIMDS, path: str) -> Any:
    return (await c.values([path]))[path]


async def _aspot(c: AsyncIMDS) -> Any:
    return (await c.get(Spot)).instance_action


async def _aplacement(c: AsyncIMDS) -> Any:
    return (await c.get(Placement)).availability_zone


ASYNC_READS: dict[str, AsyncRead] = {
    "region (cached)": lambda c: c.fetch("meta-data/placement/region"),
    "security groups (volatile)": lambda c: _avalue(c, "meta-data/security-groups"),
    "instance action (volatile)": lambda c: c.driver.get("meta-data/instance-action"),
    "tags (volatile)": lambda c: _avalue(c, "meta-data/tags/instance"),
    "spot (volatile subtree, absent)": _aspot,
    "placement (subtree)": _aplacement,
    "credentials (volatile)": lambda c: c.driver.get(
        "meta-data/iam/security-credentials/my-app-role"
    ),
    "user data": lambda c: c.user_data(),
}


def settings_for(sim: IMDSSimulator) -> Settings:
    return Settings.resolve(endpoints=[sim.endpoint], env={}, token_ttl=TTL)


def test_64_threads_and_64_tasks_for_10_s() -> None:
    before = (threading.active_count(), fds())
    errors: list[str] = []
    reads = {"sync": 0, "async": 0}
    with (
        IMDSSimulator(seed=1, latency=0.001) as sim_sync,
        IMDSSimulator(seed=2, latency=0.001) as sim_async,
    ):
        # What every read must give: read once, quietly.
        with IMDS(settings_for(sim_sync)) as probe:
            expected_sync = {name: read(probe) for name, read in SYNC_READS.items()}

        async def probe_async() -> dict[str, Any]:
            async with AsyncIMDS(settings_for(sim_async)) as aprobe:
                return {name: await read(aprobe) for name, read in ASYNC_READS.items()}

        expected_async = asyncio.run(probe_async())
        sim_sync.stats.reset()
        sim_async.stats.reset()
        lock = threading.Lock()
        start = threading.Barrier(WORKERS + 1)
        stop_at = [0.0]

        def reader(imds: IMDS, index: int) -> None:
            rng = random.Random(SEED + index)
            names = list(SYNC_READS)
            start.wait()
            count = 0
            while time.monotonic() < stop_at[0]:
                name = rng.choice(names)
                try:
                    got = SYNC_READS[name](imds)
                except Exception as exc:  # counted: there must be none
                    got = exc
                if got != expected_sync[name]:
                    with lock:
                        errors.append(f"sync {name}: {got!r:.200}")
                count += 1
            with lock:
                reads["sync"] += count

        async def tasks() -> None:
            async with AsyncIMDS(settings_for(sim_async)) as aimds:

                async def one(index: int) -> int:
                    rng = random.Random(-SEED - index)
                    names = list(ASYNC_READS)
                    count = 0
                    while time.monotonic() < stop_at[0]:
                        name = rng.choice(names)
                        try:
                            got = await ASYNC_READS[name](aimds)
                        except Exception as exc:  # counted: there must be none
                            got = exc
                        if got != expected_async[name]:
                            errors.append(f"async {name}: {got!r:.200}")
                        count += 1
                    return count

                reads["async"] = sum(await asyncio.gather(*(one(i) for i in range(WORKERS))))

        with IMDS(settings_for(sim_sync)) as imds:
            threads = [
                threading.Thread(target=reader, args=(imds, i), name=f"soak-{i}")
                for i in range(WORKERS)
            ]
            for t in threads:
                t.start()
            stop_at[0] = time.monotonic() + DURATION
            loop_thread = threading.Thread(target=lambda: asyncio.run(tasks()), name="soak-aio")
            loop_thread.start()
            start.wait()
            for t in [*threads, loop_thread]:
                t.join(DURATION + 60)  # never hangs
                assert not t.is_alive(), t.name
        puts = sim_sync.stats.puts, sim_async.stats.puts
        rejected = sim_sync.stats.statuses[401], sim_async.stats.statuses[401]
        gets = sim_sync.stats.gets, sim_async.stats.gets
    assert errors == []
    assert min(reads.values()) > WORKERS  # everyone did work
    assert min(gets) > WORKERS
    # A token lives TTL s and is replaced a tenth of it early: about DURATION / 1.8 PUTs
    # per endpoint (plus one per 401, if a request under load arrived after expiry).
    # Without single flight it would be up to WORKERS times that.
    lifetimes = DURATION / (TTL * 0.9)
    assert len(puts) == len(rejected)
    for n, rejections in zip(puts, rejected):
        assert lifetimes - 1 <= n <= lifetimes + 2 + rejections, (puts, rejected)
    after = settled(before)
    assert no_more_than(after, before), (after, before)
    TALLY.note(
        f"soak: {WORKERS} threads + {WORKERS} tasks, {DURATION:g} s, {TTL} s tokens: "
        f"{reads['sync']} + {reads['async']} reads ({gets[0]} + {gets[1]} GETs), 0 errors, "
        f"token PUTs per endpoint {puts[0]} and {puts[1]} (401s: {rejected[0]}, "
        f"{rejected[1]}), threads and descriptors as before"
    )


# -- many clients, one after the other -------------------------------------------------------


@pytest.fixture(scope="module")
def remote() -> Iterator[tuple[str, int]]:
    """A simulator in its own process: every thread and descriptor here is the client's."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ec2imds.simulator", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "IMDS simulator listening on http://127.0.0.1:PORT"
        port = int(line.rsplit(":", 1)[1])
        yield ("127.0.0.1", port)
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize(
    ("driver", "clients"),
    [("sync", 1000), ("async", 500), ("stdlib", 1000)],
)
def test_many_clients_one_after_the_other_leave_nothing_behind(
    remote: tuple[str, int], driver: str, clients: int
) -> None:
    settings = Settings.resolve(endpoints=[remote], env={})

    def sync() -> None:
        with IMDS(settings) as imds:  # a crawl: the client's thread pool comes and goes
            assert imds.get(Placement).region == "us-east-1"

    async def aio() -> None:
        async with AsyncIMDS(settings) as aimds:
            assert (await aimds.get(Placement)).region == "us-east-1"

    def stdlib() -> None:
        with DefaultDriver(settings) as oneshot:
            assert oneshot.get("meta-data/instance-id") == b"i-0123456789abcdef0"

    def run_many(n: int) -> None:
        if driver == "async":

            async def many() -> None:
                for _ in range(n):
                    await aio()

            asyncio.run(many())
        else:
            for _ in range(n):
                (sync if driver == "sync" else stdlib)()

    run_many(3)  # warm: imports, the models' validators
    before = (threading.active_count(), fds())
    run_many(clients)
    after = settled(before)
    assert no_more_than(after, before), (after, before)
    TALLY.note(f"{clients} {driver} clients one after the other: threads and descriptors as before")
