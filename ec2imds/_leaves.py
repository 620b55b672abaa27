"""Leaf parsers: an IMDS body (or an already-parsed value) to a Python value.

Standard library only, so the command line can parse a simple leaf without importing
pydantic; the models use the very same functions (wrapped as ``BeforeValidator`` in
:mod:`ec2imds.models._types`), so there is one parsing logic. A parser raises
:class:`LeafError` (a ``ValueError``) with a message naming the offending value.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, NoReturn

__all__ = [
    "TAG_KEY",
    "LeafError",
    "fromisoformat",
    "parse_bool",
    "parse_bytes",
    "parse_exact_text",
    "parse_imds_time",
    "parse_int",
    "parse_ipv4",
    "parse_ipv4_net",
    "parse_ipv6",
    "parse_ipv6_net",
    "parse_iso_time",
    "parse_json",
    "parse_json_object",
    "parse_lenient_time",
    "parse_lines",
    "parse_mac",
    "parse_tag_key",
    "parse_text",
    "public_keys_listed",
    "public_keys_named",
]


class LeafError(ValueError):
    """A leaf that does not parse; ``kind`` names the check (``int``, ``utf8``, ...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


_SHOW = 80


def _show(value: object) -> str:
    """A short repr of an offending value for messages."""
    text = repr(value)
    return text if len(text) <= _SHOW else text[: _SHOW - 3] + "..."


def _fail(kind: str, message: str) -> NoReturn:
    raise LeafError(kind, message)


def _decode(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            _fail("utf8", f"{_show(raw)} is not valid UTF-8")
    _fail("type", f"{_show(value)} is not text")


# -- leaf parsers ----------------------------------------------------------------------
def parse_text(value: object) -> str:
    """UTF-8 text, surrounding whitespace stripped."""
    return _decode(value).strip()


def parse_exact_text(value: object) -> str:
    """UTF-8 text, kept exactly."""
    return _decode(value)


def parse_bool(value: object) -> bool:
    """``true`` or ``false`` (any case, as ``hibernation/configured`` says it)."""
    if isinstance(value, bool):
        return value
    text = _decode(value).strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    _fail("bool", f"{_show(text)} is not true or false")


#: The characters IMDS allows in a tag key (docs/imds.md, 'Category details'); ``.``,
#: ``..`` and ``_index`` are not allowed either.
TAG_KEY = r"^[a-zA-Z0-9+\-=.,_:@]+$"
_TAG_KEY = re.compile(TAG_KEY, re.ASCII)


def parse_tag_key(value: object) -> str:
    """An instance tag key as IMDS lists it: ``[a-zA-Z0-9+-=.,_:@]``, no spaces or ``/``,
    not ``.``, ``..`` or ``_index`` (docs/imds.md, 'Category details')."""
    text = _decode(value)
    if _TAG_KEY.fullmatch(text) and text not in (".", "..", "_index"):
        return text
    _fail("tag_key", f"{_show(text)} is not a tag key IMDS serves (letters, digits, +-=.,_:@)")


_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)


def parse_int(value: object) -> int:
    """A decimal integer (``bool`` is not an integer)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _decode(value).strip()
    if _INT.fullmatch(text) and len(text) <= 100:
        return int(text)
    _fail("int", f"{_show(text)} is not an integer")


def parse_lines(value: object) -> list[str]:
    """An LF-separated list: ``splitlines()``, each item stripped, blank lines dropped."""
    if isinstance(value, (list, tuple)):
        return [parse_text(item) for item in value]
    return [s for line in _decode(value).splitlines() if (s := line.strip())]


def _address_parser(cls: Callable[[str], Any], what: str) -> Callable[[object], Any]:
    def parse(value: object) -> Any:
        if isinstance(value, (IPv4Address, IPv6Address, IPv4Network, IPv6Network)):
            value = str(value)
        text = parse_text(value)
        try:
            return cls(text)
        except ValueError:
            _fail("address", f"{_show(text)} is not {what}")

    return parse


parse_ipv4 = _address_parser(IPv4Address, "an IPv4 address")
parse_ipv6 = _address_parser(IPv6Address, "an IPv6 address")
parse_ipv4_net = _address_parser(IPv4Network, "an IPv4 CIDR block")
parse_ipv6_net = _address_parser(IPv6Network, "an IPv6 CIDR block")


def _lines_of(parse: Callable[[object], Any]) -> Callable[[object], list[Any]]:
    def parse_all(value: object) -> list[Any]:
        if isinstance(value, (list, tuple)):
            return [parse(item) for item in value]
        return [parse(item) for item in parse_lines(value)]

    return parse_all


_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", re.ASCII | re.IGNORECASE)


def parse_mac(value: object) -> str:
    """A MAC address ``0e:49:61:0f:c3:11`` (kept as served)."""
    text = parse_text(value)
    if _MAC.fullmatch(text):
        return text
    _fail("mac", f"{_show(text)} is not a MAC address")


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        _fail("time", f"{_show(value)} is out of range in UTC")


def _hms(name: str) -> str:
    """``HH[:MM[:SS[.fff...]]]`` or ``HH[MM[SS[.fff...]]]`` (``,`` for ``.`` too)."""
    return (
        rf"(?P<{name}h>\d{{2}})(?:(?P<{name}s>:?)(?P<{name}m>\d{{2}})"
        rf"(?:(?P={name}s)(?P<{name}ss>\d{{2}})(?:[.,](?P<{name}f>\d+))?)?)?"
    )


@cache
def _iso_pattern() -> re.Pattern[str]:  # compiled on first use: not at start-up
    return re.compile(
        r"(?P<y>\d{4})(?P<ds>-?)(?P<mo>\d{2})(?P=ds)(?P<d>\d{2})"
        rf"(?:.(?:{_hms('t')})(?:(?P<z>Z)|(?P<sign>[+-]){_hms('o')})?)?",
        re.ASCII | re.DOTALL,
    )


def _hms_of(m: re.Match[str], name: str) -> tuple[int, int, int, int]:
    fraction = m[f"{name}f"] or ""
    return (
        int(m[f"{name}h"]),
        int(m[f"{name}m"] or 0),
        int(m[f"{name}ss"] or 0),
        int(fraction[:6].ljust(6, "0")) if fraction else 0,  # truncated, as 3.11 does
    )


def _fromisoformat_before_311(text: str) -> datetime:
    """``datetime.fromisoformat(text)`` as Python 3.11 reads an ISO 8601 date and time.

    Before 3.11, ``datetime.fromisoformat`` reads only what ``isoformat()`` writes: not
    the ``Z`` every IMDS time ends with (``2024-05-01T12:00:00Z``), nor ``+0200`` or
    ``+02``, nor fractions of other than 3 or 6 digits. This reads what 3.11's does: a
    calendar date, extended or basic, then optionally any one character and
    ``HH[:MM[:SS[.fff...]]]`` (or without the colons; the fraction truncated to
    microseconds), then optionally ``Z`` or an offset of the same form. It refuses the
    ISO week dates (``2024-W18-3``) and the malformed times 3.11's parser lets through
    (``12:30.25`` read as 12:30:00.25, a stray character before the zone).
    ``tests/test_leaves.py`` checks it against 3.11's own, on 3.11 and later.
    """
    m = _iso_pattern().fullmatch(text)
    if m is None:
        raise ValueError(f"Invalid isoformat string: {text!r}")
    date = (int(m["y"]), int(m["mo"]), int(m["d"]))
    if m["th"] is None:
        return datetime(*date)
    tz = timezone.utc if m["z"] else None
    if m["sign"]:
        hours, minutes, seconds, micros = _hms_of(m, "o")
        offset = timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=micros)
        tz = timezone(-offset if m["sign"] == "-" else offset) if offset else timezone.utc
    return datetime(*date, *_hms_of(m, "t"), tzinfo=tz)


#: ``datetime.fromisoformat`` as Python 3.11 and later have it (``Z`` included).
fromisoformat: Callable[[str], datetime] = (
    datetime.fromisoformat if sys.version_info >= (3, 11) else _fromisoformat_before_311
)


def _iso_or_none(text: str) -> datetime | None:
    if not 10 <= len(text) <= 40:
        return None
    try:
        return _aware(fromisoformat(text))
    except ValueError:
        return None


def parse_iso_time(value: object) -> datetime:
    """An ISO 8601 time (``2024-05-01T12:00:00Z``), as an aware UTC datetime."""
    if isinstance(value, datetime):
        return _aware(value)
    text = parse_text(value)
    parsed = _iso_or_none(text)
    if parsed is None:
        _fail("time", f"{_show(text)} is not an ISO 8601 time")
    return parsed


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_IMDS_TIME = re.compile(r"(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT", re.ASCII)


def parse_imds_time(value: object) -> datetime:
    """IMDS's event time ``21 Jan 2019 09:00:43 GMT`` (locale-independent) or ISO 8601."""
    if isinstance(value, datetime):
        return _aware(value)
    text = parse_text(value)
    m = _IMDS_TIME.fullmatch(text)
    if m and m[2] in _MONTHS:
        try:
            return datetime(
                int(m[3]), _MONTHS.index(m[2]) + 1, int(m[1]),
                int(m[4]), int(m[5]), int(m[6]), tzinfo=timezone.utc,
            )  # fmt: skip
        except ValueError:
            pass
    parsed = _iso_or_none(text)
    if parsed is None:
        _fail("time", f"{_show(text)} is not a time like '21 Jan 2019 09:00:43 GMT'")
    return parsed


def parse_lenient_time(value: object) -> datetime | str:
    """An ISO 8601 time if it is one, else the text itself (spot/termination-time)."""
    if isinstance(value, datetime):
        return _aware(value)
    text = parse_text(value)
    return _iso_or_none(text) or text


def parse_json(value: object) -> object:
    """A JSON document; an already-parsed ``dict``/``list`` passes through."""
    if not isinstance(value, (str, bytes, bytearray, memoryview)):
        return value
    text = _decode(value)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        _fail("json", f"{_show(text)} is not a JSON document")


def parse_json_object(value: object) -> dict[str, Any]:
    """A JSON object."""
    parsed = parse_json(value)
    if isinstance(parsed, dict):
        return parsed
    _fail("json", f"{_show(parsed)} is not a JSON object")


def parse_bytes(value: object) -> bytes:
    """Raw bytes; a ``str`` is the base64 form of a JSON dump."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (ValueError, binascii.Error):
            _fail("base64", f"{_show(value)} is not base64 (a dump's user-data encoding)")
    _fail("type", f"{_show(value)} is not bytes")


def public_keys_named(data: dict[Any, Any]) -> dict[Any, Any]:
    """Public keys from the IMDS listing form to entries holding their name:
    ``{"0=my-key": {...}}`` to ``{"0": {..., "name": "my-key"}}`` (of two entries with
    one index, the later is kept)."""
    out: dict[Any, Any] = {}
    for key, item in data.items():
        if isinstance(key, str) and "=" in key:
            index, _, name = key.partition("=")
            if isinstance(item, dict) and "name" not in item:
                item = {**item, "name": name}
            key = index
        out[key] = item
    return out


def public_keys_listed(data: dict[Any, Any]) -> dict[str, Any]:
    """Public keys back to the IMDS listing form: an entry holding its ``name`` is keyed
    ``"0=my-key"`` again, without it (``{"0=my-key": {"openssh-key": ...}}``); what the
    models' serializer and the command line's plain dump both do."""
    out: dict[str, Any] = {}
    for key, item in data.items():
        if isinstance(item, dict) and "name" in item:
            item = dict(item)
            name = item.pop("name")
            out[f"{key}={name}" if name is not None else str(key)] = item
        else:
            out[str(key)] = item
    return out
