"""The peers' virtual environments under ``bench/.peers/`` (created on demand, then reused).

Each peer gets its own venv (``python -m venv`` from the project's interpreter, then
``pip install``), so nothing mixes with the project's venv: ec2imds 0.0.3 shares this
project's distribution name and must never be installed there. A peer that fails to
install is returned with the reason, for an "n/a" row.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PEERS_DIR", "PEER_SPECS", "Peer", "PeerSpec", "prepare", "prepare_all"]

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
_MARKER = ".bench-installed.json"


@dataclass(frozen=True, slots=True)
class PeerSpec:
    key: str  #: directory name under .peers, and the tool's key in the harness
    label: str
    requirement: str  #: what pip installs
    dist: str  #: distribution name, for the installed version


@dataclass(frozen=True, slots=True)
class Peer:
    spec: PeerSpec
    python: Path | None
    version: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.python is not None and self.error is None


PEER_SPECS: tuple[PeerSpec, ...] = (
    PeerSpec("ec2imds-0.0.3", "ec2imds 0.0.3", "ec2imds==0.0.3", "ec2imds"),
    PeerSpec("ec2-metadata", "ec2-metadata", "ec2-metadata>=3,<4", "ec2-metadata"),
    PeerSpec("botocore", "botocore", "botocore", "botocore"),
)


def _tail(text: str, lines: int = 3) -> str:
    kept = [ln for ln in text.strip().splitlines() if ln.strip()][-lines:]
    return " | ".join(kept)[:400] or "(no output)"


def _run(cmd: list[str], timeout: float, cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd: never the repository, whose ec2imds.egg-info would pass for an installed
    # ec2imds on the sys.path of ``python -m pip`` and ``python -c``.
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd
    )


def prepare(
    spec: PeerSpec,
    base: Path = PEERS_DIR,
    *,
    timeout: float = 600.0,
    log: Callable[[str], None] = print,
) -> Peer:
    """The peer's venv, reused when its marker says the same requirement was installed."""
    venv = base / spec.key
    python = venv / "bin" / "python"
    marker = venv / _MARKER
    try:
        saved = json.loads(marker.read_text())
        if saved.get("requirement") == spec.requirement and python.exists():
            return Peer(spec, python, str(saved.get("version")))
    except (OSError, ValueError):
        pass
    log(f"preparing {spec.label}: venv {venv}, pip install {spec.requirement!r}")
    started = time.monotonic()
    try:
        base.mkdir(parents=True, exist_ok=True)
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-q",
                spec.requirement,
            ],
        ]
        for cmd in steps:
            left = timeout - (time.monotonic() - started)
            done = _run(cmd, max(1.0, left), base)
            if done.returncode != 0:
                return Peer(spec, None, None, f"{cmd[2]} failed: {_tail(done.stderr)}")
        probe = f"import importlib.metadata as m, sys; sys.stdout.write(m.version({spec.dist!r}))"
        done = _run([str(python), "-I", "-c", probe], 60.0, base)
        if done.returncode != 0:
            return Peer(spec, None, None, f"installed, but no version: {_tail(done.stderr)}")
        version = done.stdout.strip()
        marker.write_text(json.dumps({"requirement": spec.requirement, "version": version}))
        log(f"  {spec.label} {version} ready in {time.monotonic() - started:.0f} s")
        return Peer(spec, python, version)
    except subprocess.TimeoutExpired:
        return Peer(spec, None, None, f"install timed out after {timeout:.0f} s")
    except OSError as exc:
        return Peer(spec, None, None, f"install failed: {exc}")


def prepare_all(base: Path = PEERS_DIR, *, log: Callable[[str], None] = print) -> dict[str, Peer]:
    return {spec.key: prepare(spec, base, log=log) for spec in PEER_SPECS}
