"""One flow vocabulary and its two runners: :func:`run` (blocking) and :func:`arun` (asyncio).

Every part of ec2imds that "asks for something, gets an answer, decides" is written once,
without I/O, as a generator of steps (like ``httpx.Auth.auth_flow``): the exchange
(:mod:`ec2imds._protocol`), the lazy views, the identity check, the watch, the crawl's
walk and the endpoint race. What a step means:

* :data:`ACQUIRE` / :data:`RELEASE`: take / give back the run's lock (:attr:`IO.lock`).
  If the flow ends while the lock is held, the runner releases it.
* :class:`Sleep`: wait ``seconds``, then send ``None``.
* :class:`Blocking`: call ``call()`` (file I/O: the token store) and send its result;
  the async runner calls it in a worker thread, so the event loop never waits on a disk.
* :class:`FanOut`: start several sub-flows; send the list of their results (``first``:
  start them one after another, the next ``delay`` seconds later or as soon as the
  previous one raised, and send ``(index, result)`` of the first that returns; the rest
  are cancelled). A sub-flow that raises cancels the others and is raised into the flow.
* :class:`Emit`: hand ``value`` to the runner's caller (the watch's events): the run
  stops there and the next run of the same flow resumes it.
* anything else is an *ask*: the run's :attr:`IO.perform` answers it (a
  :class:`~ec2imds._protocol.Request` with a Response, a path with its body...). What
  ``perform`` raises is thrown into the flow at that step.

The runner is written once, as a coroutine (:func:`_drive`) told how to do each kind of
step: :func:`run` gives it blocking ways (:class:`_Blocking`: it never suspends, so one
``send`` runs it through), :func:`arun` awaits it with the event loop's (:class:`_OnLoop`).
Only the fan-outs differ in kind, threads against tasks (:class:`_Fan`, :func:`_afan`).
This module is the only code that sleeps, waits on a lock or starts threads or tasks for a
flow; what an ask costs is the business of ``perform`` (the drivers' sockets).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures as cf
    import threading

__all__ = [
    "ACQUIRE",
    "IO",
    "RELEASE",
    "Blocking",
    "Emit",
    "FanOut",
    "Flow",
    "Sleep",
    "aevents",
    "arun",
    "events",
    "run",
]

T = TypeVar("T")

#: A flow: a generator of steps that is sent each step's answer and returns its result.
Flow = Generator[Any, Any, T]


# Plain slotted classes, not NamedTuples: this module is on the command line's start-up
# path, where each NamedTuple class costs about ten times as much to make.


class Sleep:
    """Step: wait ``seconds``, then send ``None``."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Sleep({self.seconds!r})"


class _Lock:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ACQUIRE: Final = _Lock("ACQUIRE")
RELEASE: Final = _Lock("RELEASE")


class Blocking:
    """Step: call ``call()`` (blocking work such as file I/O) and send what it returns."""

    __slots__ = ("call",)

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call


class Emit:
    """Step: hand ``value`` out of the run (see :func:`events`)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class FanOut:
    """Step: run ``flows`` at once (each with its entry of ``ios``, or the run's IO)."""

    __slots__ = ("delay", "first", "flows", "ios")

    def __init__(
        self,
        flows: Sequence[Flow[Any]],
        first: bool = False,
        delay: float = 0.0,
        ios: Sequence[IO] | None = None,
    ) -> None:
        self.flows, self.first, self.delay, self.ios = flows, first, delay, ios


class IO:
    """What a run needs from its caller: ``perform`` answers the asks (blocking for
    :func:`run`, returning an awaitable for :func:`arun`); ``lock`` is what
    :data:`ACQUIRE` takes (a ``threading.Lock`` or an ``asyncio.Lock``); the sub-flows of
    a :class:`FanOut` run their blocking steps on ``pool`` (:func:`run`; without one, on
    threads of their own) or wait for ``limit`` before an ask (:func:`arun`)."""

    __slots__ = ("limit", "lock", "perform", "pool")

    def __init__(
        self,
        perform: Callable[[Any], Any],
        lock: threading.Lock | asyncio.Lock | None = None,
        pool: cf.Executor | None = None,
        limit: asyncio.Semaphore | None = None,
    ) -> None:
        self.perform, self.lock, self.pool, self.limit = perform, lock, pool, limit


# -- the blocking runner ---------------------------------------------------------------


def run(flow: Flow[T], io: IO) -> T:
    """Run ``flow`` to its end with blocking I/O and return its result."""
    return cast("T", _run(flow, io))


def events(flow: Flow[Any], io: IO) -> Generator[Any, None, None]:
    """Run ``flow`` (which never returns) and yield the value of each :class:`Emit`."""
    try:
        while True:
            yield _run(flow, io).value
    finally:
        flow.close()


def _run(flow: Flow[Any], io: IO) -> Any:
    """The blocking runner: :func:`_drive` with blocking steps, which never suspends, so
    one ``send`` runs it to the flow's end or its next :class:`Emit` (returned)."""
    driving = _drive(flow, io, _Blocking)
    try:
        driving.send(None)
    except StopIteration as done:
        return done.value
    driving.close()  # pragma: no cover - a blocking step never suspends
    raise RuntimeError("a blocking run was suspended")


async def _drive(flow: Flow[Any], io: IO, how: type[_Blocking]) -> Any:
    """The one runner: performs each step of ``flow`` the way ``how`` says (blocking, or
    on the event loop) until the flow ends or emits; throws what an ask or a fan-out
    raised into the flow at that step; gives the lock back if the flow ends holding it."""
    held = paused = False
    blocking = how is _Blocking
    reply: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                step = flow.send(reply) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value
            reply = error = None
            kind = type(step)
            if step is ACQUIRE:
                await how.acquire(io)
                held = True
            elif step is RELEASE:
                held = False
                cast("threading.Lock", io.lock).release()
            elif kind is Sleep:
                await how.sleep(step.seconds)
            elif kind is Emit:
                paused = True
                return step
            else:
                try:
                    if kind is Blocking:
                        reply = step.call() if blocking else await how.blocking(step.call)
                    elif kind is FanOut:
                        reply = await how.fan_out(step, io)
                    elif blocking:  # the common step, without a coroutine of its own
                        reply = io.perform(step)
                    else:
                        reply = await how.perform(io, step)
                except Exception as exc:  # thrown into the flow at this step
                    error = exc
    finally:
        if held:
            cast("threading.Lock", io.lock).release()
        if not paused:
            flow.close()


class _Blocking:
    """How :func:`_run` performs the steps: blocking (these coroutines never suspend)."""

    @staticmethod
    async def acquire(io: IO) -> None:
        cast("threading.Lock", io.lock).acquire()

    @staticmethod
    async def sleep(seconds: float) -> None:
        time.sleep(seconds)

    @staticmethod
    async def blocking(call: Callable[[], Any]) -> Any:
        return call()

    @staticmethod
    async def fan_out(fan: FanOut, io: IO) -> Any:
        return _Fan(fan, io).run()

    @staticmethod
    async def perform(io: IO, ask: Any) -> Any:
        return io.perform(ask)


class _Node:
    """A sub-flow of a fan-out: its generator, its IO, where its result goes."""

    __slots__ = ("abandoned", "alive", "flow", "group", "held", "io", "slot", "step")

    def __init__(self, flow: Flow[Any], io: IO, group: _Group | None, slot: int) -> None:
        self.flow, self.io, self.group, self.slot = flow, io, group, slot
        self.held = self.abandoned = False
        self.alive = True  # neither returned nor raised nor closed
        self.step: Any = None  # the step a worker is doing for it, if any


class _Group:
    """The sub-flows of one :class:`FanOut` and the flow that waits for them."""

    __slots__ = ("fan", "left", "next_at", "node", "nodes", "results", "todo")

    def __init__(self, fan: FanOut, node: _Node | None) -> None:
        self.fan, self.node = fan, node
        self.nodes: list[_Node] = []
        self.results: list[Any] = [None] * len(fan.flows)
        self.left = len(fan.flows)
        self.todo = list(range(len(fan.flows)))  # not started yet
        self.next_at = 0.0


class _Fan:
    """The blocking runner's fan-out: this thread advances every sub-flow (and theirs);
    their blocking steps run on the IO's pool or on daemon threads, whose outcomes come
    back on a queue. When the fan-out ends, the pool's steps still pending are cancelled
    and the running ones waited for; a sub-flow on a daemon thread (the race's losers) is
    left to finish there, and a lock it acquires meanwhile is released."""

    def __init__(self, fan: FanOut, io: IO) -> None:
        import queue
        import threading

        self.io = io
        self.mutex = threading.Lock()
        self.done: queue.SimpleQueue[tuple[_Node, Any, BaseException | None]] = queue.SimpleQueue()
        self.groups: list[_Group] = []
        self.futures: list[cf.Future[None]] = []  # the pool's: waited for at the end
        self.root = _Group(fan, None)
        self.result: tuple[Any] | None = None
        self.failure: BaseException | None = None

    def run(self) -> Any:
        try:
            self._start(self.root)
            while self.result is None and self.failure is None:
                waits = [g.next_at for g in self.groups if g.todo and g.fan.first]
                timeout = max(0.0, min(waits) - time.monotonic()) if waits else None
                try:
                    node, reply, error = self.done.get(timeout=timeout)
                except Exception:  # queue.Empty: a head start is over
                    self._start_due()
                    continue
                step, node.step = node.step, None
                if step is ACQUIRE and error is None:
                    node.held = True
                if node.group is not None and node.group.left >= 0:
                    self._advance(node, reply, error)
                elif step is ACQUIRE and error is None:  # abandoned meanwhile
                    self._release(node)
                self._start_due()
        finally:
            self._abandon()
        if self.failure is not None:
            raise self.failure
        assert self.result is not None
        return self.result[0]

    # groups

    def _start(self, group: _Group) -> None:
        self.groups.append(group)
        if not group.todo:
            self._finish(group, group.results)
        elif group.fan.first:
            self._start_one(group)
        else:
            while group.todo and group.left >= 0:
                self._start_one(group)

    def _start_one(self, group: _Group) -> None:
        slot = group.todo.pop(0)
        ios = group.fan.ios
        io = ios[slot] if ios is not None else (group.node.io if group.node else self.io)
        node = _Node(group.fan.flows[slot], io, group, slot)
        group.nodes.append(node)
        group.next_at = time.monotonic() + group.fan.delay
        self._advance(node, None, None)

    def _start_due(self) -> None:
        now = time.monotonic()
        for group in self.groups:
            if group.fan.first and group.todo and group.left >= 0 and group.next_at <= now:
                self._start_one(group)

    def _finish(self, group: _Group, value: Any) -> None:
        """``group`` is decided: hand ``value`` to the flow that waits for it."""
        self._close(group)
        if group.node is None:
            self.result = (value,)
        else:
            self._advance(group.node, value, None)

    def _fail(self, group: _Group, error: BaseException) -> None:
        self._close(group)
        if group.node is None:
            self.failure = error
        else:
            self._advance(group.node, None, error)

    def _close(self, group: _Group) -> None:
        """Cancel what is left of ``group``: its sub-flows still running and theirs."""
        group.left = -1
        self.groups.remove(group)
        for node in group.nodes:
            if node.alive:
                for sub in [g for g in self.groups if g.node is node]:
                    self._close(sub)
                self._drop(node)

    def _drop(self, node: _Node) -> None:
        with self.mutex:
            node.abandoned = True  # an ACQUIRE a worker is doing is given back there
        node.alive = False
        if node.held:
            self._release(node)
        node.flow.close()

    # one sub-flow

    def _advance(self, node: _Node, reply: Any, error: BaseException | None) -> None:
        """Run ``node`` until it waits for a worker, fans out, ends or raises."""
        group = node.group
        assert group is not None
        while True:
            try:
                step = node.flow.send(reply) if error is None else node.flow.throw(error)
            except StopIteration as stop:
                self._ended(node, stop.value, None)
                return
            except BaseException as exc:
                self._ended(node, None, exc)
                return
            reply = error = None
            if step is RELEASE:
                node.held = False
                cast("threading.Lock", node.io.lock).release()
            elif type(step) is FanOut:
                self._start(_Group(step, node))
                return
            elif type(step) is Emit:
                error = RuntimeError("a sub-flow cannot emit")
            else:
                node.step = step
                self._submit(node, step)
                return

    def _ended(self, node: _Node, value: Any, error: BaseException | None) -> None:
        """``node`` returned ``value``, or raised ``error``: tell its group."""
        group = node.group
        assert group is not None
        node.alive = False
        if node.held:
            self._release(node)
        if error is None and group.fan.first:
            self._finish(group, (node.slot, value))
        elif error is None:
            group.results[node.slot] = value
            group.left -= 1
            if group.left == 0:
                self._finish(group, group.results)
        elif group.fan.first and group.todo:
            group.next_at = 0.0  # the next one starts now
        elif not (group.fan.first and any(n.alive for n in group.nodes)):
            self._fail(group, error)  # (of a race: the last to fail)

    def _release(self, node: _Node) -> None:
        node.held = False
        cast("threading.Lock", node.io.lock).release()

    def _submit(self, node: _Node, step: Any) -> None:
        io = node.io

        def work() -> None:
            try:
                if step is ACQUIRE:
                    cast("threading.Lock", io.lock).acquire()
                    with self.mutex:  # see _abandon
                        if node.abandoned:
                            cast("threading.Lock", io.lock).release()
                        else:
                            self.done.put((node, None, None))
                    return
                elif type(step) is Sleep:
                    time.sleep(step.seconds)
                    reply = None
                elif type(step) is Blocking:
                    reply = step.call()
                else:
                    reply = io.perform(step)
            except BaseException as exc:  # handed to the fan-out's thread
                self.done.put((node, None, exc))
            else:
                self.done.put((node, reply, None))

        if io.pool is not None:
            self.futures.append(io.pool.submit(work))
        else:
            import threading

            # Daemon threads, not an executor: the process never waits for a loser.
            threading.Thread(target=work, name="ec2imds-flow", daemon=True).start()

    def _abandon(self) -> None:
        """Close every group still open (an error, or the answer came first), wait for
        the pool's steps, and give back a lock a worker took for a sub-flow closed
        meanwhile."""
        for group in list(self.groups):
            if group in self.groups:
                self._close(group)
        if self.futures:
            # A pool's steps are cancelled or waited for: none outlives the fan-out (the
            # daemon threads of a race's losers are left to their own timeouts).
            import concurrent.futures as cf

            for future in self.futures:
                future.cancel()
            cf.wait(self.futures)
        while not self.done.empty():
            node, _, error = self.done.get()
            if node.step is ACQUIRE and error is None:
                self._release(node)


# -- the asyncio runner ----------------------------------------------------------------


async def arun(flow: Flow[T], io: IO) -> T:
    """Run ``flow`` to its end on the running event loop and return its result."""
    return cast("T", await _arun(flow, io))


async def aevents(flow: Flow[Any], io: IO) -> AsyncGenerator[Any, None]:
    """:func:`events` on the event loop: an async iterator of the emitted values."""
    try:
        while True:
            yield (await _arun(flow, io)).value
    finally:
        flow.close()


async def _arun(flow: Flow[Any], io: IO) -> Any:
    """The asyncio runner: :func:`_drive` on the event loop."""
    return await _drive(flow, io, _OnLoop)


class _OnLoop(_Blocking):
    """How :func:`_arun` performs the steps: on the running event loop; blocking work
    (:class:`Blocking`) in the loop's default executor, a worker thread."""

    @staticmethod
    async def acquire(io: IO) -> None:
        await cast("asyncio.Lock", io.lock).acquire()

    @staticmethod
    async def sleep(seconds: float) -> None:
        import asyncio

        await asyncio.sleep(seconds)

    @staticmethod
    async def blocking(call: Callable[[], Any]) -> Any:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, call)

    @staticmethod
    async def fan_out(fan: FanOut, io: IO) -> Any:
        return await _afan(fan, io)

    @staticmethod
    async def perform(io: IO, ask: Any) -> Any:
        if io.limit is None:
            return await io.perform(ask)
        async with io.limit:
            return await io.perform(ask)


async def _afan(fan: FanOut, io: IO) -> Any:
    """The asyncio runner's fan-out: a task per sub-flow; the rest are cancelled (and
    awaited) once the answer is known or one raised."""
    import asyncio

    ios = fan.ios or [io] * len(fan.flows)
    pending: dict[asyncio.Future[Any], int] = {}
    todo = list(range(len(fan.flows)))
    results: list[Any] = [None] * len(fan.flows)
    error: BaseException | None = None

    def start() -> None:
        slot = todo.pop(0)
        pending[asyncio.ensure_future(_arun(fan.flows[slot], ios[slot]))] = slot

    try:
        if not fan.first:
            while todo:
                start()
        while todo or pending:
            if fan.first and todo:
                start()
            done, _ = await asyncio.wait(
                pending,
                timeout=fan.delay if fan.first and todo else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for future in done:
                slot = pending.pop(future)
                error = future.exception()
                if error is not None and not fan.first:
                    raise error
                if error is None:
                    if fan.first:
                        return slot, future.result()
                    results[slot] = future.result()
        if error is not None:
            raise error
        return results
    finally:
        for future in pending:
            future.cancel()
        for flow in fan.flows[len(fan.flows) - len(todo) :]:
            flow.close()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
