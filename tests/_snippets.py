"""Type-check code snippets with ``mypy --strict``, as a user's application would be checked.

The snippets are written to a directory and checked in one mypy run with the project's
``mypy.ini`` (the pydantic plugin, strict mode) from the repository root, so the
incremental cache of the test command's own mypy run is reused.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mypy(files: dict[str, str], where: Path) -> dict[str, list[str]]:
    """Check ``{module name: source}`` written under ``where``; mypy's lines per module
    (errors and ``reveal_type`` notes, without the file name): empty when it type-checks."""
    paths = []
    for name, source in files.items():
        path = where / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        paths.append(str(path))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "mypy.ini"),
            "--no-error-summary",
            "--show-error-codes",
            "--no-pretty",
            *paths,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr or done.stdout
    out: dict[str, list[str]] = {name: [] for name in files}
    for line in done.stdout.splitlines():
        found = re.match(r"(?:.*/)?(\w+)\.py:(\d+): (.*)", line)
        assert found is not None, line
        name, lineno, message = found.groups()
        if name in out:
            out[name].append(f"{lineno}: {message}")
    return out
