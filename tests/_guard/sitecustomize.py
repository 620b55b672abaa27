"""The real-IMDS guard, for the test process (``tests/conftest.py`` imports it) and for
its subprocesses.

``tests/test_cli.py`` runs every ``ec2imds`` subprocess with this directory first on
``PYTHONPATH``, so the interpreter imports this module at start-up. It makes any
connection to, or name lookup of, 169.254.169.254 or fd00:ec2::254 fail loudly: the
refusal is written to stderr (so a caller that swallows exceptions still shows it) and
raised as an error that no retry loop treats as a network failure.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

GUARD_MESSAGE = "ec2imds test guard: refused to reach the real IMDS"

_REAL_IMDS = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class RealIMDSAccess(AssertionError):
    """A test (or a test's subprocess) tried to reach the real IMDS."""


def _check_host(host: object) -> None:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return
    try:
        addr = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return
    if addr in _REAL_IMDS:
        message = f"{GUARD_MESSAGE} at {host}"
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
        raise RealIMDSAccess(message)


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _connect(self: Any, address: Any) -> None:
    if isinstance(address, tuple):
        _check_host(address[0])
    _real_connect(self, address)


def _connect_ex(self: Any, address: Any) -> int:
    if isinstance(address, tuple):
        _check_host(address[0])
    return _real_connect_ex(self, address)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    _check_host(host)
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _getaddrinfo
#: Lets a test check that this guard was loaded in a subprocess.
EC2IMDS_TEST_GUARD = True
