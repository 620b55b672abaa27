"""User data decoded on request: ``ec2imds.userdata`` and ``ec2imds -U --decode``."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds.errors import IMDSError, UserDataError
from ec2imds.simulator import IMDSSimulator
from ec2imds.userdata import (
    MAX_DECODED,
    UserDataPart,
    decode_user_data,
    guess_content_type,
)
from tests.support.command import error_line, on, run

SCRIPT = b"#!/bin/sh\necho hello\n"
CLOUD_CONFIG = b"#cloud-config\npackages: [jq]\n"


def mime(*parts: bytes, boundary: str = "==BOUNDARY==") -> bytes:
    """A MIME multipart document as cloud-init's ``make-mime`` writes one."""
    out = [f'Content-Type: multipart/mixed; boundary="{boundary}"\nMIME-Version: 1.0\n\n'.encode()]
    for part in parts:
        out.append(f"--{boundary}\n".encode() + part + b"\n")
    out.append(f"--{boundary}--\n".encode())
    return b"".join(out)


def part(content_type: str, body: bytes, *, encoding: str = "7bit", filename: str = "") -> bytes:
    disposition = f'Content-Disposition: attachment; filename="{filename}"\n' if filename else ""
    if encoding == "base64":
        body = base64.encodebytes(body)
    head = f"Content-Type: {content_type}\nContent-Transfer-Encoding: {encoding}\n{disposition}\n"
    return head.encode() + body


# -- the library ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (SCRIPT, "text/x-shellscript"),
        (CLOUD_CONFIG, "text/cloud-config"),
        (b"#cloud-config-archive\n- a\n", "text/cloud-config-archive"),  # the longest prefix
        (b"#include\nhttp://x\n", "text/x-include-url"),
        (b"#include-once\nhttp://x\n", "text/x-include-once-url"),
        (b"## template: jinja\n#cloud-config\n", "text/jinja2"),
        (b"plain words\n", "text/plain"),
        (b"\xff\xfe\x00binary", "application/octet-stream"),
    ],
)
def test_content_types_are_guessed_as_cloud_init_does(payload: bytes, expected: str) -> None:
    assert guess_content_type(payload) == expected
    decoded = decode_user_data(payload)
    assert decoded.parts == (UserDataPart(expected, None, payload),)
    assert not decoded.gzipped
    assert not decoded.multipart


def test_gzip_is_undone_member_by_member() -> None:
    data = gzip.compress(SCRIPT[:5], mtime=0) + gzip.compress(SCRIPT[5:], mtime=0)  # two members
    decoded = decode_user_data(data)
    assert decoded.gzipped
    assert decoded.parts == (UserDataPart("text/x-shellscript", None, SCRIPT),)


def test_a_gzip_bomb_is_refused_without_filling_memory() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), mtime=0)  # 64 MiB of zeros in ~64 KiB
    assert len(bomb) < 100_000
    with pytest.raises(UserDataError, match=r"decodes to more than 16,777,216 bytes"):
        decode_user_data(bomb)
    assert MAX_DECODED == 16 * 1024 * 1024
    # The cap is the caller's to set, and counts every part together.
    with pytest.raises(UserDataError, match="more than 10 bytes"):
        decode_user_data(gzip.compress(SCRIPT, mtime=0), max_size=10)
    doc = mime(part("text/x-shellscript", SCRIPT), part("text/x-shellscript", SCRIPT))
    assert len(decode_user_data(doc, max_size=2 * len(SCRIPT)).parts) == 2
    with pytest.raises(UserDataError, match="user data part 2: decodes to more than"):
        decode_user_data(doc, max_size=2 * len(SCRIPT) - 1)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (gzip.compress(SCRIPT, mtime=0)[:-6], "truncated gzip data"),
        (b"\x1f\x8b" + b"\x00" * 20, "corrupt gzip data"),
        (gzip.compress(SCRIPT, mtime=0) + b"junk", "data after the gzip stream"),
    ],
    ids=["truncated", "corrupt", "trailing"],
)
def test_bad_gzip_is_a_clear_error(data: bytes, reason: str) -> None:
    with pytest.raises(UserDataError, match=reason) as caught:
        decode_user_data(data)
    assert isinstance(caught.value, IMDSError)
    assert str(caught.value).startswith("user data: ")


def test_zero_padding_after_a_gzip_member_is_allowed() -> None:
    assert decode_user_data(gzip.compress(SCRIPT, mtime=0) + b"\0" * 8).parts[0].payload == SCRIPT


def test_a_mime_document_is_split_into_its_parts() -> None:
    doc = mime(
        part('text/cloud-config; charset="us-ascii"', CLOUD_CONFIG, filename="cloud-config.txt"),
        part("text/x-shellscript", SCRIPT, encoding="base64", filename="boot.sh"),
        part(
            "application/x-gzip", gzip.compress(b"#cloud-boothook\nx\n", mtime=0), encoding="base64"
        ),
        part("text/plain", b"caf\xc3\xa9=20", encoding="quoted-printable"),
    )
    decoded = decode_user_data(doc)
    assert decoded.multipart
    assert not decoded.gzipped
    assert decoded.parts == (
        UserDataPart("text/cloud-config", "cloud-config.txt", CLOUD_CONFIG),
        UserDataPart("text/x-shellscript", "boot.sh", SCRIPT),
        UserDataPart("text/cloud-boothook", None, b"#cloud-boothook\nx\n", gzipped=True),
        UserDataPart("text/plain", None, "café ".encode()),
    )
    assert decoded.parts[3].text() == "café "
    # A gzipped MIME document, as EKS and ansible send it.
    again = decode_user_data(gzip.compress(doc, mtime=0))
    assert again.gzipped
    assert again.parts == decoded.parts


def test_nested_multipart_documents_give_their_leaves() -> None:
    inner = mime(part("text/x-shellscript", SCRIPT), boundary="inner")
    doc = mime(part("text/cloud-config", CLOUD_CONFIG), inner.replace(b"MIME-Version: 1.0\n", b""))
    types = [p.content_type for p in decode_user_data(doc).parts]
    assert types == ["text/cloud-config", "text/x-shellscript"]


def test_a_single_mime_part_is_one_part() -> None:
    doc = b"Content-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\n"
    doc += base64.encodebytes(SCRIPT)
    decoded = decode_user_data(doc)
    assert decoded.multipart
    assert decoded.parts == (UserDataPart("text/x-shellscript", None, SCRIPT),)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            mime(b"Content-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\n!!no!!"),
            "user data part 1: invalid base64",
        ),
        (b'Content-Type: multipart/mixed; boundary="gone"\n\nno parts here\n', "without parts"),
    ],
    ids=["base64", "no-parts"],
)
def test_bad_mime_is_a_clear_error(data: bytes, reason: str) -> None:
    with pytest.raises(UserDataError, match=reason):
        decode_user_data(data)


def test_text_of_a_binary_part_is_an_error() -> None:
    with pytest.raises(UserDataError, match="not UTF-8 text"):
        UserDataPart("application/octet-stream", None, b"\xff").text()


def test_the_input_is_never_changed() -> None:
    data = bytearray(gzip.compress(SCRIPT, mtime=0))
    before = bytes(data)
    decode_user_data(bytes(data))
    assert data == before
    with pytest.raises(ValueError, match="max_size=0"):
        decode_user_data(SCRIPT, max_size=0)


# -- the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator() as s:
        yield s


def _decode_cli(sim: IMDSSimulator, user_data: bytes, tmp_path: Path) -> tuple[int, bytes, str]:
    sim.set("user-data", user_data)
    result = run("-U", "--decode", *on(sim, tmp_path))
    return result.code, result.out, result.err


def test_cli_decode_of_gzip_prints_the_text(sim: IMDSSimulator, tmp_path: Path) -> None:
    data = gzip.compress(SCRIPT, mtime=0)
    code, out, err = _decode_cli(sim, data, tmp_path)
    assert (code, out, err) == (0, SCRIPT, "")
    # Without --decode, the bytes as served.
    assert run("-U", *on(sim, tmp_path)).out == data


def test_cli_decode_of_mime_prints_the_parts(sim: IMDSSimulator, tmp_path: Path) -> None:
    doc = mime(
        part("text/cloud-config", CLOUD_CONFIG, filename="cc.txt"),
        part("application/octet-stream", b"\xff\x00", encoding="base64", filename="blob"),
    )
    code, out, err = _decode_cli(sim, gzip.compress(doc, mtime=0), tmp_path)
    assert (code, err) == (0, "")
    assert json.loads(out) == [
        {
            "content_type": "text/cloud-config",
            "filename": "cc.txt",
            "gzipped": False,
            "payload": CLOUD_CONFIG.decode(),
        },
        {
            "content_type": "application/octet-stream",
            "filename": "blob",
            "gzipped": False,
            "payload_base64": base64.b64encode(b"\xff\x00").decode(),
        },
    ]


def test_cli_refuses_a_gzip_bomb_in_one_line(sim: IMDSSimulator, tmp_path: Path) -> None:
    sim.set("user-data", gzip.compress(b"\0" * (32 * 1024 * 1024), mtime=0))
    result = run("-U", "--decode", *on(sim, tmp_path))
    line = error_line(result, 1)
    assert "decodes to more than 16,777,216 bytes" in line
    assert result.out == b""


def test_decode_belongs_to_user_data(sim: IMDSSimulator, tmp_path: Path) -> None:
    line = error_line(run("--decode", "--raw", "meta-data/instance-id", *on(sim, tmp_path)), 2)
    assert "--decode" in line
