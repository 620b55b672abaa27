"""A description of the machine the numbers come from."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

__all__ = ["code_version", "cpu_model", "describe", "load"]

REPO = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def describe() -> list[str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    return [
        f"* date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"* CPU: {cpu_model()}; nproc {usable} (os.cpu_count {os.cpu_count()})",
        f"* Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.platform()}",
        f"* load average (1/5/15 min) at start: {load()}",
        f"* harness: {sys.executable}",
    ]


def code_version() -> str:
    """The repository's commit, and whether ``ec2imds/`` differs from it (the code measured)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "ec2imds"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (no git)"
    if not head:
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes in ec2imds/" if dirty else "")
