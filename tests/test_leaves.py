"""ISO 8601 times on every Python: IMDS writes ``2024-05-01T12:00:00Z``, which
``datetime.fromisoformat`` reads only from Python 3.11 on (before, only what
``isoformat()`` writes: no ``Z``). ``ec2imds._leaves.fromisoformat`` is 3.11's where it
exists and, on 3.9 and 3.10, a reader of the same forms; the other leaf parsers are
tested through the models (``tests/models``) and fuzzed (``tests/test_fuzz.py``)."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ec2imds import _leaves
from ec2imds._leaves import _fromisoformat_before_311 as before_311
from ec2imds.models import IamCredentials, SpotInstanceAction, validate_value
from ec2imds.models._types import IMDSTime, LenientTime, Timestamp
from tests.support.properties import examples

UTC = timezone.utc
HAS_311 = sys.version_info >= (3, 11)
NO_311 = "datetime.fromisoformat reads only isoformat()'s own output before Python 3.11"


def tz(hours: int = 0, minutes: int = 0, seconds: int = 0, micros: int = 0) -> timezone:
    return timezone(timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=micros))


#: What ``datetime.fromisoformat`` gives on Python 3.11 (``None``: a ``ValueError``).
FORMS: list[tuple[str, datetime | None]] = [
    # IMDS's own: credentials' Expiration and LastUpdated, spot's time, pendingTime...
    ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ("2019-01-21T09:00:43Z", datetime(2019, 1, 21, 9, 0, 43, tzinfo=UTC)),
    ("2024-05-01T11:58:12.412081Z", datetime(2024, 5, 1, 11, 58, 12, 412081, tzinfo=UTC)),
    # what isoformat() writes (what every Python reads)
    ("2024-05-01", datetime(2024, 5, 1)),
    ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12)),
    ("2024-05-01 12:00:00+00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 14, tzinfo=tz(2))),
    ("2024-05-01T12:00:00.123-05:30", datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=tz(-5, -30))),
    ("2024-05-01T12:00:00+01:02:03.000004", datetime(2024, 5, 1, 12, tzinfo=tz(1, 2, 3, 4))),
    # what 3.11 reads besides
    ("2024-05-01T12:00:00.5Z", datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
    ("2024-05-01T12:00:00,25", datetime(2024, 5, 1, 12, 0, 0, 250000)),
    ("2024-05-01T12:00:00.1234567891", datetime(2024, 5, 1, 12, 0, 0, 123456)),  # truncated
    ("2024-05-01T12:00:00+0200", datetime(2024, 5, 1, 12, tzinfo=tz(2))),
    ("2024-05-01T12:00:00+02", datetime(2024, 5, 1, 12, tzinfo=tz(2))),
    ("2024-05-01T12:00:00-00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ("2024-05-01T12", datetime(2024, 5, 1, 12)),
    ("2024-05-01T12:30", datetime(2024, 5, 1, 12, 30)),
    ("2024-05-01T1230Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ("2024-05-01x12:30:45", datetime(2024, 5, 1, 12, 30, 45)),  # any one separator
    ("20240501", datetime(2024, 5, 1)),
    ("20240501T120000Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ("20240501T12:00:00", datetime(2024, 5, 1, 12)),
    # and refuses
    ("2024-05-01T12:00:00ZZ", None),
    ("2024-05-01T12:00:00+2", None),
    ("2024-05-01T12:00:00+02:00Z", None),
    ("2024-05-01T12:00:00.", None),
    ("2024-05-01T12:0000", None),  # colons or none, not both
    ("2024-0501", None),
    ("2024-05-01T1", None),
    ("2024-05-01T", None),
    ("2024-05-01T25:00:00Z", None),
    ("2024-02-30T12:00:00Z", None),
    ("2024-05-01T12:00:00+24:00", None),
    ("0000-01-01T00:00:00Z", None),
    ("21 Jan 2019 09:00:43 GMT", None),
    ("2024-05-01T12:00:00\uff3a", None),
    ("２０２４-05-01", None),  # ASCII digits only
    ("", None),
]

#: What 3.11 and later read besides, and the reader before 3.11 refuses: ISO week dates,
#: and malformed times CPython's parser lets through (a fraction after the hour or the
#: minute, read as a fraction of a second; one stray character before the zone).
ONLY_3_11 = [
    "2024-W18-3",
    "2024W183",
    "2024-05-01T12.5",
    "2024-05-01T12:30.25",
    "2024-05-01T12:00:00 Z",
    "2024-05-01T12:00:00x+01:00",
    "2024-05-01T12:Z",
]


def outcome(parse: object, text: str) -> tuple[datetime, object, object] | str:
    """The datetime with its offset and zone, or ``"ValueError"`` (``==`` on aware
    datetimes compares instants; this compares the values)."""
    assert callable(parse)
    try:
        got = parse(text)
    except ValueError:
        return "ValueError"
    assert isinstance(got, datetime)
    return (got.replace(tzinfo=None), got.utcoffset(), got.tzinfo is UTC)


def expected(value: datetime | None) -> tuple[datetime, object, object] | str:
    if value is None:
        return "ValueError"
    return (value.replace(tzinfo=None), value.utcoffset(), value.tzinfo is UTC)


@pytest.mark.parametrize(("text", "value"), FORMS)
def test_the_reader_for_3_9_and_3_10_reads_what_3_11_reads(
    text: str, value: datetime | None
) -> None:
    assert outcome(before_311, text) == expected(value)
    assert outcome(_leaves.fromisoformat, text) == expected(value)  # the one in use, too


@pytest.mark.skipif(not HAS_311, reason=NO_311)
@pytest.mark.parametrize(("text", "value"), FORMS)
def test_the_table_is_what_3_11_reads(text: str, value: datetime | None) -> None:
    assert outcome(datetime.fromisoformat, text) == expected(value)


def test_3_11_and_later_use_their_own() -> None:
    """Where ``datetime.fromisoformat`` reads ``Z``, it is the one used (nothing changes
    there); before, the reader above."""
    if HAS_311:
        assert _leaves.fromisoformat == datetime.fromisoformat
    else:
        assert _leaves.fromisoformat is before_311
        with pytest.raises(ValueError, match="Invalid isoformat string"):
            datetime.fromisoformat("2024-05-01T12:00:00Z")


@pytest.mark.parametrize("text", ONLY_3_11)
def test_what_only_3_11_reads(text: str) -> None:
    assert outcome(before_311, text) == "ValueError"
    if HAS_311:
        assert isinstance(outcome(datetime.fromisoformat, text), tuple)


def _hms(draw: st.DrawFn, top: int) -> str:
    colon = draw(st.sampled_from([":", ""]))
    parts = [f"{draw(st.integers(0, top)):02d}"]
    parts += [f"{draw(st.integers(0, 61)):02d}" for _ in range(draw(st.integers(0, 2)))]
    text = colon.join(parts)
    if len(parts) == 3 and draw(st.booleans()):
        digits = draw(st.text("0123456789", min_size=1, max_size=9))
        text += draw(st.sampled_from([".", ","])) + digits
    return text


@st.composite
def iso_texts(draw: st.DrawFn) -> str:
    """Near-ISO 8601 times: mostly valid, often out of range or malformed."""
    dash = draw(st.sampled_from(["-", ""]))
    y, m, d = draw(st.integers(0, 9999)), draw(st.integers(0, 13)), draw(st.integers(0, 32))
    text = f"{y:04d}{dash}{m:02d}{draw(st.sampled_from([dash, dash, '-', '']))}{d:02d}"
    if draw(st.integers(0, 4)):
        text += draw(st.sampled_from(["T", "T", " ", "t", "_"])) + _hms(draw, 25)
        zone = draw(st.sampled_from(["", "Z", "+", "-"]))
        text += zone + (_hms(draw, 24) if zone in ("+", "-") else "")
    return text + draw(st.sampled_from(["", "", "", "", "0", ":", "Z", ".", "+00"]))


@pytest.mark.skipif(not HAS_311, reason=NO_311)
@settings(max_examples=examples(1000), deadline=None)
@given(text=iso_texts())
def test_the_reader_for_3_9_and_3_10_agrees_with_3_11s(text: str) -> None:
    assert outcome(before_311, text) == outcome(datetime.fromisoformat, text)


# -- the parsers and the models, with IMDS's own times ------------------------------------

Z_TIME = "2024-05-01T12:00:00Z"
MOMENT = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "parse", [_leaves.parse_iso_time, _leaves.parse_imds_time, _leaves.parse_lenient_time]
)
@pytest.mark.parametrize("body", [Z_TIME, Z_TIME.encode(), f"  {Z_TIME}\n".encode()])
def test_the_time_parsers_read_a_z_time(parse: object, body: object) -> None:
    assert callable(parse)
    got = parse(body)
    assert got == MOMENT
    assert isinstance(got, datetime)
    assert got.tzinfo is UTC


@pytest.mark.parametrize("leaf", [Timestamp, IMDSTime, LenientTime])
def test_the_leaf_types_read_a_z_time(leaf: object) -> None:
    assert validate_value(leaf, Z_TIME.encode(), path="meta-data/x") == MOMENT


def test_the_models_read_imds_z_times() -> None:
    creds = IamCredentials.model_validate(
        {"Code": "Success", "LastUpdated": "2024-05-01T11:58:12Z", "Expiration": Z_TIME}
    )
    assert creds.expiration == MOMENT
    assert creds.last_updated == datetime(2024, 5, 1, 11, 58, 12, tzinfo=UTC)
    notice = SpotInstanceAction.model_validate({"action": "terminate", "time": Z_TIME})
    assert notice.time == MOMENT
