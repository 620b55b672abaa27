""":func:`mypy`: snippets type-checked as a user's application would be."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT


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
        # Kept alike whichever mypy runs (mypy 1 is the last for Python 3.9): mypy 1 says
        # "builtins.str" where mypy 2 says "str", and notes where a callee is defined in
        # its own words and place (mypy 2 on the caller's line), so that note is left out.
        found = re.match(r"(?:.*/)?(\w+)\.py(?::(\d+))?: (.*)", line)
        assert found is not None, line
        name, lineno, message = found.groups()
        if re.fullmatch(r'note: "\w+" defined (here|in "[\w.]+")', message):
            continue
        if name in out:
            out[name].append(f"{lineno}: {message.replace('builtins.', '')}")
    return out
