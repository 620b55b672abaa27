"""The models' leaf types (``ec2imds/models/_types.py``): each alias parses what IMDS
serves, refuses what it cannot, with the parser's own message, and dumps back to IMDS's
form in JSON mode. (The static types of the public API are ``tests/test_typing.py``.)"""

from __future__ import annotations

from datetime import datetime, timezone
from ipaddress import IPv4Address
from typing import Annotated, Any, Optional

import pytest
from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError

from ec2imds.models._types import (
    MAC,
    PUBLIC_KEYS_IN,
    PUBLIC_KEYS_OUT,
    Bool,
    Bytes,
    ExactText,
    IMDSTime,
    Int,
    IPv4Lines,
    LenientTime,
    RawExtra,
    Secret,
    TagKey,
    Text,
    Timestamp,
)


def _error(tp: Any, raw: object) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(tp).validate_python(raw)
    errors = caught.value.errors()
    assert len(errors) == 1
    return dict(errors[0])


def test_text_is_utf8_stripped_and_exact_text_is_kept() -> None:
    assert TypeAdapter(Text).validate_python(b"  web-1 \n") == "web-1"
    assert TypeAdapter(ExactText).validate_python(b"  web-1 \n") == "  web-1 \n"


def test_a_bad_leaf_is_an_imds_error_with_the_parsers_message() -> None:
    error = _error(Text, b"\xff")
    assert error["type"] == "imds_utf8"
    assert error["msg"] == "b'\\xff' is not valid UTF-8"
    error = _error(Int, b"4x2")
    assert (error["type"], error["msg"]) == ("imds_int", "'4x2' is not an integer")


def test_int_bool_and_lines_of_addresses() -> None:
    assert TypeAdapter(Int).validate_python(b"42\n") == 42
    assert TypeAdapter(Bool).validate_python(b"false") is False
    assert TypeAdapter(IPv4Lines).validate_python(b"10.0.0.1\r\n\r\n10.0.0.2\n") == [
        IPv4Address("10.0.0.1"),
        IPv4Address("10.0.0.2"),
    ]
    assert TypeAdapter(MAC).validate_python(b"0e:49:61:0f:c3:11\n") == "0e:49:61:0f:c3:11"


def test_a_tag_key_outside_imds_characters_is_refused_and_the_schema_says_so() -> None:
    assert TypeAdapter(TagKey).validate_python(b"aws:cloudformation:stack-name") == (
        "aws:cloudformation:stack-name"
    )
    assert _error(TagKey, b"bad key!")["type"] == "imds_tag_key"
    assert TypeAdapter(TagKey).json_schema()["pattern"] == r"^[a-zA-Z0-9+\-=.,_:@]+$"


def test_times_parse_aware_and_dump_in_the_form_imds_served() -> None:
    iso = TypeAdapter(Timestamp)
    when = iso.validate_python(b"2024-05-01T12:00:00Z")
    assert when == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert iso.dump_python(when, mode="json") == "2024-05-01T12:00:00Z"
    assert iso.dump_python(when) == when  # Python mode keeps the datetime
    fraction = iso.validate_python(b"2024-05-01T12:00:00.5Z")
    assert iso.dump_python(fraction, mode="json") == "2024-05-01T12:00:00.500000Z"

    imds = TypeAdapter(IMDSTime)
    event = imds.validate_python(b"21 Jan 2019 09:00:43 GMT")
    assert event == datetime(2019, 1, 21, 9, 0, 43, tzinfo=timezone.utc)
    assert imds.dump_python(event, mode="json") == "21 Jan 2019 09:00:43 GMT"


def test_a_lenient_time_keeps_what_is_not_a_time() -> None:
    lenient = TypeAdapter(LenientTime)
    assert lenient.validate_python(b"soon") == "soon"
    assert lenient.dump_python("soon", mode="json") == "soon"
    when = lenient.validate_python(b"2024-05-01T14:32:00Z")
    assert isinstance(when, datetime)
    assert lenient.dump_python(when, mode="json") == "2024-05-01T14:32:00Z"


def test_a_secret_is_never_shown_unless_asked_for() -> None:
    secret = TypeAdapter(Secret)
    value = secret.validate_python(b"wJalrXUtnFEMI\n")
    assert isinstance(value, SecretStr)
    assert "wJalr" not in repr(value)
    assert "wJalr" not in str(value)
    assert secret.dump_python(value, mode="json") == "**********"
    revealed = secret.dump_python(value, mode="json", context={"reveal_secrets": True})
    assert revealed == "wJalrXUtnFEMI"
    error = _error(Secret, b"\xffwJalr")
    assert error["msg"] == "a bytes (not shown), not text"


def test_bytes_are_kept_and_dumped_as_base64() -> None:
    raw = TypeAdapter(Bytes)
    assert raw.validate_python(b"\x00\x01") == b"\x00\x01"
    assert raw.validate_python("AAE=") == b"\x00\x01"  # a JSON dump's form reads back
    assert raw.dump_python(b"\x00\x01", mode="json") == "AAE="
    assert raw.json_schema()["contentEncoding"] == "base64"


def test_an_unknown_keys_value_is_kept_as_text_or_bytes() -> None:
    kept = TypeAdapter(RawExtra).validate_python({"a": b"x", "b": {"c": b"\xff"}})
    assert kept == {"a": "x", "b": {"c": b"\xff"}}


class _Key(BaseModel):
    name: Optional[str] = None  # noqa: UP045 - pydantic evaluates it: no X | Y on 3.9
    openssh_key: str = Field("", alias="openssh-key")


class _Keys(BaseModel):
    keys: Annotated[dict[str, _Key], PUBLIC_KEYS_IN, PUBLIC_KEYS_OUT]


def test_public_keys_read_the_listing_form_and_dump_back_to_it() -> None:
    listing = {
        "0=my-key": {"openssh-key": "ssh-rsa A"},
        "1=other": {"openssh-key": "ssh-ed25519 B"},
    }
    keys = _Keys.model_validate({"keys": listing})
    assert keys.keys["0"].name == "my-key"
    assert keys.keys["1"].openssh_key == "ssh-ed25519 B"
    dumped = keys.model_dump(by_alias=True)["keys"]
    assert dumped == {
        "0=my-key": {"openssh-key": "ssh-rsa A"},
        "1=other": {"openssh-key": "ssh-ed25519 B"},
    }
