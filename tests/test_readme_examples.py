"""Every Python example in the README and in ``docs/`` type-checks under ``mypy --strict``
and runs.

The blocks are found automatically (each ```` ```python ```` fence of ``README.md`` and
``docs/*.md``), so an example added later, or a page added later, is checked too.  Each
runs in its own subprocess, in a fresh directory, with the real-IMDS guard loaded
(``tests/_guard``) and ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` pointing at a simulator: an
example written for an instance (``IMDS()``) reads the simulator.  The simulator serves the
default instance plus a spot interruption notice and a rebalance recommendation, so the
watching examples see an event and stop.  A block that defines ``test_`` functions is run
by pytest.  Warnings are errors.  A block that can only run on EC2 would say so in an HTML
comment just above it, ``<!-- example: typecheck-only (the reason) -->``; none needs to
today.  A test's id is the block's place, ``docs/library.md:12`` (the line of its opening
fence).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from ec2imds.simulator import IMDSSimulator
from tests.support.typecheck import mypy

ROOT = Path(__file__).resolve().parent.parent
#: The pages whose examples are checked: the front page and the manual.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GUARD_DIR = Path(__file__).resolve().parent / "_guard"
TYPECHECK_ONLY = "<!-- example: typecheck-only"


class Block(NamedTuple):
    """One Python block: its page (relative to the repository), the line of its opening
    fence, its source, and whether it runs (or only type-checks)."""

    page: str
    line: int
    source: str
    runnable: bool

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def module(self) -> str:
        """A module name for mypy, unique across pages: ``docs_library_md_line_12``."""
        return re.sub(r"\W", "_", self.page) + f"_line_{self.line}"


def blocks(page: Path) -> list[Block]:
    """Each Python block of ``page``."""
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(ROOT).as_posix()
    found = []
    for match in re.finditer(r"^```python\n(.*?)^```$", text, re.S | re.M):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        found.append(Block(name, line, match.group(1), not before.startswith(TYPECHECK_ONLY)))
    return found


BLOCKS = [block for page in PAGES for block in blocks(page)]


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


def test_the_pages_have_python_examples() -> None:
    pages = {block.page for block in BLOCKS}
    assert {"README.md", "docs/library.md", "docs/simulator.md"} <= pages
    assert len(BLOCKS) >= 12
    assert all(block.source.strip() for block in BLOCKS)
    assert len({block.module for block in BLOCKS}) == len(BLOCKS)


def test_every_example_type_checks_under_mypy_strict(tmp_path: Path) -> None:
    results = mypy({block.module: block.source for block in BLOCKS}, tmp_path)
    problems = {name: lines for name, lines in results.items() if lines}
    assert problems == {}


@pytest.mark.parametrize(
    "block",
    [block for block in BLOCKS if block.runnable],
    ids=[block.where for block in BLOCKS if block.runnable],
)
def test_every_example_runs_against_the_simulator(
    sim: IMDSSimulator, tmp_path: Path, block: Block
) -> None:
    source = block.source
    script = tmp_path / f"{block.module}.py"
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
    assert done.returncode == 0, f"{block.where}\n{done.stdout}\n{done.stderr}"
    if "pytest" in command:
        assert re.search(r"\b[1-9]\d* passed", done.stdout), done.stdout
