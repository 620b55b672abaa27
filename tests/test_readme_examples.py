"""Every Python example in the README type-checks under ``mypy --strict`` and runs.

The blocks are found automatically (each ```` ```python ```` fence), so an example added
later is checked too.  Each runs in its own subprocess, in a fresh directory, with the
real-IMDS guard loaded (``tests/_guard``) and ``AWS_EC2_METADATA_SERVICE_ENDPOINT``
pointing at a simulator: an example written for an instance (``IMDS()``) reads the
simulator.  The simulator serves the default instance plus a spot interruption notice and
a rebalance recommendation, so the watching examples see an event and stop.  A block that
defines ``test_`` functions is run by pytest.  Warnings are errors.  A block that can only
run on EC2 would say so in an HTML comment just above it,
``<!-- readme-test: typecheck-only (the reason) -->``; none needs to today.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds.simulator import IMDSSimulator
from tests.helpers import mypy

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUARD_DIR = Path(__file__).resolve().parent / "_guard"
TYPECHECK_ONLY = "<!-- readme-test: typecheck-only"


def blocks() -> list[tuple[int, str, bool]]:
    """``(line number, source, runnable)`` of each Python block of the README."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"^```python\n(.*?)^```$", text, re.S | re.M):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        found.append((line, match.group(1), not before.startswith(TYPECHECK_ONLY)))
    return found


BLOCKS = blocks()


def module_name(line: int) -> str:
    return f"readme_block_line_{line}"


@pytest.fixture(scope="module")
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator() as s:
        s.inject_spot_interruption()
        s.inject_rebalance()
        yield s


def env_for(sim: IMDSSimulator) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("AWS_") and not name.lower().endswith("_proxy")
    }
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(GUARD_DIR), os.environ.get("PYTHONPATH", "")) if p
    )
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = sim.url
    return env


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 4
    assert all(source.strip() for _, source, _ in BLOCKS)


def test_every_example_type_checks_under_mypy_strict(tmp_path: Path) -> None:
    results = mypy({module_name(line): source for line, source, _ in BLOCKS}, tmp_path)
    problems = {name: lines for name, lines in results.items() if lines}
    assert problems == {}


@pytest.mark.parametrize(
    ("line", "source"),
    [(line, source) for line, source, runnable in BLOCKS if runnable],
    ids=[f"README.md:{line}" for line, _, runnable in BLOCKS if runnable],
)
def test_every_example_runs_against_the_simulator(
    sim: IMDSSimulator, tmp_path: Path, line: int, source: str
) -> None:
    script = tmp_path / f"{module_name(line)}.py"
    script.write_text(source, encoding="utf-8")
    # Warnings are errors (a user would see them), as in this project's own tests.
    if re.search(r"^def test_", source, re.M):
        command = [sys.executable, "-W", "error", "-m", "pytest", "-q", "-W", "error"]
        command += ["-p", "no:cacheprovider", script.name]
    else:
        command = [sys.executable, "-W", "error", script.name]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env=env_for(sim),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"README.md:{line}\n{done.stdout}\n{done.stderr}"
    if "pytest" in command:
        assert re.search(r"\b[1-9]\d* passed", done.stdout), done.stdout
