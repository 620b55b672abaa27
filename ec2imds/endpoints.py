"""IMDS endpoints: parsing and formatting, in the original ec2imds forms.

An endpoint is a ``(host, port)`` tuple; ``port`` may be ``None`` for the
default (80).  Accepted strings, alone or comma-separated:

* ``169.254.169.254`` and ``169.254.169.254:80``
* ``[fd00:ec2::254]`` and ``[fd00:ec2::254]:80`` (a zone id ``%eth0`` is allowed)
* ``host.name`` and ``host.name:8080``
* ``http://host:port`` (the form of ``AWS_EC2_METADATA_SERVICE_ENDPOINT``)
"""

from __future__ import annotations

import ipaddress
import re
import sys
from typing import Optional

from ec2imds.errors import IMDSConfigError

__all__ = [
    "DEFAULT_ENDPOINTS",
    "IPV4_ENDPOINT",
    "IPV6_ENDPOINT",
    "Endpoint",
    "construct_endpoint_list_str",
    "construct_endpoint_str",
    "endpoint_file_name",
    "endpoint_url",
    "is_ipv6",
    "mk_endpoint_from_str",
    "mk_endpoint_list_from_str",
]

Endpoint = tuple[str, Optional[int]]  # evaluated at run time: no X | Y before Python 3.10

IPV4_ENDPOINT: Endpoint = ("169.254.169.254", None)
IPV6_ENDPOINT: Endpoint = ("fd00:ec2::254", None)
#: The original's default list; the race tries IPv4 first (see race_order).
DEFAULT_ENDPOINTS: tuple[Endpoint, ...] = (IPV4_ENDPOINT, IPV6_ENDPOINT)

DEFAULT_PORT = 80

# _V6 and _NAME are compiled when an endpoint first needs them (re caches them): an IPv4
# endpoint, the usual one, needs neither, and compiling both cost ~2 ms of a command's run.
_V6 = r"^\[([0-9a-f:.]+(?:%[a-z0-9._\-]+)?)\](?::([0-9]+))?$"
_V4 = re.compile(r"^([0-9.]+)(?::([0-9]+))?$")
# Labels of at most 63 characters, separated by single dots. (Each dot is required
# between labels: with an optional dot, "aaaa…a!" backtracks exponentially.)
_LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
_NAME = rf"^({_LABEL}(?:\.{_LABEL})*\.?)(?::([0-9]+))?$"
_URL = re.compile(r"^http://([^/?#]+)/?$", re.I)


def _port(text: str | None, whole: str) -> int | None:
    if text is None:
        return None
    port = int(text)
    if not 0 < port < 65536:
        raise IMDSConfigError(f"{whole!r}: port {port} is out of range 1..65535")
    return port


def mk_endpoint_from_str(s: str) -> Endpoint:
    """Parse one endpoint string into ``(host, port)``; ``port`` is ``None`` when not given.

    Raises :class:`~ec2imds.errors.IMDSConfigError` (a ``ValueError``) naming the string.
    """
    text = s.strip()
    url = _URL.match(text)
    if url:
        text = url.group(1)
    elif "://" in text:
        raise IMDSConfigError(f"{s!r}: invalid endpoint: only http:// URLs without a path")
    if text.startswith("[") and (m := re.match(_V6, text, re.I)):
        host = m.group(1)
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise IMDSConfigError(f"{s!r}: invalid endpoint: bad IPv6 address") from None
        return host, _port(m.group(2), s)
    if m := _V4.match(text):
        try:
            ipaddress.IPv4Address(m.group(1))
        except ValueError:
            raise IMDSConfigError(f"{s!r}: invalid endpoint: bad IPv4 address") from None
        return m.group(1), _port(m.group(2), s)
    if (m := re.match(_NAME, text, re.I)) and len(m.group(1)) <= 253:
        return m.group(1), _port(m.group(2), s)
    raise IMDSConfigError(
        f"{s!r}: invalid endpoint: expected HOST, HOST:PORT, [IPV6] or [IPV6]:PORT"
    )


def mk_endpoint_list_from_str(s: str) -> list[Endpoint]:
    """Parse a comma-separated list of endpoints (empty items are an error)."""
    items = s.split(",")
    if not s.strip() or any(not item.strip() for item in items):
        raise IMDSConfigError(f"{s!r}: invalid endpoint list: empty item")
    return [mk_endpoint_from_str(item) for item in items]


def construct_endpoint_str(t: Endpoint) -> str:
    """Format ``(host, port)`` as the original did: brackets around IPv6, ``:port`` if set."""
    host, port = t
    if ":" in host:
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


def construct_endpoint_list_str(endpoints: list[Endpoint] | tuple[Endpoint, ...]) -> str:
    """Format a list of endpoints, comma-separated."""
    return ",".join(construct_endpoint_str(t) for t in endpoints)


def endpoint_url(t: Endpoint) -> str:
    """The base URL of an endpoint, with the port made explicit: ``http://[::1]:80``."""
    host, port = t
    return "http://" + construct_endpoint_str((host.replace("%", "%25"), port or DEFAULT_PORT))


def endpoint_file_name(t: Endpoint) -> str:
    """The token file name for an endpoint: :func:`construct_endpoint_str` of it.

    The same names as ec2imds 0.0.3 wrote (``169.254.169.254:80``); on Windows, where
    ``:`` is not allowed in a file name, it is written as ``;`` (as 0.0.3 did there).
    """
    name = construct_endpoint_str((t[0], t[1] or DEFAULT_PORT))
    if sys.platform.startswith("win32"):
        name = name.replace(":", ";")
    return name


def is_ipv6(t: Endpoint) -> bool:
    """True for an IPv6 literal endpoint (host names count as not IPv6)."""
    return ":" in t[0]
