"""Instruction counts of ec2imds's hot paths, under callgrind: numbers that do not move
with the machine's load (wall and CPU times drift 20% on a shared 2-core machine).

    python -m bench.instructions            # each case, its median of 3 runs
    python -m bench.instructions --runs 5

Cases: one value from the command line (``--raw meta-data/instance-id``), everything
(``-a``), and a library crawl (``IMDS(...).raw_tree()`` in a fresh process). Each runs the
project venv's interpreter against a simulator in another process on 127.0.0.1, with a
warm token file (the command line's usual state) and warm bytecode caches. The count is
``valgrind --tool=callgrind``'s "Collected" total: user-space instructions of the whole
process, start-up and imports included, every thread. Threads (the crawl's workers) make
the counts vary a little from run to run: the spread is printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["CASES", "count", "main"]

ROOT = Path(__file__).resolve().parent.parent
CRAWL = (
    "import sys\n"
    "from ec2imds import IMDS\n"
    "with IMDS(endpoints=[('127.0.0.1', int(sys.argv[1]))]) as imds:\n"
    "    assert imds.raw_tree()\n"
)
#: name -> the arguments after the interpreter ({port} and {tokens} filled in).
CASES: dict[str, list[str]] = {
    "cli-value": [
        "-m",
        "ec2imds",
        "--imds",
        "127.0.0.1:{port}",
        "-t",
        "{tokens}",
        "--raw",
        "meta-data/instance-id",
    ],
    "cli-all": ["-m", "ec2imds", "--imds", "127.0.0.1:{port}", "-t", "{tokens}", "-a"],
    "library-crawl": ["-c", CRAWL, "{port}"],
}


def count(argv: list[str], env: dict[str, str]) -> int:
    """The instructions one run of ``argv`` executes, as callgrind counts them."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{argv}: exit {done.returncode}\n{done.stderr[-2000:]}")
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no callgrind total in:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def _simulator(python: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [python, "-m", "ec2imds.simulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        found = re.search(r"127\.0\.0\.1:(\d+)", line)
        if found:
            return proc, int(found.group(1))
    proc.kill()
    raise SystemExit("the simulator did not say where it listens")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("cases", nargs="*", default=list(CASES))
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    sim, port = _simulator(args.python)
    tokens = tempfile.mkdtemp(prefix="ec2imds-bench-tokens-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env.update(PYTHONHASHSEED="0", HOME=tokens)
    try:
        for name in args.cases:
            cmd = [args.python, *(a.format(port=port, tokens=tokens) for a in CASES[name])]
            subprocess.run(cmd, capture_output=True, env=env, cwd=tempfile.gettempdir(), check=True)
            counts = [count(cmd, env) for _ in range(args.runs)]
            median = statistics.median(counts)
            spread = (max(counts) - min(counts)) / median * 100
            print(
                f"{name:14} {median / 1e6:9.2f} M instructions (median of {len(counts)}; "
                f"spread {spread:.2f}%)",
                flush=True,
            )
    finally:
        sim.terminate()
        sim.wait(10)
        shutil.rmtree(tokens, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
