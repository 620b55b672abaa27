"""The fault matrix: every fault the simulator can inject, against one key and a full
crawl, through every driver (httpx sync, httpx async, the standard-library one-shot
driver, and the command line).

Each trial ends one of three ways, counted in :data:`tests.support.tally.TALLY` and
printed after the run (the figures of docs/security.md, "Reliability"):

* **survived**: the result is exactly the fault-free one (after retries within the
  attempt budget), and the fault did fire;
* **failed clearly**: the error the row expects, naming what failed (the path, or "IMDS
  is turned off", "hop limit", "cannot reach"); the command line exits 1 with one
  ``ec2imds:`` line per failure, no traceback, and whatever it still prints is exactly
  the fault-free value of every category it prints (the missing ones named on stderr);
* **failed wrongly**: anything else, such as a silently shorter result, another
  exception, a hang, or a token in a message. The test fails; the count must stay 0.

"Exact" when the tree changes during a crawl (an interface detached: its children
answer 404): the result equals the tree before the change or the tree after it, never a
mixture; an interface is there whole or absent. The walk re-reads a directory whose
listed entry vanished (see :class:`ec2imds.crawl.Walk`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import httpx
import pytest
from anyio.from_thread import BlockingPortal

from ec2imds._category_json import ROOTS
from ec2imds._drivers.default import DefaultDriver
from ec2imds._flow import IO, run
from ec2imds.cli import main
from ec2imds.client import IMDS, AsyncIMDS
from ec2imds.crawl import Walk, walk_flow
from ec2imds.errors import (
    IMDSDisabled,
    IMDSError,
    IMDSHTTPError,
    IMDSTimeout,
    IMDSUnavailable,
    RedirectRefused,
    ResponseTooLarge,
    TokenError,
)
from ec2imds.settings import Settings
from ec2imds.simulator import IMDSSimulator
from ec2imds.tokens import FileTokenStore, MemoryTokenStore
from tests.support.command import run as run_command
from tests.support.drivers import Client, ClientFactory
from tests.support.hooked import ATTEMPTS, TIMEOUT, HookedSimulator, settings_for, simulator
from tests.support.network import Listener
from tests.support.paths import DOCS
from tests.support.tally import TALLY, Trial, Verdict

#: The one key, and the directory whose listing a crawl's faults hit.
KEY = "meta-data/placement/region"
CRAWL_DIR = "meta-data/network/interfaces/macs/"
MAC1, MAC2 = "0e:49:61:0f:c3:11", "0e:49:61:0f:c3:22"
ENI2 = f"meta-data/network/interfaces/macs/{MAC2}"
BIG = "x" * (1024 * 1024 + 1)

Target = Literal["key", "crawl"]
Driver = Literal["sync", "async", "stdlib", "cli"]
TARGETS: tuple[Target, ...] = ("key", "crawl")
DRIVERS: tuple[Driver, ...] = ("sync", "async", "stdlib", "cli")


# -- the simulator, with hooks -------------------------------------------------------------


def hooked(sim: IMDSSimulator) -> HookedSimulator:
    assert isinstance(sim, HookedSimulator)
    return sim


# -- the table -----------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a row's ``inject`` acts on."""

    sim: IMDSSimulator
    target: Target
    driver: Driver
    listener: Listener

    @property
    def path(self) -> str:
        """Where a fault on one path goes: the key, or a directory listing of the crawl."""
        return KEY if self.target == "key" else CRAWL_DIR

    @property
    def hooked(self) -> HookedSimulator:
        return hooked(self.sim)


@dataclass(frozen=True)
class Exact:
    """Survive: the result equals the fault-free result of one of these trees."""

    variants: tuple[str, ...] = ("default",)


@dataclass(frozen=True)
class Fails:
    """Fail clearly: this error, its message naming ``needle`` (default: the fault path)."""

    error: type[IMDSError]
    needle: str | None = None


@dataclass(frozen=True)
class Fault:
    id: str
    name: str
    inject: Callable[[Ctx], None]
    expect: Exact | Fails
    #: A token is in hand before the fault (a library client asked for one; the command
    #: line ran once and saved it).
    warm: bool = True
    #: The fault must be seen to fire (one-shot faults consumed, hooks run): a survival
    #: that never met its fault proves nothing.
    fired: Callable[[Ctx], bool] | None = lambda c: c.sim.faults.pending == 0
    #: The key a library driver reads (a single GET) and the category the CLI prints.
    key_lib: str = KEY
    key_cli: str = KEY


def _burst(status: int, count: int, method: str = "GET") -> Callable[[Ctx], None]:
    def inject(c: Ctx) -> None:
        path = "api/token" if method == "PUT" else c.path
        c.sim.faults.burst(status, count, method=method, path=path)

    return inject


def _redirect(status: int) -> Callable[[Ctx], None]:
    def inject(c: Ctx) -> None:
        host, port = c.listener.endpoint
        where = f"http://{host}:{port}/latest/{c.path}"
        c.sim.faults.redirect_next(1, status=status, location=where, method="GET", path=c.path)

    return inject


def _revoke(c: Ctx) -> None:
    nth = 1 if c.target == "key" else 20
    c.hooked.before_nth(lambda m, p: m == "GET", nth, c.sim.expire_tokens)


def _detach(c: Ctx) -> None:
    # The interface goes away after its listing was read and some of its leaves were:
    # the next leaves answer 404 (for one library GET: the very one read).
    nth = 1 if c.target == "key" and c.driver != "cli" else 3
    prefix = f"/latest/{ENI2}/"
    c.hooked.before_nth(
        lambda m, p: m == "GET" and p.startswith(prefix) and p != prefix,
        nth,
        lambda: c.sim.delete(ENI2),
    )


def _stop(c: Ctx) -> None:
    c.sim.stop()  # nothing listens on the port any more


def _put_hang(c: Ctx) -> None:
    c.sim.faults.put_hang = True


def _oversize(c: Ctx) -> None:
    c.sim.set(KEY if c.target == "key" else f"{CRAWL_DIR}{MAC1}/local-hostname", BIG)


def _hooks_fired(c: Ctx) -> bool:
    return bool(c.hooked.fired)


B = ATTEMPTS - 1  # a burst the budget absorbs
L = ATTEMPTS  # a burst that spends it

FAULTS: list[Fault] = [
    Fault("500-short", f"500 x{B} (within the budget)", _burst(500, B), Exact()),
    Fault("503-short", f"503 x{B}", _burst(503, B), Exact()),
    Fault("429-short", f"429 x{B}", _burst(429, B), Exact()),
    Fault("500-long", f"500 x{L} (the budget spent)", _burst(500, L), Fails(IMDSHTTPError)),
    Fault("503-long", f"503 x{L}", _burst(503, L), Fails(IMDSHTTPError)),
    Fault("429-long", f"429 x{L}", _burst(429, L), Fails(IMDSHTTPError)),
    Fault("put-503-short", f"PUT 503 x{B}", _burst(503, B, "PUT"), Exact(), warm=False),
    Fault(
        "put-503-long",
        f"PUT 503 x{L}",
        _burst(503, L, "PUT"),
        Fails(TokenError, "token request"),
        warm=False,
    ),
    Fault(
        "drop-short",
        "reset before the response x1",
        lambda c: c.sim.faults.drop_next(1, method="GET", path=c.path),
        Exact(),
    ),
    Fault(
        "drop-long",
        f"reset before the response x{L}",
        lambda c: c.sim.faults.drop_next(L, method="GET", path=c.path),
        Fails(IMDSUnavailable),
    ),
    Fault(
        "reset-short",
        "reset half-way through the body x1",
        lambda c: c.sim.faults.reset_mid_body_next(1, method="GET", path=c.path),
        Exact(),
    ),
    Fault(
        "reset-long",
        f"reset half-way through the body x{L}",
        lambda c: c.sim.faults.reset_mid_body_next(L, method="GET", path=c.path),
        Fails(IMDSUnavailable),
    ),
    Fault(
        "hang-short",
        "read timeout (accepted, never answered) x1",
        lambda c: c.sim.faults.hang_next(1, method="GET", path=c.path),
        Exact(),
    ),
    Fault(
        "hang-long",
        f"read timeout x{L}",
        lambda c: c.sim.faults.hang_next(L, method="GET", path=c.path),
        Fails(IMDSTimeout),
    ),
    Fault(
        "slow-short",
        "slow body (the whole body within the timeout)",
        lambda c: c.hooked.slow(c.path, TIMEOUT / 10, 1),
        Exact(),
        fired=_hooks_fired,
    ),
    Fault(
        "slow-long",
        f"slow body (a chunk after the timeout) x{L}",
        lambda c: c.hooked.slow(c.path, TIMEOUT * 1.75, L),
        Fails(IMDSTimeout),
        fired=_hooks_fired,
    ),
    Fault(
        "trickle-short",
        "a body trickled byte by byte (each within the timeout, the whole not) x1",
        lambda c: c.hooked.slow(c.path, TIMEOUT / 4, 1, size=1),
        Exact(),
        fired=_hooks_fired,
    ),
    Fault(
        "trickle-long",
        f"a body trickled byte by byte x{L}",
        lambda c: c.hooked.slow(c.path, TIMEOUT / 4, L, size=1),
        Fails(IMDSTimeout),
        fired=_hooks_fired,
    ),
    Fault(
        "revoked",
        "token expired or revoked mid-crawl (401 once)",
        _revoke,
        Exact(),
        fired=_hooks_fired,
    ),
    Fault(
        "401-always",
        "every token rejected (401 on every GET)",
        _burst(401, 100_000),
        Fails(TokenError, "rejected a fresh token"),
        fired=None,
    ),
    Fault(
        "put-hang",
        "token PUT times out (the container hop limit)",
        _put_hang,
        Fails(IMDSTimeout, "hop limit"),
        warm=False,
        fired=None,
    ),
    Fault(
        "detach",
        "interface detached mid-crawl (its children 404)",
        _detach,
        Exact(("default", "detached")),
        fired=_hooks_fired,
        key_lib=f"{ENI2}/interface-id",
        key_cli="meta-data/network/interfaces/macs",
    ),
    Fault(
        "disabled",
        "IMDS disabled (403 on the token PUT)",
        _burst(403, 100_000, "PUT"),
        Fails(IMDSDisabled, "turned off"),
        warm=False,
        fired=None,
    ),
    Fault(
        "down",
        "nothing listening",
        _stop,
        Fails(IMDSUnavailable, "cannot reach"),
        warm=False,
        fired=None,
    ),
    *(
        Fault(
            f"redirect-{s}", f"{s} redirect (never followed)", _redirect(s), Fails(RedirectRefused)
        )
        for s in (301, 302, 307)
    ),
    Fault("too-large", "body over 1 MiB", _oversize, Fails(ResponseTooLarge), fired=None),
]


# -- running one trial ---------------------------------------------------------------------


@dataclass(frozen=True)
class Ok:
    value: Any


@dataclass(frozen=True)
class Err:
    error: BaseException


@dataclass(frozen=True)
class CLIResult:
    code: int
    out: str
    err: str


Outcome = Union[Ok, Err, CLIResult]  # evaluated at run time: no X | Y before Python 3.10


def bounded(call: Callable[[], Any], seconds: float = 60.0) -> Ok | Err:
    """``call()`` on a helper thread: its value or exception; a hang fails the test."""
    box: list[Ok | Err] = []

    def run() -> None:
        try:
            box.append(Ok(call()))
        except BaseException as exc:  # judged by the caller
            box.append(Err(exc))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"hung for {seconds} s")
    return box[0]


def run_library(
    driver: Driver,
    target: Target,
    key: str,
    sim: IMDSSimulator,
    portal: BlockingPortal,
    warm: bool,
    inject: Callable[[], None],
) -> Ok | Err:
    settings = settings_for(sim)
    if target == "key":
        client = Client(driver, settings, None, portal)  # the three-mode facade
        try:
            if warm:
                client.token()
            inject()
            return bounded(lambda: client.get(key))
        finally:
            client.close()
    if driver == "sync":
        with IMDS(settings) as imds:
            if warm:
                imds.driver.token()
            inject()
            return bounded(imds.raw_tree)
    if driver == "async":
        aimds = AsyncIMDS(settings)
        try:
            if warm:
                portal.call(aimds.driver.token)
            inject()
            return bounded(lambda: portal.call(aimds.raw_tree))
        finally:
            portal.call(aimds.aclose)
    with (
        DefaultDriver(settings) as oneshot,
        concurrent.futures.ThreadPoolExecutor(settings.concurrency) as pool,
    ):
        if warm:
            oneshot.token()
        inject()
        return bounded(
            lambda: run(walk_flow(Walk("", seed=list(ROOTS))), IO(oneshot.get, pool=pool))
        )


def cli(args: list[str]) -> CLIResult:
    """``ec2imds ARGS`` in-process (the same ``main`` the console script runs)."""
    out, err = io.StringIO(), io.StringIO()

    def call() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return main(args)

    done = bounded(call)
    assert isinstance(done, Ok), f"main() raised {done}"
    return CLIResult(done.value, out.getvalue(), err.getvalue())


def run_cli(
    target: Target,
    key: str,
    sim: IMDSSimulator,
    token_dir: Path,
    warm: bool,
    inject: Callable[[], None],
) -> CLIResult:
    common = [f"--imds=127.0.0.1:{sim.port}", "-t", str(token_dir)]
    if warm:
        first = cli([*common, "--raw", "meta-data/instance-id"])
        assert first.code == 0, first.err
    inject()
    return cli([*common, "--raw", key] if target == "key" else [*common, "-a"])


_BASELINES: dict[tuple[str, str, str, str], Outcome] = {}


def baseline(
    driver: Driver, target: Target, key: str, variant: str, portal: BlockingPortal, tmp: Path
) -> Outcome:
    """The fault-free result (of the default tree, or of it with the interface detached)."""
    cache_key = (driver, target, key, variant)
    if cache_key not in _BASELINES:
        with simulator() as sim:
            if variant == "detached":
                sim.delete(ENI2)
            if driver == "cli":
                result: Outcome = run_cli(target, key, sim, tmp / "baseline", False, lambda: None)
                assert isinstance(result, CLIResult)
                assert (result.code, result.err) == (0, ""), result
            else:
                result = run_library(driver, target, key, sim, portal, False, lambda: None)
                assert isinstance(result, Ok), result
        _BASELINES[cache_key] = result
    return _BASELINES[cache_key]


# -- judging -------------------------------------------------------------------------------


def leaks(outcome: Outcome, tokens: list[str]) -> list[str]:
    if isinstance(outcome, CLIResult):
        texts = [outcome.out, outcome.err]
    elif isinstance(outcome, Err):
        texts = [str(outcome.error), repr(outcome.error), repr(outcome.error.__cause__)]
    else:
        texts = []
    return [t[:8] + "..." for t in tokens if any(t in text for text in texts)]


def judge_library(
    outcome: Ok | Err, expect: Exact | Fails, wanted: list[Outcome], needle: str
) -> tuple[Verdict, str]:
    if isinstance(expect, Exact):
        if isinstance(outcome, Ok) and any(
            isinstance(w, Ok) and outcome.value == w.value for w in wanted
        ):
            return "survived", ""
        return "failed wrongly", f"expected the fault-free result, got {outcome!r:.300}"
    if not isinstance(outcome, Err):
        return "failed wrongly", f"expected {expect.error.__name__}, got a result"
    error = outcome.error
    if not isinstance(error, expect.error):
        return "failed wrongly", f"expected {expect.error.__name__}, got {error!r:.300}"
    if needle not in str(error):
        return "failed wrongly", f"{needle!r} not named in {str(error)!r}"
    return "failed clearly", ""


def judge_cli(
    outcome: CLIResult, expect: Exact | Fails, wanted: list[Outcome], needle: str
) -> tuple[Verdict, str]:
    if isinstance(expect, Exact):
        if outcome.code == 0 and outcome.err == "" and any(w == outcome for w in wanted):
            return "survived", ""
        return "failed wrongly", f"expected the fault-free output, got {outcome!r:.300}"
    lines = outcome.err.splitlines()
    if outcome.code != 1 or "Traceback" in outcome.err or not lines:
        return "failed wrongly", f"expected exit 1 and a message, got {outcome!r:.300}"
    if not all(line.startswith("ec2imds: ") for line in lines):
        return "failed wrongly", f"stray stderr lines: {outcome.err!r:.300}"
    if needle not in outcome.err:
        return "failed wrongly", f"{needle!r} not named in {outcome.err!r}"
    if outcome.out:
        # What is printed despite the failure is exactly right, and what is missing is
        # named: never a silently shorter result.
        fault_free = wanted[0]
        assert isinstance(fault_free, CLIResult)
        printed, full = json.loads(outcome.out), json.loads(fault_free.out)
        if not isinstance(printed, dict) or any(printed[k] != full.get(k) for k in printed):
            return "failed wrongly", "printed values differ from the fault-free ones"
        missing = [k for k in full if k not in printed]
        if not missing or any(k not in outcome.err for k in missing):
            return "failed wrongly", f"missing categories not all named: {missing}"
    return "failed clearly", ""


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    """A loopback listener a redirect points at: it must never be connected to."""
    lst = Listener()
    yield lst
    lst.close()


@pytest.mark.slow
@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_fault(
    fault: Fault,
    target: Target,
    driver: Driver,
    portal: BlockingPortal,
    listener: Listener,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_METADATA_SERVICE_TIMEOUT", str(TIMEOUT))
    key = fault.key_cli if driver == "cli" else fault.key_lib
    variants = fault.expect.variants if isinstance(fault.expect, Exact) else ("default",)
    wanted = [baseline(driver, target, key, v, portal, tmp_path) for v in variants]
    accepted = listener.accepted
    with simulator() as sim:
        ctx = Ctx(sim, target, driver, listener)
        inject = lambda: fault.inject(ctx)  # noqa: E731
        outcome: Outcome
        if driver == "cli":
            outcome = run_cli(target, key, sim, tmp_path / "tokens", fault.warm, inject)
        else:
            outcome = run_library(driver, target, key, sim, portal, fault.warm, inject)
        fired = fault.fired is None or fault.fired(ctx)
        tokens = list(hooked(sim).issued)
    expect = fault.expect
    needle = (expect.needle or ctx.path.rstrip("/")) if isinstance(expect, Fails) else ""
    verdict: Verdict
    if isinstance(outcome, CLIResult):
        verdict, detail = judge_cli(outcome, expect, wanted, needle)
    else:
        verdict, detail = judge_library(outcome, expect, wanted, needle)
    if verdict != "failed wrongly":
        if not fired:
            verdict, detail = "failed wrongly", "the fault never fired"
        elif leaked := leaks(outcome, tokens):
            verdict, detail = "failed wrongly", f"token(s) {leaked} shown"
        elif listener.accepted != accepted:
            verdict, detail = "failed wrongly", "a redirect was followed"
    TALLY.record(Trial(fault.name, target, driver, verdict, detail))
    assert verdict == ("survived" if isinstance(expect, Exact) else "failed clearly"), detail


# -- regressions the matrix found ------------------------------------------------------------


@pytest.mark.slow
def test_a_read_timeout_with_a_stored_token_is_retried(make_client: ClientFactory) -> None:
    """The command line's case: the token comes from the file store, so the first request
    of the process is a GET. A read timeout there (the endpoint accepted the connection)
    is retried like any other, not taken for "off EC2"."""
    with simulator() as sim:
        store = MemoryTokenStore()
        first = make_client(settings_for(sim), store=store)
        first.token()
        sim.faults.hang_next(1, method="GET", path=KEY)
        client = make_client(settings_for(sim), store=store)  # a new process, in effect
        assert client.get(KEY) == b"us-east-1"
        assert client.token_puts == 0
        assert sim.stats.count(f"/latest/{KEY}") == 2


# -- a trickling server: every read within the timeout, the answer never ---------------------

#: One byte every half second (the issue's server); a timeout twice that, so no single read
#: ever times out: only the request's deadline can end the wait.
TRICKLE = 0.5
#: A tag whose value takes 200 s to trickle out; every other body takes seconds too.
LONG_TAG = "meta-data/tags/instance/Long"
#: Far below what the trickle takes (minutes for -a), far above what the deadline gives
#: (about the timeout per attempt, 3 attempts when a token was in hand): load cannot
#: make this flake, and a driver without a deadline cannot pass.
BOUND = 15.0


def _trickle_scenarios(sim: IMDSSimulator, tmp: Path) -> dict[str, Callable[[], object]]:
    settings = Settings.resolve(endpoints=[sim.endpoint], env={}, timeout=2 * TRICKLE)
    store = FileTokenStore(tmp)  # where a warm run left its token
    common = [f"--imds=127.0.0.1:{sim.port}", "-t", str(tmp)]
    env = {"AWS_METADATA_SERVICE_TIMEOUT": str(2 * TRICKLE)}

    def sync_key() -> object:
        with IMDS(settings, store=store) as imds:
            return imds.value(LONG_TAG)

    def sync_all() -> object:
        with IMDS(settings, store=store) as imds:
            return imds.all()

    async def _async_all() -> object:
        async with AsyncIMDS(settings, store=store) as aimds:
            return await aimds.all()

    def async_key() -> object:
        async def main() -> object:
            async with AsyncIMDS(settings, store=store) as aimds:
                return await aimds.fetch(LONG_TAG)

        return asyncio.run(main())

    def stdlib_key() -> object:
        with DefaultDriver(settings, store) as oneshot:
            return oneshot.get(LONG_TAG)

    def httpx_key() -> object:  # the httpx drivers: when a transport is given
        with IMDS(settings, store=store, http_transport=httpx.HTTPTransport()) as imds:
            return imds.value(LONG_TAG)

    def httpx_async_all() -> object:
        async def main() -> object:
            transport = httpx.AsyncHTTPTransport()
            async with AsyncIMDS(settings, store=store, http_transport=transport) as aimds:
                return await aimds.all()

        return asyncio.run(main())

    def command(*args: str) -> Callable[[], object]:
        def call() -> object:
            result = run_command(*common, *args, env=env)
            if result.code != 1 or "did not finish" not in result.err:
                raise AssertionError(f"expected exit 1 naming the deadline: {result}")
            raise IMDSTimeout(result.err)

        return call

    return {
        "sync key": sync_key,
        "async key": async_key,
        "stdlib key": stdlib_key,
        "sync all()": sync_all,
        "async all()": lambda: asyncio.run(_async_all()),
        "cli key": command("--raw", LONG_TAG),
        "cli -a": command("-a"),
        "httpx sync key": httpx_key,
        "httpx async all()": httpx_async_all,
    }


@pytest.mark.slow
@pytest.mark.parametrize("warm", [False, True], ids=["the-put-trickles", "the-gets-trickle"])
def test_a_trickling_server_fails_in_about_the_timeout(warm: bool, tmp_path: Path) -> None:
    """Each scenario against its own simulator, all at once (they mostly sleep)."""
    sims = [IMDSSimulator(seed=5) for _ in range(9)]
    try:
        scenarios: dict[str, tuple[IMDSSimulator, Callable[[], object]]] = {}
        for i, sim in enumerate(sims):
            sim.start()
            sim.set(LONG_TAG, "x" * 400)
            token_dir = tmp_path / str(i)
            name, call = list(_trickle_scenarios(sim, token_dir).items())[i]
            if warm:  # a token in hand: the library clients get one; the CLI saves one
                with DefaultDriver(settings_for(sim), FileTokenStore(token_dir)) as first:
                    first.token()
            scenarios[name] = (sim, call)
        for sim in sims:
            sim.faults.trickle = TRICKLE

        def timed(call: Callable[[], object]) -> tuple[float, Ok | Err]:
            started = time.monotonic()
            outcome = bounded(call, 120.0)
            return time.monotonic() - started, outcome

        with concurrent.futures.ThreadPoolExecutor(len(scenarios)) as pool:
            futures = {n: pool.submit(timed, call) for n, (_, call) in scenarios.items()}
            done = {n: f.result() for n, f in futures.items()}
    finally:
        for sim in sims:
            sim.stop()
    for name, (elapsed, outcome) in done.items():
        assert isinstance(outcome, Err), f"{name}: {outcome}"
        assert isinstance(outcome.error, IMDSTimeout), f"{name}: {outcome.error!r}"
        assert elapsed < BOUND, f"{name}: {elapsed:.1f} s"
    for name, (sim, _) in scenarios.items():
        if warm:
            assert sim.stats.puts == 1, name  # the warm-up's: the token was reused
            assert sim.stats.gets > 0, name
        else:
            assert sim.stats.puts == 1, name  # a trickled first PUT is not retried


def test_the_readme_s_fault_matrix_counts_are_the_matrix_s() -> None:
    """docs/security.md's fault-matrix row counts this table (the fast tier checks it)."""
    per_fault = len(TARGETS) * len(DRIVERS)
    survive = sum(isinstance(f.expect, Exact) for f in FAULTS) * per_fault
    fail = (len(FAULTS) * per_fault) - survive
    row = (
        f"| {len(FAULTS) * per_fault} ({len(FAULTS)} faults x {len(TARGETS)} targets x "
        f"{len(DRIVERS)} drivers) | {survive} | {fail} | **0** |"
    )
    assert row in " ".join((DOCS / "security.md").read_text(encoding="utf-8").split())
