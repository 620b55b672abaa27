"""``python -m bench``: ec2imds against its peers on the embedded IMDS simulator.

Everything talks to one :class:`~ec2imds.simulator.IMDSSimulator` on 127.0.0.1 in this
process; every tool runs in a child process (a warm runner, or one process per run), each
peer with its own venv's interpreter. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import machine
from bench.floor import Floor, compute_floor
from bench.procs import Runner, RunnerError, Spawner, clean_env
from bench.report import evaluate_targets, render
from bench.results import Row, Sample
from bench.schedule import interleave
from bench.venvs import OURS_KEY, PEER_SPECS, PEERS_DIR, Peer, prepare, prepare_ours
from ec2imds._compat import SLOTS
from ec2imds.simulator import IMDSSimulator

__all__ = ["main"]

OURS = "ec2imds"
OLD = "ec2imds 0.0.3"
EC2MD = "ec2-metadata"
BOTO = "botocore"
BASE = "baseline"
#: Tool label -> peer key in bench/.peers (ours runs in the project's venv).
PEER_KEYS = {OLD: "ec2imds-0.0.3", EC2MD: "ec2-metadata", BOTO: "botocore"}
RUNNERS = {
    OURS: "run_ec2imds.py",
    OLD: "run_ec2imds003.py",
    EC2MD: "run_ec2_metadata.py",
    BOTO: "run_botocore.py",
    BASE: "run_baseline.py",
}
PEERS_SCRIPTS = Path(__file__).resolve().parent / "peers"
REPO = PEERS_SCRIPTS.parent.parent
ONE_KEY = "meta-data/instance-id"

Job = Callable[[], Sample]


class CheckError(RuntimeError):
    """A run finished but did not produce what it should have."""


@dataclass(**SLOTS)
class Config:
    latencies: list[float]
    reps: int = 11  #: repetitions of the short scenarios
    loop_reps: int = 5  #: repetitions of the one-key loop
    calls_low: int = 1000  #: one-key calls per repetition at latency <= 1 ms
    calls_high: int = 200  #: ... above 1 ms (time bound; results are per call)
    many: int = 100  #: consecutive CLI invocations in scenario 5
    warmup: int = 1
    max_seconds: float = 900.0
    out: Path | None = None
    skip_peers: bool = False
    live_code: bool = False  #: measure ec2imds/ in place, even if it changes mid-run
    keep_alive: bool = False  #: the simulator keeps connections open (EC2 closes them)
    notes: list[str] = field(default_factory=list)


def _parse_latencies(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--latency {text!r}: comma-separated ms") from None
    if not values or any(v < 0 or v > 1000 for v in values):
        raise argparse.ArgumentTypeError(f"--latency {text!r}: values in 0..1000 ms")
    return values


def _config(argv: Sequence[str] | None) -> Config:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="few repetitions: a smoke run")
    p.add_argument(
        "--latency", type=_parse_latencies, default=[0.0, 1.0, 5.0], help="ms, e.g. 0,1,5"
    )
    p.add_argument("--out", type=Path, help="also write the markdown report here")
    p.add_argument("--reps", type=int, help="repetitions of the short scenarios")
    p.add_argument("--calls", type=int, help="one-key calls per repetition (all latencies)")
    p.add_argument("--many", type=int, help="CLI invocations in scenario 5")
    p.add_argument("--max-minutes", type=float, default=15.0, help="stop measuring after")
    p.add_argument("--skip-peers", action="store_true", help="ec2imds only (no peer venvs)")
    p.add_argument(
        "--live-code",
        action="store_true",
        help="run ec2imds from the project venv's editable install, as the tree changes "
        "(default: a regular install of the tree as it is at the start)",
    )
    p.add_argument(
        "--keep-alive",
        action="store_true",
        help="the simulator keeps connections open between requests (for comparison: EC2 "
        "closes them after every answer, the default)",
    )
    a = p.parse_args(argv)
    cfg = Config(
        latencies=a.latency,
        out=a.out,
        skip_peers=a.skip_peers,
        live_code=a.live_code,
        keep_alive=a.keep_alive,
    )
    if a.quick:
        cfg.reps, cfg.loop_reps, cfg.calls_low, cfg.calls_high, cfg.many = 2, 1, 100, 50, 10
    if a.reps is not None:
        cfg.reps = max(1, min(a.reps, 100))
    if a.calls is not None:
        cfg.calls_low = cfg.calls_high = max(1, min(a.calls, 100_000))
    if a.many is not None:
        cfg.many = max(1, min(a.many, 1000))
    cfg.max_seconds = max(10.0, a.max_minutes * 60)
    return cfg


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Harness:
    def __init__(self, cfg: Config, sim: IMDSSimulator, tmp: Path, peers: dict[str, Peer]) -> None:
        self.cfg = cfg
        self.sim = sim
        self.tmp = tmp
        self.peers = peers
        self.rows: list[Row] = []
        self.started = time.monotonic()
        self.runners: dict[str, Runner] = {}
        self.unavailable: dict[str, str] = {}  # tool -> why it cannot run at all
        self.home = tmp / "home"
        self.home.mkdir()
        self.cwd = tmp / "cwd"  # neutral: never the repository (python -m would import ours)
        self.cwd.mkdir()
        tree = sim.snapshot()
        meta = tree["meta-data"]
        assert isinstance(meta, dict)
        ident = meta["instance-id"]
        if not isinstance(ident, (str, bytes)):
            raise TypeError("the simulator's instance-id is not a leaf")
        self.expected_id = ident if isinstance(ident, str) else ident.decode()
        self.floor: Floor = compute_floor(tree)
        self.port = sim.port
        self.counter = itertools.count()
        self.spawner = Spawner(tmp)
        self.code: Path | None = None  #: a frozen copy of ec2imds/ (see freeze_code)
        self.ours_python = Path(sys.executable)  #: the interpreter that has ec2imds
        self._budget_noted: set[int] = set()

    # -- environment and processes ---------------------------------------------------

    def env(self, tool: str) -> dict[str, str]:
        extra = {"BENCH_IMDS_URL": self.sim.url}
        if tool == BOTO:
            extra["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = self.sim.url
        if tool == OURS and self.code is not None:
            # The frozen copy wins over the editable install (PathFinder comes first).
            extra["PYTHONPATH"] = str(self.code)
        return clean_env(self.home, extra)

    def freeze_code(self) -> Path:
        """Copy ``ec2imds/`` as it is now: every ec2imds row measures this same code."""
        dest = self.tmp / "code"
        shutil.copytree(
            REPO / "ec2imds", dest / "ec2imds", ignore=shutil.ignore_patterns("__pycache__")
        )
        self.code = dest
        return dest

    def python(self, tool: str) -> Path | None:
        if tool == OURS:
            return self.ours_python
        if tool == BASE:
            return Path(sys.executable)
        peer = self.peers.get(PEER_KEYS[tool])
        return peer.python if peer is not None and peer.ok else None

    def why_not(self, tool: str) -> str | None:
        if tool in self.unavailable:
            return self.unavailable[tool]
        if tool in (OURS, BASE):
            return None
        peer = self.peers.get(PEER_KEYS[tool])
        if peer is None:
            return "peer skipped (--skip-peers)"
        return None if peer.ok else f"peer not installed: {peer.error}"

    def start_runners(self) -> None:
        for tool, script in RUNNERS.items():
            if self.why_not(tool) is not None:
                continue
            py = self.python(tool)
            assert py is not None
            cmd = [str(py), str(PEERS_SCRIPTS / script), "--port", str(self.port)]
            try:
                runner = Runner(
                    tool,
                    cmd,
                    env=self.env(tool),
                    cwd=self.cwd,
                    stderr_path=self.tmp / f"runner-{script}.stderr",
                )
            except (RunnerError, OSError) as exc:
                self.unavailable[tool] = f"runner failed to start: {exc}"
                _log(self.unavailable[tool])
                continue
            self.runners[tool] = runner
            _log(f"runner {tool} {runner.hello.get('version')} ready")

    def close(self) -> None:
        for runner in self.runners.values():
            runner.close()
        self.runners.clear()
        self.spawner.close()

    def over_budget(self) -> bool:
        return time.monotonic() - self.started > self.cfg.max_seconds

    # -- jobs ------------------------------------------------------------------------

    def _counters(self) -> tuple[int, int, int]:
        st = self.sim.stats
        return st.total, st.puts, st.connections

    def runner_job(self, row: Row, tool: str, task: str, calls: int) -> Job | None:
        reason = self.why_not(tool)
        runner = self.runners.get(tool)
        if reason is None and runner is None:
            reason = "runner not started"
        if reason is None and runner is not None and task not in runner.tasks:
            reason = f"no task {task!r}"
        if reason is None and runner is not None and runner.tasks[task] is not None:
            reason = str(runner.tasks[task])
        if reason is not None or runner is None:
            row.na = reason
            return None

        def job() -> Sample:
            self.sim.stats.reset()
            reply = runner.call(task, calls, timeout=60.0 + calls * 0.2)
            total, puts, conns = self._counters()
            if not reply.get("ok"):
                raise CheckError(str(reply.get("error")))
            check = reply.get("check")
            if check is not None and check != self.expected_id:
                raise CheckError(f"read {check!r}, expected {self.expected_id!r}")
            info = reply.get("info") or {}
            for key, value in info.items():
                row.notes.append(f"{key}: {value}")
            k = float(calls)
            cpu = reply.get("cpu")
            rss = reply.get("rss_kib")
            return Sample(
                float(reply["seconds"]) / k,
                total / k,
                puts / k,
                conns / k,
                int(rss) if rss is not None else None,
                float(cpu) / k if cpu is not None else None,
            )

        return job

    def cli_cmd(self, tool: str, args: list[str]) -> list[str] | None:
        py = self.python(tool)
        imds = f"--imds=127.0.0.1:{self.port}"
        if tool == OURS:
            script = self.ours_python.parent / "ec2imds"
            base = [str(script)] if script.exists() else [str(self.ours_python), "-m", "ec2imds"]
            return [*base, imds, *args]
        if tool == OLD and py is not None:
            return [str(py), "-m", "ec2imds", imds, *args]
        if tool == EC2MD and py is not None:
            return [str(py), str(PEERS_SCRIPTS / "ec2_metadata_cli.py"), *args]
        return None

    def proc_job(self, row: Row, tool: str, make_args: Callable[[], list[str]]) -> Job | None:
        reason = self.why_not(tool)
        if reason is not None:
            row.na = reason
            return None
        env = self.env(tool)

        def job() -> Sample:
            cmd = self.cli_cmd(tool, make_args())
            if cmd is None:
                raise CheckError("no command")
            self.sim.stats.reset()
            res = self.spawner.run(cmd, env=env, cwd=self.cwd, timeout=60.0)
            total, puts, conns = self._counters()
            if res.timed_out:
                raise CheckError("timed out (killed after 60 s)")
            if res.returncode != 0:
                tail = res.stderr.decode(errors="replace").strip()[-300:]
                raise CheckError(f"exit {res.returncode}: {tail}")
            if self.expected_id.encode() not in res.stdout:
                raise CheckError(f"output lacks the instance id: {res.stdout[:120]!r}")
            return Sample(res.seconds, total, puts, conns, res.maxrss_kib, res.cpu)

        return job

    def fresh_dir(self, prefix: str) -> str:
        """A token directory path that does not exist yet."""
        return str(self.tmp / "tokens" / f"{prefix}-{next(self.counter)}")

    def _fresh_args(self, prefix: str) -> Callable[[], list[str]]:
        def args() -> list[str]:
            return ["-t", self.fresh_dir(prefix), ONE_KEY]

        return args

    # -- running ---------------------------------------------------------------------

    def run(self, jobs: list[tuple[Row, Job | None]], reps: int, warmup: int) -> None:
        live = [(row, job) for row, job in jobs if job is not None]
        for rep, (row, job) in interleave(live, reps, warmup=warmup):
            if row.na is not None:
                continue
            if self.over_budget():
                if id(row) not in self._budget_noted:
                    self._budget_noted.add(id(row))
                    row.notes.append("stopped early: time budget (--max-minutes) spent")
                continue
            try:
                sample = job()
            except (CheckError, RunnerError) as exc:
                msg = str(exc)[:300]
                if rep < 0:
                    row.na = f"warm-up failed: {msg}"
                else:
                    row.errors.append(msg)
                _log(f"{row.tool} {row.what}: {msg}")
                continue
            if rep >= 0:
                row.samples.append(sample)

    def row(
        self,
        section: str,
        group: str,
        tool: str,
        what: str,
        lat: float,
        *,
        task: str,
        ref: bool = False,
        calls: int = 1,
    ) -> Row:
        r = Row(section, group, tool, what, lat, task=task, ref=ref, calls=calls)
        self.rows.append(r)
        return r

    def library(self, lat: float) -> None:
        sections: list[tuple[str, str, list[tuple[str, str, str]]]] = [
            (
                "S1",
                "full",
                [
                    (OURS, "full_all", "`IMDS.all()`: crawl + validation"),
                    (OURS, "full_raw", "`IMDS.raw_tree()`: crawl only"),
                    (OURS, "full_all_async", "`AsyncIMDS.all()`: crawl + validation"),
                    (OLD, "full_all", "`IMDSWrapper.all()`"),
                    (EC2MD, "full_all", "every property, NIC, public key, tag"),
                    (BOTO, "full_all", "IAM credentials + region (all its fetchers read)"),
                    (BASE, "full_8", "bare `http.client` crawler, 8 threads"),
                    (BASE, "full_seq", "bare `http.client` crawler, sequential"),
                    (BASE, "sock_8", "bare sockets, 8 threads (the CPU floor)"),
                ],
            ),
            (
                "S1c",
                "cold",
                [
                    (OURS, "full_cold", "new `IMDS` + `all()` + `close()`"),
                    (OURS, "full_cold_async", "new `AsyncIMDS` + `all()` + `aclose()`"),
                    (OLD, "full_cold", "new `IMDSWrapper` + `all()`"),
                    (EC2MD, "full_cold", "new `EC2Metadata`, every attribute"),
                    (BOTO, "full_cold", "new fetchers: credentials + region"),
                    (BASE, "sock_8_cold", "bare sockets: token PUT + crawl, 8 threads (floor)"),
                ],
            ),
            (
                "S1s",
                "common",
                [
                    (OURS, "common", "`IMDS.values(8 paths)`: concurrent"),
                    (OURS, "common_view", "typed view, 8 attributes in turn"),
                    (OLD, "common", "8 directives in turn"),
                    (EC2MD, "common", "8 attributes in turn"),
                    (BOTO, "common", "—"),
                ],
            ),
        ]
        for section, group, specs in sections:
            jobs = []
            for i, (tool, task, what) in enumerate(specs):
                r = self.row(section, group, tool, what, lat, task=task, ref=i == 0)
                jobs.append((r, self.runner_job(r, tool, task, 1)))
            _log(f"{SECTION_NAMES[section]} at {lat:g} ms")
            self.run(jobs, self.cfg.reps, self.cfg.warmup)

        calls = self.cfg.calls_low if lat <= 1.0 else self.cfg.calls_high
        specs = [
            (OURS, "one_key", "`driver.get()` (bytes, no value cache)"),
            (OURS, "one_key_typed", "`clear_cache()` + `meta_data.instance_id`"),
            (OLD, "one_key", "the instance-id directive"),
            (EC2MD, "one_key", "`instance_id` (cached value dropped each call)"),
            (BOTO, "one_key", "private `_get_request`, token reused by the runner"),
        ]
        jobs = []
        for i, (tool, task, what) in enumerate(specs):
            r = self.row("S2", "one", tool, what, lat, task=task, ref=i == 0, calls=calls)
            jobs.append((r, self.runner_job(r, tool, task, calls)))
        _log(f"one key ×{calls} at {lat:g} ms")
        # Warm-up: the same loop, shorter.
        warm = [(r, self.runner_job(r, r.tool, r.task, min(calls, 50))) for r, _ in jobs]
        self.run([(r, j) for r, j in warm if r.na is None], 0, self.cfg.warmup)
        self.run(jobs, self.cfg.loop_reps, 0)

    def whole_process(self, lat: float) -> None:
        jobs: list[tuple[Row, Job | None]] = []
        for tool in (OURS, OLD, EC2MD, BOTO):
            r = self.row("S3", "cli_all", tool, "-a, warm token dir", lat, task="cli_all")
            r.ref = tool == OURS
            if tool == EC2MD:
                r.na = (
                    "no dump-everything command (`imds json` takes names; "
                    "network interfaces and keys do not serialise)"
                )
            elif tool == BOTO:
                r.na = "no command line (the AWS CLI is a separate project)"
            token_dir = str(self.tmp / "tokens" / f"all-{tool.replace(' ', '_')}")
            jobs.append(
                (r, None if r.na else self.proc_job(r, tool, _fixed("-a", "-t", token_dir)))
            )
        _log(f"whole process -a at {lat:g} ms")
        self.run(jobs, self.cfg.reps, self.cfg.warmup)

        jobs = []
        for variant, group, what in (
            ("cached", "cli_one_cached", "one key, cached token"),
            ("fresh", "cli_one_fresh", "one key, no token (new -t dir)"),
        ):
            for tool in (OURS, OLD, EC2MD, BOTO):
                r = self.row("S4", group, tool, what, lat, task=f"cli_one_{variant}")
                r.ref = tool == OURS
                if tool == BOTO:
                    r.na = "no command line"
                    jobs.append((r, None))
                    continue
                slug = tool.replace(" ", "_")
                args: Callable[[], list[str]]
                if tool == EC2MD:
                    r.notes.append(
                        "`imds get instance-id` (shim sets the URLs); no token persistence"
                    )
                    args = _fixed("get", "instance-id")
                elif variant == "cached":
                    args = _fixed("-t", str(self.tmp / "tokens" / f"one-{slug}"), ONE_KEY)
                else:
                    args = self._fresh_args(f"fresh-{slug}")
                jobs.append((r, self.proc_job(r, tool, args)))
        _log(f"whole process, one key at {lat:g} ms")
        self.run(jobs, self.cfg.reps, self.cfg.warmup)

    def many(self, lat: float) -> None:
        jobs: list[tuple[Row, Job | None]] = []
        for tool in (OURS, OLD, EC2MD):
            r = self.row("S5", "cli_many", tool, "one key", lat, task="cli_many")
            slug = tool.replace(" ", "_")
            args: Callable[[], list[str]]
            if tool == EC2MD:
                r.notes.append("no token persistence: one PUT per invocation")
                args = _fixed("get", "instance-id")
            else:
                args = _fixed("-t", self.fresh_dir(f"many-{slug}"), ONE_KEY)
            jobs.append((r, self.proc_job(r, tool, args)))
        _log(f"{self.cfg.many} consecutive CLI invocations per tool at {lat:g} ms")
        self.run(jobs, self.cfg.many, 0)


def _fixed(*args: str) -> Callable[[], list[str]]:
    def fixed() -> list[str]:
        return list(args)

    return fixed


SECTION_NAMES = {"S1": "full crawl, warm", "S1c": "full crawl, cold", "S1s": "common subset"}


def _peer_lines(h: Harness, peers: dict[str, Peer]) -> list[str]:
    out = []
    for tool in (OURS, OLD, EC2MD, BOTO, BASE):
        runner = h.runners.get(tool)
        if runner is not None:
            hello = runner.hello
            notes = "; ".join(
                str(n) for n in hello.get("notes", []) if not str(n).startswith("pid")
            )
            where = str(h.python(tool))
            out.append(
                f"* **{tool} {hello.get('version')}** ({where}){': ' + notes if notes else ''}"
            )
        else:
            out.append(f"* **{tool}**: n/a: {h.why_not(tool) or 'not started'}")
    return out


def _method_notes(spawner_kib: int, keep_alive: bool) -> list[str]:
    server = (
        "**Server mode: keep-alive** (`--keep-alive`): the simulator keeps connections "
        "open between requests, which EC2 does not; a warm client reuses them (0 new)."
        if keep_alive
        else "**Server mode: EC2-like** (the simulator's default): `Connection: close` and "
        "the socket closed after every answer, as EC2 does, so every request is a new TCP "
        "connection and a client's CPU per request is what a crawl costs."
    )
    return [
        server,
        "Client CPU: the tool's process time (user + system, every thread), the median of "
        "the same repetitions; library rows count only the timed calls (`time.process_time` "
        "in the runner), whole-process rows the child's `ru_utime + ru_stime` (`wait4`). "
        "The simulator's CPU is the harness's, never a tool's.",
        "Times are wall-clock medians over interleaved repetitions (A B C A B C …) after "
        "a warm-up round; the spread is min – max. Library rows time only the calls, inside "
        "a warm runner process per tool; whole-process rows time fork → exit.",
        "The simulator (ThreadingHTTPServer, one thread per connection) runs in the "
        "harness process; every tool runs in its own child process, each peer with its "
        "own venv's interpreter. 2 cores are shared by the simulator and the client: "
        "concurrent clients pay for the simulator's threads too.",
        "Requests, PUTs and new TCP connections are the simulator's counters, reset "
        "before each run.",
        "Peak RSS: `ru_maxrss` from `os.wait4` on each child, forked by a small spawner "
        f"(`bench/spawner.py`, {spawner_kib / 1024:.1f} MiB peak) rather than by the "
        "harness, whose own high-water mark Linux would carry over into a child it "
        "forks; peaks below the spawner's size cannot be seen (none of these are).",
        "The simulator serves a leaf asked for with a trailing slash "
        "(`placement/availability-zone/`, `user-data/`) as AWS does (boto/boto#1900): "
        "botocore's region fetcher and ec2-metadata's default `userdata_url` ask that way.",
        "Tools do not fetch the same amount: 0.0.3's `all()` fetches its directives "
        "(some are 404s: it looks for `meta-data/instance-identity/document`), "
        "ec2-metadata its attributes, botocore credentials and region, ec2imds every path "
        "of the tree; the req/run column says how many requests each made.",
    ]


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the cleanup below


def main(argv: Sequence[str] | None = None) -> int:
    cfg = _config(argv)
    signal.signal(signal.SIGTERM, _terminate)
    describe = machine.describe()
    peers: dict[str, Peer] = {}
    if not cfg.skip_peers:
        for spec in PEER_SPECS:
            peers[spec.key] = prepare(spec, PEERS_DIR, log=_log)
            if not peers[spec.key].ok:
                _log(f"{spec.label}: n/a: {peers[spec.key].error}")
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="ec2imds-bench-") as tmpdir,
        IMDSSimulator(seed=0, keep_alive=cfg.keep_alive) as sim,
    ):
        h = Harness(cfg, sim, Path(tmpdir), peers)
        code_at_start = machine.code_version()
        if cfg.live_code:
            describe.append(
                f"* ec2imds measured: the working tree, live, through the project venv's "
                f"editable install (git {code_at_start})"
            )
        else:
            ours = prepare_ours(REPO, Path(tmpdir), log=_log)
            if ours.ok and ours.python is not None:
                h.ours_python = ours.python
                describe.append(
                    "* ec2imds measured: a regular (not editable) pip install of the working "
                    f"tree as it was at the start (git {code_at_start}), in "
                    f"`bench/.peers/{OURS_KEY}`"
                )
            else:
                h.freeze_code()
                describe.append(
                    f"* ec2imds measured: a copy of `ec2imds/` taken at the start (git "
                    f"{code_at_start}) on the project venv, whose editable install adds "
                    f"start-up time to every process (a regular install failed: {ours.error})"
                )
        try:
            h.start_runners()
            for lat in cfg.latencies:
                sim.faults.latency = lat / 1000.0
                h.library(lat)
                h.whole_process(lat)
            many_lat = 1.0 if 1.0 in cfg.latencies else cfg.latencies[0]
            sim.faults.latency = many_lat / 1000.0
            h.many(many_lat)
            peer_lines = _peer_lines(h, peers)
            spawner_kib = h.spawner.own_kib
        finally:
            h.close()
            sim.faults.latency = 0.0
        elapsed = time.monotonic() - started
        describe.append(f"* load average at end: {machine.load()}; measuring took {elapsed:.0f} s")
        code_at_end = machine.code_version()
        if code_at_end != code_at_start and cfg.live_code:
            describe.append(
                f"* **warning: ec2imds's code changed during the run** (git {code_at_end} at "
                "the end): rows measured before and after the change are not comparable"
            )
        elif code_at_end != code_at_start:
            describe.append(
                f"* the working tree changed during the run (git {code_at_end} at the end); "
                "every row measured the copy taken at the start"
            )
        describe.append(
            f"* repetitions: {cfg.reps} (scenarios 1, 3, 4; after {cfg.warmup} warm-up), "
            f"{cfg.loop_reps} × {cfg.calls_low} calls (one key, ≤1 ms; "
            f"{cfg.calls_high} above), {cfg.many} invocations (scenario 5)"
        )
        cfg.notes[:0] = _method_notes(spawner_kib, cfg.keep_alive)
        targets = evaluate_targets(h.rows, h.floor, latency_ms=1.0)
        report = render(
            machine=describe,
            rows=h.rows,
            floor=h.floor,
            latencies=cfg.latencies,
            targets=targets,
            peers=peer_lines,
            notes=cfg.notes,
        )
    sys.stdout.write(report)
    if cfg.out is not None:
        cfg.out.write_text(report, encoding="utf-8")
        _log(f"wrote {cfg.out}")
    return 0
