"""The runner side of the harness protocol (standard library only; Python >= 3.10).

The runner prints one hello line, then answers one JSON line per request line:

* hello: ``{"hello": {"tool", "version", "tasks": {name: null | "n/a reason"}, "notes"}}``
* request: ``{"task": NAME, "n": N}``: run the task N times, timing only the calls
* reply: ``{"ok": true, "seconds": total, "cpu": total, "rss_kib": peak, "check": str,
  "info": {...}}`` or ``{"ok": false, "error": "..."}``. ``cpu`` is the runner process's
  CPU time (``time.process_time``: user + system, every thread) spent in the timed calls,
  ``rss_kib`` the process's peak resident set so far.

End of stdin ends the runner. Everything the libraries print goes to stderr, so the
protocol stream stays clean.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from collections.abc import Callable
from typing import Any, Optional
from urllib.parse import urlsplit

#: The "common subset" every peer that can read single keys is asked for, as
#: ``path -> ec2-metadata attribute`` (ec2-metadata's ``region`` comes from
#: ``dynamic/instance-identity/document``: that is how it reads the region).
COMMON_SUBSET: dict[str, str] = {
    "meta-data/instance-id": "instance_id",
    "meta-data/instance-type": "instance_type",
    "meta-data/ami-id": "ami_id",
    "meta-data/placement/availability-zone": "availability_zone",
    "meta-data/placement/region": "region",
    "meta-data/local-ipv4": "private_ipv4",
    "meta-data/local-hostname": "private_hostname",
    "meta-data/mac": "mac",
}

#: The one key of the single-key scenarios.
ONE_KEY = "meta-data/instance-id"

#: Every token TTL requested (ec2-metadata and botocore hard-code this value too).
TOKEN_TTL = 21600

#: A task returns (seconds spent in the timed calls, check string, info dict).
Result = tuple[float, Optional[str], dict[str, Any]]  # run time: no X | Y before 3.10
TaskFn = Callable[[int], Result]


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def require_loopback(url_or_host: str, what: str) -> None:
    """Refuse to run (exit 3) unless ``url_or_host`` names a loopback address."""
    host = urlsplit(url_or_host).hostname if "://" in url_or_host else url_or_host
    if not host or not is_loopback(host):
        sys.stderr.write(f"refusing to run: {what} = {url_or_host!r} is not loopback\n")
        raise SystemExit(3)


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    args = p.parse_args()
    require_loopback(args.host, "--host")
    return args


#: CPU seconds spent in the timed calls since the last request (read by :func:`serve`).
_cpu = [0.0]


def timed(n: int, call: Callable[[], Any], before: Callable[[], Any] | None = None) -> float:
    """Seconds spent in ``n`` calls of ``call`` (``before`` runs untimed ahead of each);
    the process CPU time of those calls is added up for the reply too."""
    total = 0.0
    for _ in range(n):
        if before is not None:
            before()
        c0 = time.process_time()
        t0 = time.perf_counter()
        call()
        total += time.perf_counter() - t0
        _cpu[0] += time.process_time() - c0
    return total


def _peak_rss_kib() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not Unix
        return None
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def serve(
    tool: str,
    version: str,
    tasks: dict[str, TaskFn],
    unavailable: dict[str, str],
    notes: Any = (),
) -> None:
    """Say hello, then run requested tasks until stdin ends."""
    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not corrupt the protocol

    def send(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    catalog: dict[str, str | None] = {name: None for name in tasks}
    catalog.update(unavailable)
    send({"hello": {"tool": tool, "version": version, "tasks": catalog, "notes": list(notes)}})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            name = req["task"]
            n = int(req.get("n", 1))
            if name not in tasks:
                send({"ok": False, "error": unavailable.get(name, f"unknown task {name!r}")})
                continue
            _cpu[0] = 0.0
            seconds, check, info = tasks[name](n)
            send(
                {
                    "ok": True,
                    "seconds": seconds,
                    "cpu": _cpu[0],
                    "rss_kib": _peak_rss_kib(),
                    "n": n,
                    "check": check,
                    "info": info,
                }
            )
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # 0.0.3's errors derive from BaseException
            send({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]})
