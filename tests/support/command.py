"""The command line as a subprocess (:func:`run`, :func:`cli_env`, :func:`error_line`), with
the real-IMDS guard of ``tests/_guard`` loaded in every subprocess."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ec2imds.simulator import IMDSSimulator

# The real-IMDS guard (``conftest.py`` imports it for the test process; every subprocess
# loads it from GUARD_DIR): what it writes on refusal, and what it raises.
from tests._guard.sitecustomize import GUARD_MESSAGE as GUARD_MESSAGE
from tests._guard.sitecustomize import RealIMDSAccess as RealIMDSAccess
from tests.support.paths import GUARD_DIR, TESTS

HELP_LINE = "Run 'ec2imds -h' for help."


#: User data with NUL bytes, invalid UTF-8 and a real gzip member in the middle.
USER_DATA = (
    b"\x00\x01\xff\xfe#!/bin/sh\r\n"
    + gzip.compress(b"#cloud-config\npackages: [jq]\n" * 40, mtime=0)
    + b"\x00\x00tail\n\x00"
)
INSTANCE_ID = "i-0123456789abcdef0"


#: An AWS config file that does not exist: what the tests read unless they set one.
NO_CONFIG_FILE = str(TESTS / "no-such-aws-config")


def cli_env(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of every subprocess: ``base`` (default: ours) with the guard first
    on PYTHONPATH and without AWS_* or proxy variables; ``extra`` is applied last, so a
    test can set one on purpose."""
    env = {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if not name.upper().startswith("AWS_") and not name.lower().endswith("_proxy")
    }
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(GUARD_DIR), os.environ.get("PYTHONPATH", "")) if p
    )
    env["AWS_CONFIG_FILE"] = NO_CONFIG_FILE  # never the real ~/.aws/config
    env["AWS_SHARED_CREDENTIALS_FILE"] = NO_CONFIG_FILE  # nor ~/.aws/credentials
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()

    def json(self) -> Any:
        return json.loads(self.out)


PYTHON_M = [sys.executable, "-m", "ec2imds"]


def run(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    stdout: int | None = None,
    command: Sequence[str] = PYTHON_M,
) -> Result:
    """Run the command line; ``stdout`` may be a file descriptor (e.g. a pty)."""
    proc = subprocess.run(
        [*command, *args],
        input=stdin if stdin is not None else b"",
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(env),
        timeout=30,  # a generous bound: the command must never hang
        check=False,
    )
    return Result(proc.returncode, proc.stdout or b"", proc.stderr.decode())


def on(sim: IMDSSimulator, token_dir: Path) -> list[str]:
    """The options pointing the command at ``sim`` with its own token directory."""
    return [f"--imds=127.0.0.1:{sim.port}", "-t", str(token_dir)]


def error_line(result: Result, code: int) -> str:
    """Assert a clean failure (the exit code, no traceback, one line of message, plus the
    help line for usage errors) and return the message line."""
    assert result.code == code, (result.code, result.err)
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    if code == 2:
        assert len(lines) == 2, result.err
        assert lines[1] == HELP_LINE
        assert result.out == b""
    else:
        assert len(lines) == 1, result.err
    assert lines[0].startswith("ec2imds: ")
    return lines[0]
