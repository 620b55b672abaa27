"""``ec2imds._signatures``: the DSA and RSA checks behind identity verification, against
Project Wycheproof's vectors (read from ``shared/wycheproof`` beside the repository, never
copied into it: skipped where that folder is absent, a failure under ``CI=true``).

Every ``valid`` vector must verify and every ``invalid`` one must not. Wycheproof marks
some ``acceptable`` (either verdict defensible); the verdicts chosen are pinned here and
explained in docs/identity.md:

* DSA ``MissingZero`` / ``NoLeadingZero`` (an INTEGER whose high bit is set, encoded
  without its leading zero byte: a negative number in DER): refused, strict DER;
* RSA ``MissingNull`` (a DigestInfo without the NULL parameters): refused, as
  ``cryptography`` does;
* RSA ``SmallModulus`` (1024-bit keys) and ``SmallPublicKey`` (e = 3): accepted, AWS's
  ``signature`` certificates hold 1024-bit keys.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from ec2imds._signatures import (
    DSAPrivateKey,
    DSAPublicKey,
    _der_integer_pair,
    load_private_key,
    load_public_key,
)
from ec2imds.simulator.identity import key_pair
from tests.support.paths import shared_data

HASH = {"SHA-1": "sha1", "SHA-224": "sha224", "SHA-256": "sha256", "SHA-512": "sha512"}
FILES = {
    # file: (algorithm, the number of test cases, the count of each verdict)
    "legacy_dsa_test.json": ("dsa", {"valid": 33, "invalid": 870, "acceptable": 3}),
    "dsa_2048_224_sha224_test.json": ("dsa", {"valid": 52, "invalid": 283, "acceptable": 1}),
    "dsa_2048_224_sha256_test.json": ("dsa", {"valid": 80, "invalid": 283, "acceptable": 1}),
    "dsa_2048_256_sha256_test.json": ("dsa", {"valid": 82, "invalid": 283, "acceptable": 1}),
    "dsa_3072_256_sha256_test.json": ("dsa", {"valid": 82, "invalid": 283, "acceptable": 1}),
    "legacy_rsa_signature_test.json": ("rsa", {"valid": 84, "invalid": 230, "acceptable": 63}),
    "rsa_signature_2048_sha256_test.json": ("rsa", {"valid": 9, "invalid": 249, "acceptable": 1}),
}
#: The verdict chosen for each flag Wycheproof marks "acceptable".
ACCEPTABLE = {
    "MissingZero": False,
    "NoLeadingZero": False,
    "MissingNull": False,
    "SmallModulus": True,
    "SmallPublicKey": True,
}


def _vectors(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared_data("wycheproof", name).read_text())
    return data


@pytest.mark.parametrize("name", sorted(FILES))
def test_wycheproof_vectors(name: str) -> None:
    algorithm, counts = FILES[name]
    data = _vectors(name)
    seen: Counter[str] = Counter()
    wrong: list[str] = []
    for group in data["testGroups"]:
        key = load_public_key(bytes.fromhex(group.get("publicKeyDer") or group["keyDer"]))
        assert key.algorithm == algorithm
        for case in group["tests"]:
            seen[case["result"]] += 1
            got = key.verify(
                bytes.fromhex(case["sig"]), bytes.fromhex(case["msg"]), HASH[group["sha"]]
            )
            if case["result"] == "acceptable":
                expected = all(ACCEPTABLE[flag] for flag in case["flags"])
            else:
                expected = case["result"] == "valid"
            if got != expected:
                wrong.append(f"tcId {case['tcId']} ({case['comment']}, {case['flags']}): {got}")
    assert dict(seen) == counts  # every case ran
    assert wrong == []


def test_aws_sized_dsa_keys_are_among_the_vectors() -> None:
    """The pkcs7 identity signature is DSA-1024 with SHA-1: the legacy file covers it."""
    sizes = {
        (key.p.bit_length(), key.q.bit_length(), group["sha"])
        for group in _vectors("legacy_dsa_test.json")["testGroups"]
        for key in [load_public_key(bytes.fromhex(group["keyDer"]))]
        if isinstance(key, DSAPublicKey)
    }
    assert (1024, 160, "SHA-1") in sizes


# -- without the vectors: the simulator's TEST key, and the DER reader -----------------------


def _test_dsa_key() -> DSAPrivateKey:
    from asn1crypto import pem

    private, _ = key_pair("pkcs7")
    key = load_private_key(pem.unarmor(private)[2])
    assert isinstance(key, DSAPrivateKey)
    return key


def test_a_signature_made_with_the_test_key_verifies_and_only_for_its_message() -> None:
    key = _test_dsa_key()
    assert (key.public.p.bit_length(), key.public.q.bit_length()) == (1024, 160)
    signature = key.sign(b"document", "sha1")
    assert key.public.verify(signature, b"document", "sha1")
    assert not key.public.verify(signature, b"documenT", "sha1")
    assert not key.public.verify(signature, b"document", "sha256")
    # k is random: two signatures of one message differ, and both verify.
    again = key.sign(b"document", "sha1")
    assert again != signature
    assert key.public.verify(again, b"document", "sha1")


def test_the_certificate_key_is_the_private_keys_public_half() -> None:
    from asn1crypto import pem, x509

    _, certificate = key_pair("pkcs7")
    cert = x509.Certificate.load(pem.unarmor(certificate)[2])
    public = load_public_key(cert["tbs_certificate"]["subject_public_key_info"].dump())
    assert public == _test_dsa_key().public


@pytest.mark.parametrize(
    ("der", "pair"),
    [
        ("3006020101020102", (1, 2)),
        ("300702020080020102", (128, 2)),  # the leading zero a high bit needs
        ("3006020180020102", None),  # negative r
        ("30070202000102 0102", None),  # a leading zero that is not needed
        ("308106020101020102", None),  # a long length where the short one fits
        ("3080020101020102 0000", None),  # indefinite length (BER)
        ("3006020101020102 00", None),  # trailing byte
        ("30050201010201", None),  # truncated
        ("3009020101020102020103", None),  # a third integer
        ("3005020101 0400", None),  # not an integer
        ("3005020002 0102", None),  # an empty integer
        ("", None),
    ],
)
def test_signatures_are_read_as_strict_der(der: str, pair: tuple[int, int] | None) -> None:
    assert _der_integer_pair(bytes.fromhex(der.replace(" ", ""))) == pair


@pytest.mark.parametrize(
    ("p", "q", "g", "y"),
    [
        (23, 11, 4, 2),  # far too small
        (((1 << 159) + 1 << 864) + 1, (1 << 159) + 1, 0, 5),  # g out of range
    ],
)
def test_unusable_dsa_keys_are_refused(p: int, q: int, g: int, y: int) -> None:
    with pytest.raises(ValueError, match="not a usable DSA key"):
        DSAPublicKey(p, q, g, y)


def test_malformed_public_keys_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a usable public key"):
        load_public_key(b"\x30\x03\x02\x01\x01")
