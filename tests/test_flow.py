"""The flow runners (``ec2imds/_flow.py``): the blocking and the asyncio runner do the same
thing with every kind of step, fan-outs included, and a file token store under
``AsyncIMDS`` does its I/O off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ec2imds import AsyncIMDS
from ec2imds._flow import (
    ACQUIRE,
    IO,
    RELEASE,
    Blocking,
    Emit,
    FanOut,
    Flow,
    Sleep,
    aevents,
    arun,
    events,
    run,
)
from ec2imds.endpoints import Endpoint
from ec2imds.simulator import IMDSSimulator
from ec2imds.tokens import FileTokenStore, Token

Runner = Callable[[Flow[Any], Callable[[Any], Any], Any], Any]


def blocking(flow: Flow[Any], answer: Callable[[Any], Any], pool: Any = None) -> Any:
    return run(flow, IO(answer, threading.Lock(), pool=pool))


def on_loop(flow: Flow[Any], answer: Callable[[Any], Any], pool: Any = None) -> Any:
    async def perform(ask: Any) -> Any:
        await asyncio.sleep(0)
        return answer(ask)

    async def main() -> Any:
        return await arun(flow, IO(perform, asyncio.Lock(), limit=asyncio.Semaphore(2)))

    return asyncio.run(main())


@pytest.fixture(params=["run", "arun", "run-pool"])
def runner(request: pytest.FixtureRequest) -> Iterator[Runner]:
    if request.param == "arun":
        yield on_loop
    elif request.param == "run":
        yield blocking
    else:
        with ThreadPoolExecutor(2) as pool:

            def pooled(flow: Flow[Any], answer: Callable[[Any], Any], _: Any = None) -> Any:
                return blocking(flow, answer, pool)

            yield pooled


def double(ask: Any) -> Any:
    if ask == "boom":
        raise KeyError(ask)
    return ask * 2


def test_every_kind_of_step(runner: Runner) -> None:
    threads: list[threading.Thread] = []

    def work() -> int:
        threads.append(threading.current_thread())
        return 7

    def flow() -> Flow[list[Any]]:
        got = [(yield 1)]
        yield ACQUIRE
        got.append((yield Blocking(work)))
        yield RELEASE
        yield Sleep(0)
        try:
            yield "boom"
        except KeyError as exc:  # what perform raised is thrown in at its step
            got.append(f"caught {exc}")
        got.append((yield FanOut([sub(3), sub(4)])))
        return got

    def sub(n: int) -> Flow[int]:
        doubled: int = yield n
        return doubled + 1

    assert runner(flow(), double, None) == [2, 7, "caught 'boom'", [7, 9]]
    assert len(threads) == 1


def test_blocking_work_leaves_the_event_loop_to_a_worker_thread() -> None:
    seen: list[threading.Thread] = []

    def flow() -> Flow[None]:
        yield Blocking(lambda: seen.append(threading.current_thread()))

    blocking(flow(), double)
    assert seen == [threading.current_thread()]  # blocking: inline
    on_loop(flow(), double)
    assert seen[1] is not threading.current_thread()  # asyncio: never the loop's thread


def test_a_lock_held_when_the_flow_fails_is_given_back(runner: Runner) -> None:
    def flow() -> Flow[None]:
        yield ACQUIRE
        yield "boom"  # not caught: the flow raises holding the lock

    with pytest.raises(KeyError):
        runner(flow(), double, None)
    lock = threading.Lock()
    with pytest.raises(KeyError):
        run(flow(), IO(double, lock))
    assert lock.acquire(blocking=False)


def test_a_failing_sub_flow_cancels_the_others_and_is_raised_in_the_flow(runner: Runner) -> None:
    closed: list[int] = []

    def slow(n: int) -> Flow[int]:
        try:
            for _ in range(50):
                yield Sleep(0.001)
            return n
        finally:
            closed.append(n)

    def failing() -> Flow[int]:
        yield "boom"
        return 0

    def flow() -> Flow[str]:
        try:
            yield FanOut([slow(1), failing(), slow(2)])
        except KeyError:
            return "raised"
        return "not raised"

    assert runner(flow(), double, None) == "raised"
    assert sorted(closed) == [1, 2]  # closed, not run to their end


def test_first_takes_the_first_answer_and_starts_the_next_when_one_fails(runner: Runner) -> None:
    started: list[str] = []

    def attempt(name: str, fails: bool) -> Flow[str]:
        started.append(name)
        if fails:
            yield "boom"
        yield name
        return name

    def flow(*plan: tuple[str, bool]) -> Flow[Any]:
        fan = FanOut([attempt(n, f) for n, f in plan], first=True, delay=60.0)
        return (yield fan)

    # A failure starts the next at once (not after the 60 s head start).
    assert runner(flow(("a", True), ("b", False)), double, None) == (1, "b")
    assert started == ["a", "b"]
    started.clear()
    assert runner(flow(("a", False), ("b", False)), double, None) == (0, "a")
    assert started == ["a"]  # the second never started: the first answered in time
    with pytest.raises(KeyError):
        runner(flow(("a", True), ("b", True)), double, None)


def test_a_head_start_runs_out() -> None:
    """The second starts once the first has had its head start, and wins."""

    def waits() -> Flow[str]:
        said: str = yield "wait"
        return said

    def quick() -> Flow[str]:
        said: str = yield "quick"
        return said

    def flow() -> Flow[Any]:
        return (yield FanOut([waits(), quick()], first=True, delay=0.01))

    gate = threading.Event()

    def answer(ask: str) -> str:
        if ask == "wait":
            gate.wait(30)  # answered only after the run (a daemon thread: not waited for)
        return ask

    try:
        assert run(flow(), IO(answer)) == (1, "quick")
    finally:
        gate.set()

    async def main() -> Any:
        won = asyncio.Event()

        async def perform(ask: str) -> str:
            if ask == "wait":
                await asyncio.wait_for(won.wait(), 30)  # never set: cancelled, the loser
            return ask

        return await arun(flow(), IO(perform))

    assert asyncio.run(main()) == (1, "quick")


def test_emit_pauses_the_run_and_the_next_run_resumes() -> None:
    def flow() -> Flow[None]:
        n = 0
        while True:
            n = yield n + 1
            yield Emit(n)

    got = []
    for value in events(flow(), IO(double)):
        got.append(value)
        if len(got) == 3:
            break
    assert got == [2, 6, 14]

    async def main() -> list[int]:
        async def perform(ask: int) -> int:
            return ask * 2

        out: list[int] = []
        async for value in aevents(flow(), IO(perform)):
            out.append(value)
            if len(out) == 3:
                break
        return out

    assert asyncio.run(main()) == [2, 6, 14]


class ThreadRecordingStore(FileTokenStore):
    """A file store that records the thread of each of its calls."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.threads: list[threading.Thread] = []

    def load(self, endpoint: Endpoint) -> Token | None:
        self.threads.append(threading.current_thread())
        return super().load(endpoint)

    def save(self, endpoint: Endpoint, token: Token) -> None:
        self.threads.append(threading.current_thread())
        super().save(endpoint, token)


def test_async_imds_reads_and_writes_token_files_off_the_event_loop(tmp_path: Path) -> None:
    store = ThreadRecordingStore(tmp_path / "tokens")

    async def main() -> threading.Thread:
        with IMDSSimulator(seed=3) as sim:
            async with AsyncIMDS(endpoints=[sim.endpoint], store=store) as aimds:
                assert await aimds.fetch("meta-data/instance-id") is not None
        return threading.current_thread()

    loop_thread = asyncio.run(main())
    assert len(store.threads) >= 2  # loaded (none yet), then saved the new token
    assert loop_thread not in store.threads
    assert len(list((tmp_path / "tokens").iterdir())) == 1


# -- the twins that remain: a sync class and its async counterpart, pinned alike ----------

from ec2imds import IMDS  # noqa: E402
from ec2imds._drivers.aio import AsyncDriver  # noqa: E402
from ec2imds._drivers.default import DefaultDriver  # noqa: E402
from ec2imds._drivers.default_async import AsyncDefaultDriver  # noqa: E402
from ec2imds._drivers.httpx import AsyncHttpxDriver, HttpxDriver  # noqa: E402
from ec2imds._drivers.sync import SyncDriver  # noqa: E402
from ec2imds.models._views import AsyncView, View  # noqa: E402

#: What one side has alone, and why: the sync client's thread pool (the async one uses
#: tasks); the async client's awaitable ``region``; the asyncio race lock, made on the
#: event loop that uses it.
ALONE: dict[type, tuple[str, ...]] = {
    IMDS: ("_executor", "_opened"),
    AsyncIMDS: ("_region",),
}

TWINS = [
    (IMDS, AsyncIMDS),
    (SyncDriver, AsyncDriver),
    (DefaultDriver, AsyncDefaultDriver),
    (HttpxDriver, AsyncHttpxDriver),
    (View, AsyncView),
]


def _methods(cls: type) -> dict[str, list[str]]:
    """The methods ``cls`` defines itself, by name (``close`` as ``aclose``), with their
    parameters' names."""
    import inspect

    out = {}
    for name, member in vars(cls).items():
        if name.startswith("__") or (not callable(member) and not isinstance(member, staticmethod)):
            continue
        function = member.__func__ if isinstance(member, staticmethod) else member
        params = list(inspect.signature(function).parameters)
        out["aclose" if name == "close" else name] = params
    return out


@pytest.mark.parametrize(("sync", "aio"), TWINS, ids=lambda c: c.__name__)
def test_each_sync_class_and_its_async_twin_define_the_same_methods(sync: type, aio: type) -> None:
    """What remains twice (a method that runs a flow blocking, and its awaiting twin) has
    the same name and parameters on both sides: neither can drift alone."""
    alone = {name for cls in (sync, aio) for name in ALONE.get(cls, ())}
    assert {k: v for k, v in _methods(sync).items() if k not in alone} == {
        k: v for k, v in _methods(aio).items() if k not in alone
    }
    for cls in (sync, aio):
        assert set(ALONE.get(cls, ())) <= set(_methods(cls)), cls  # still there, still alone
