"""``python -m bench.hotspots``: where ec2imds's time goes (for a missed target).

Against the embedded simulator on 127.0.0.1 (in this process), each in a child process
of the project's interpreter:

1. ``python -X importtime -c "import ec2imds.cli"``: the CLI's import cost;
2. the CLI's single-key path with a cached token: ``-X importtime`` (every module the run
   imports) and ``cProfile`` of the whole run;
3. the library full crawl (``IMDS.all()``, warm client, caches cleared): ``cProfile`` of
   every thread (the crawl runs on a thread pool), merged;
4. the same crawl with ``concurrency=1`` and no simulator latency: no waiting, no GIL
   contention, so own time (tottime) is where the client's CPU per request goes.
"""

from __future__ import annotations

import argparse
import io
import pstats
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path

from bench.procs import clean_env
from ec2imds.simulator import IMDSSimulator

__all__ = ["main"]

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")

_CRAWL = textwrap.dedent(
    """
    import cProfile, sys, threading, time
    from ec2imds.client import IMDS

    port, runs, out, conc = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    profiles = []

    def per_thread(frame, event, arg):
        # First event in a new thread: give the thread its own profiler.
        p = cProfile.Profile()
        profiles.append(p)
        p.enable()

    imds = IMDS(endpoints=[("127.0.0.1", port)], token_ttl=21600, concurrency=conc)
    imds.all()  # warm-up: imports, token, connections
    main = cProfile.Profile()
    profiles.append(main)
    threading.setprofile(per_thread)
    imds.close()  # the pool's threads must start under threading.setprofile
    imds = IMDS(endpoints=[("127.0.0.1", port)], token_ttl=21600, concurrency=conc)
    imds.all()
    t0 = time.perf_counter()
    main.enable()
    for _ in range(runs):
        imds.clear_cache()
        imds.all()
    main.disable()
    wall = time.perf_counter() - t0
    threading.setprofile(None)
    for p in profiles:
        p.disable()
    imds.close()
    import pstats
    stats = pstats.Stats(*profiles)
    stats.dump_stats(out)
    print(f"{wall / runs * 1000:.1f}")
    """
)


def _importtime(stderr: str, top: int) -> list[str]:
    rows = []
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)), m.group(4)))
    total = sum(cum for _, cum, depth, _ in rows if depth == 1)
    out = [f"total import time (top-level cumulative): {total / 1000:.1f} ms, {len(rows)} modules"]
    out.append("top by cumulative (µs, module, nesting):")
    for self_us, cum, depth, name in sorted(rows, key=lambda r: -r[1])[:top]:
        out.append(f"  {cum:>8} cum {self_us:>7} self  {'.' * (depth - 1)}{name}")
    return out


def _pstats(path: Path, sort: str, top: int) -> list[str]:
    buf = io.StringIO()
    stats = pstats.Stats(str(path), stream=buf)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    text = buf.getvalue()
    start = text.find("   ncalls")
    return [ln.rstrip() for ln in text[start if start >= 0 else 0 :].splitlines() if ln.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hotspots", description=__doc__)
    p.add_argument("--latency", type=float, default=1.0, help="simulator latency, ms")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--runs", type=int, default=20, help="profiled full crawls")
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    py = sys.executable
    cli = str(Path(py).parent / "ec2imds")
    lines: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="ec2imds-profile-") as tmpdir,
        IMDSSimulator(latency=a.latency / 1000) as sim,
    ):
        tmp = Path(tmpdir)
        home = tmp / "home"
        home.mkdir()
        env = clean_env(home)
        tokens = tmp / "tokens"
        one = [cli, f"--imds=127.0.0.1:{sim.port}", "-t", str(tokens), "meta-data/instance-id"]

        def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(
                cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=120
            )
            if done.returncode != 0:
                raise SystemExit(f"{cmd[:4]} failed: {done.stderr[-500:]}")
            return done

        lines += [f"# ec2imds profile (simulator latency {a.latency:g} ms)", ""]
        done = run([py, "-X", "importtime", "-c", "import ec2imds.cli"])
        lines += ["## import ec2imds.cli", "", "```", *_importtime(done.stderr, a.top), "```", ""]

        run(one)  # the token is now cached in `tokens`
        imp = run([py, "-X", "importtime", "-m", "ec2imds", *one[1:]])
        lines += [
            "## CLI, one key, cached token: imports of the whole run",
            "",
            "```",
            *_importtime(imp.stderr, a.top),
            "```",
            "",
        ]
        prof = tmp / "cli.prof"
        run([py, "-m", "cProfile", "-o", str(prof), "-m", "ec2imds", *one[1:]])
        lines += [
            "## CLI, one key, cached token: cProfile (cumulative)",
            "",
            "```",
            *_pstats(prof, "cumulative", a.top),
            "```",
            "",
        ]

        crawl = tmp / "crawl.prof"
        script = tmp / "crawl.py"
        script.write_text(_CRAWL)
        done = run([py, str(script), str(sim.port), str(a.runs), str(crawl), "8"])
        lines += [
            f"## Library full crawl, warm `IMDS.all()` ×{a.runs}, every thread "
            f"({done.stdout.strip()} ms per crawl under the profiler)",
            "",
            "By own time (tottime):",
            "",
            "```",
            *_pstats(crawl, "tottime", a.top),
            "```",
            "",
            "By cumulative time (summed over threads: waits overlap):",
            "",
            "```",
            *_pstats(crawl, "cumulative", a.top),
            "```",
            "",
        ]
        sim.faults.latency = 0.0
        seq = tmp / "crawl1.prof"
        done = run([py, str(script), str(sim.port), str(a.runs), str(seq), "1"])
        lines += [
            f"## Library full crawl, `concurrency=1`, 0 ms latency, ×{a.runs} "
            f"({done.stdout.strip()} ms per crawl under the profiler): CPU by function",
            "",
            "```",
            *_pstats(seq, "tottime", a.top),
            "```",
        ]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out is not None:
        a.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
