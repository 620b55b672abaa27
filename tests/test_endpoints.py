"""Endpoint strings: the original ec2imds forms, both ways, and clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ec2imds.endpoints import (
    Endpoint,
    construct_endpoint_list_str,
    construct_endpoint_str,
    endpoint_file_name,
    endpoint_url,
    mk_endpoint_from_str,
    mk_endpoint_list_from_str,
)
from ec2imds.errors import IMDSConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("169.254.169.254", ("169.254.169.254", None)),
        ("169.254.169.254:80", ("169.254.169.254", 80)),
        ("[fd00:ec2::254]", ("fd00:ec2::254", None)),
        ("[fd00:ec2::254]:80", ("fd00:ec2::254", 80)),
        ("[fe80::1%eth0]:8080", ("fe80::1%eth0", 8080)),
        ("host.name:8080", ("host.name", 8080)),
        ("localhost", ("localhost", None)),
        ("  127.0.0.1:1338 ", ("127.0.0.1", 1338)),
        ("http://127.0.0.1:1338", ("127.0.0.1", 1338)),
        ("http://[::1]:1338/", ("::1", 1338)),
    ],
)
def test_parse(text: str, expected: Endpoint) -> None:
    assert mk_endpoint_from_str(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "169.254.169.999",
        "169.254.169.254:0",
        "169.254.169.254:70000",
        "[fd00:ec2::zz]",
        "fd00:ec2::254",  # IPv6 needs brackets, as in the original
        "https://169.254.169.254",
        "http://h/path",
        "bad host",
        "-bad.example",
    ],
)
def test_parse_rejects_with_the_string_named(text: str) -> None:
    with pytest.raises(IMDSConfigError) as info:
        mk_endpoint_from_str(text)
    assert repr(text.strip()) in str(info.value) or repr(text) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_list_round_trip() -> None:
    text = "169.254.169.254:80,[fd00:ec2::254]:80,host.name"
    endpoints = mk_endpoint_list_from_str(text)
    assert endpoints == [("169.254.169.254", 80), ("fd00:ec2::254", 80), ("host.name", None)]
    assert construct_endpoint_list_str(endpoints) == text


@pytest.mark.parametrize("text", ["", ",", "169.254.169.254,", "a,,b"])
def test_list_rejects_empty_items(text: str) -> None:
    with pytest.raises(IMDSConfigError, match="endpoint"):
        mk_endpoint_list_from_str(text)


def test_construct_without_port_and_url_and_file_name() -> None:
    assert construct_endpoint_str(("169.254.169.254", None)) == "169.254.169.254"
    assert construct_endpoint_str(("fd00:ec2::254", None)) == "[fd00:ec2::254]"
    assert endpoint_url(("fd00:ec2::254", None)) == "http://[fd00:ec2::254]:80"
    assert endpoint_url(("127.0.0.1", 1338)) == "http://127.0.0.1:1338"
    # 0.0.3 wrote the token files under these names; the port is made explicit.
    assert endpoint_file_name(("169.254.169.254", None)) == "169.254.169.254:80"
    assert endpoint_file_name(("fd00:ec2::254", 80)) == "[fd00:ec2::254]:80"


@given(st.text(max_size=60))
def test_parser_never_raises_anything_else(text: str) -> None:
    try:
        host, port = mk_endpoint_from_str(text)
    except IMDSConfigError:
        return
    assert host
    assert port is None or 0 < port < 65536
    # What parses formats back to something that parses to the same endpoint.
    assert mk_endpoint_from_str(construct_endpoint_str((host, port))) == (host, port)
