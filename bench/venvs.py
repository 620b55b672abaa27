"""The peers' virtual environments under ``bench/.peers/`` (created on demand, then reused).

Each peer gets its own venv (``python -m venv`` from the project's interpreter, then
``pip install``), so nothing mixes with the project's venv: ec2imds 0.0.3 shares this
project's distribution name and must never be installed there. A peer that fails to
install is returned with the reason, for an "n/a" row.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ec2imds._compat import SLOTS

if sys.version_info >= (3, 11):
    import tomllib
else:  # tomllib is new in 3.11; tomli is the same parser (pytest depends on it there)
    import tomli as tomllib

__all__ = [
    "OURS_KEY",
    "PEERS_DIR",
    "PEER_SPECS",
    "Peer",
    "PeerSpec",
    "prepare",
    "prepare_all",
    "prepare_ours",
]

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
_MARKER = ".bench-installed.json"


@dataclass(frozen=True, **SLOTS)
class PeerSpec:
    key: str  #: directory name under .peers, and the tool's key in the harness
    label: str
    requirement: str  #: what pip installs (space-separated requirements)
    dist: str  #: distribution name, for the installed version


@dataclass(frozen=True, **SLOTS)
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
                *spec.requirement.split(),
            ],
        ]
        for cmd in steps:
            left = timeout - (time.monotonic() - started)
            done = _run(cmd, max(1.0, left), base)
            if done.returncode != 0:
                return Peer(spec, None, None, f"{cmd[2]} failed: {_tail(done.stderr)}")
        version = "(checkout installed per run)"
        if spec.key != OURS_KEY:
            probe = (
                f"import importlib.metadata as m, sys; sys.stdout.write(m.version({spec.dist!r}))"
            )
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


OURS_KEY = "ec2imds-installed"


def _copy_source(repo: Path, dest: Path) -> Path:
    """What building ec2imds needs, copied as it is now: pyproject, README, the package."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(repo / name, dest / name)
    shutil.copytree(
        repo / "ec2imds", dest / "ec2imds", ignore=shutil.ignore_patterns("__pycache__")
    )
    return dest


def prepare_ours(
    repo: Path,
    workdir: Path,
    base: Path = PEERS_DIR,
    *,
    timeout: float = 600.0,
    log: Callable[[str], None] = print,
) -> Peer:
    """ec2imds as users get it: a regular (not editable) install of the code as it is now.

    The project's own venv has ec2imds installed editable, and setuptools' editable
    finder (imported by a ``.pth`` file at every start-up) roughly doubles the
    interpreter's start-up; the peers are regular installs, so ec2imds is too. The venv
    (runtime dependencies and a build backend) is created once and reused; the code is
    copied and installed afresh for every run, so a run measures one version throughout.
    """
    with open(repo / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)
    deps = list(project["project"]["dependencies"])
    backend = list(project["build-system"]["requires"])
    spec = PeerSpec(OURS_KEY, "ec2imds (installed)", " ".join(sorted(deps + backend)), "ec2imds")
    env_ready = prepare(spec, base, timeout=timeout, log=log)
    if not env_ready.ok or env_ready.python is None:
        return env_ready
    try:
        src = _copy_source(repo, workdir / "ec2imds-src")
        done = _run(
            [
                str(env_ready.python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "--force-reinstall",
                str(src),
            ],
            timeout,
            workdir,
        )
        if done.returncode != 0:
            return Peer(spec, None, None, f"installing this checkout failed: {_tail(done.stderr)}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Peer(spec, None, None, f"installing this checkout failed: {exc}")
    return Peer(spec, env_ready.python, str(project["project"].get("version")))
