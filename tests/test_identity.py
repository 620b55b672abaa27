"""Verifying the instance identity document: ``ec2imds.identity``, ``verified_identity()``
and ``ec2imds --verify-identity``.

Signatures come from the simulator's TEST key pairs (``ec2imds.testing``); the AWS
certificates shipped in the package are compared with ``shared/aws-identity-certs``.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ec2imds._signatures import RSAPublicKey, load_public_key
from ec2imds.catalog import INSTANCE_ID, default_tree
from ec2imds.cli import main as cli_main
from ec2imds.client import IMDS, AsyncIMDS
from ec2imds.errors import IdentityVerificationError, IMDSConfigError, IMDSHTTPError
from ec2imds.identity import (
    MAX_BLOB,
    SIGNATURE_KINDS,
    IdentityCertificate,
    SignatureKind,
    VerifiedIdentity,
    certificate_for,
    load_certificate,
    pinned_certificates,
    verify_identity,
    verify_served,
)
from ec2imds.simulator import IMDSSimulator
from ec2imds.simulator.identity import (
    aws_json,
    blobs_for,
    default_document,
    key_pair,
    sign_pkcs7,
)
from ec2imds.testing import TEST_CERTIFICATES, FakeIMDS, sign_identity_document
from tests.helpers import shared_data

ROOT = Path(__file__).resolve().parent.parent
GUARD_DIR = ROOT / "tests" / "_guard"
DOC = default_document()
BLOBS = blobs_for(DOC) or {}
PATHS: dict[str, str] = {kind: f"dynamic/instance-identity/{kind}" for kind in SIGNATURE_KINDS}
DOC_PATH = "dynamic/instance-identity/document"


def doc_with(**changes: Any) -> bytes:
    """The default document with some fields changed, laid out as AWS does."""
    return aws_json({**json.loads(DOC), **changes}).encode()


def der(blob: str) -> bytes:
    return base64.b64decode(blob)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def fails(
    document: bytes | str,
    blob: bytes | str,
    kind: SignatureKind,
    certificate: Any = "test",
) -> str:
    """The message of the IdentityVerificationError ``verify_identity`` must raise."""
    cert = TEST_CERTIFICATES[kind] if certificate == "test" else certificate
    with pytest.raises(IdentityVerificationError) as caught:
        verify_identity(document, blob, kind=kind, certificate=cert)
    message = str(caught.value)
    assert caught.value.kind == kind
    assert message.startswith(f"{kind}: ")
    assert "\n" not in message
    return message


def tree_with(document: bytes | None = None, **blobs: str | None) -> dict[str, Any]:
    """The default tree, its identity document and blobs replaced (``None``: removed)."""
    tree: dict[str, Any] = default_tree()
    identity = tree["dynamic"]["instance-identity"]
    if document is not None:
        identity["document"] = document.decode()
    for kind, blob in blobs.items():
        if blob is None:
            identity.pop(kind)
        else:
            identity[kind] = blob
    return tree


class Recorder:
    """A ``get`` for :func:`verify_served` over a dict of bodies, recording the paths."""

    def __init__(self, bodies: Mapping[str, bytes | str | None]) -> None:
        self.bodies = bodies
        self.paths: list[str] = []

    def __call__(self, path: str) -> bytes | None:
        self.paths.append(path)
        body = self.bodies.get(path)
        return body.encode() if isinstance(body, str) else body


def served(**overrides: bytes | str | None) -> dict[str, bytes | str | None]:
    bodies: dict[str, bytes | str | None] = {
        DOC_PATH: DOC,
        **{PATHS[k]: BLOBS[k] for k in SIGNATURE_KINDS},
    }
    for kind, value in overrides.items():
        bodies[DOC_PATH if kind == "document" else PATHS[kind]] = value
    return bodies


# -- the pinned AWS certificates -----------------------------------------------------------


def test_shipped_certificates_are_the_published_file() -> None:
    published = shared_data("aws-identity-certs", "certificates.json")
    shipped = resources.files("ec2imds").joinpath("aws_identity_certificates.json").read_bytes()
    assert shipped == published.read_bytes()


def test_pinned_certificates_parse_and_match_their_fingerprints() -> None:
    text = resources.files("ec2imds").joinpath("aws_identity_certificates.json").read_text()
    shipped = json.loads(text)
    entries = [e for k in SIGNATURE_KINDS for e in shipped[k]]
    pinned = pinned_certificates()
    assert [c.kind for c in pinned] == [k for k in SIGNATURE_KINDS for _ in shipped[k]]
    assert [len(shipped[k]) for k in SIGNATURE_KINDS] == [31, 12, 13]
    assert len(pinned) == len(entries)
    algorithms: dict[str, list[str]] = {k: [] for k in SIGNATURE_KINDS}
    for cert, entry in zip(pinned, entries):
        assert (cert.label, cert.regions, cert.sha256) == (
            entry["label"],
            tuple(entry["regions"]),
            entry["sha256"],
        )
        der = asn1_pem.unarmor(cert.pem.encode())[2]
        assert hashlib.sha256(der).digest().hex(":").upper() == entry["sha256"]
        spki = asn1_x509.Certificate.load(der)["tbs_certificate"]["subject_public_key_info"]
        key = load_public_key(spki.dump())
        algorithms[cert.kind].append(key.algorithm)
        if isinstance(key, RSAPublicKey):
            assert cert.kind != "rsa2048" or key.key.key_size == 2048
    # AWS's pkcs7 certificates are DSA but China's (RSA); the other kinds are RSA.
    assert algorithms == {
        "rsa2048": ["rsa"] * 31,
        "pkcs7": sorted(algorithms["pkcs7"]),
        "signature": ["rsa"] * 13,
    }
    assert algorithms["pkcs7"].count("dsa") == 11


@pytest.mark.parametrize(
    ("kind", "region", "label"),
    [
        ("rsa2048", "us-east-1", "US East (N. Virginia)"),
        ("rsa2048", "ap-south-2", "Asia Pacific (Hyderabad)"),
        ("rsa2048", "us-gov-west-1", "AWS GovCloud (US-West) Region"),
        ("rsa2048", "ca-west-1", None),  # opened after the pinned set
        ("rsa2048", "il-central-1", None),
        ("pkcs7", "us-east-1", "Other AWS Regions"),
        ("pkcs7", "eu-west-3", "Other AWS Regions"),
        ("pkcs7", "ap-east-1", "Asia Pacific (Hong Kong)"),
        ("pkcs7", "cn-northwest-1", "China"),
        ("pkcs7", "us-gov-east-1", None),  # "other" is commercial regions only
        ("pkcs7", "ca-west-1", None),  # not one of the regions AWS published
        ("signature", "sa-east-1", "Other AWS Regions"),
        ("signature", "me-central-1", "Middle East (UAE)"),
        ("signature", "us-gov-east-1", "AWS GovCloud (US)"),
        ("signature", "cn-north-1", "China"),
    ],
)
def test_certificate_for_a_region(kind: SignatureKind, region: str, label: str | None) -> None:
    found = certificate_for(kind, region)
    assert (found.label if found is not None else None) == label
    if found is not None:
        assert found.kind == kind
        assert found.source == "aws"
        assert found.serves(region)


# -- what the simulator serves -------------------------------------------------------------


def test_simulator_serves_the_document_as_aws_lays_it_out() -> None:
    with IMDSSimulator() as sim, IMDS(endpoints=[sim.endpoint]) as imds:
        document = imds.fetch(DOC_PATH)
        blobs = {kind: imds.fetch(PATHS[kind]) for kind in SIGNATURE_KINDS}
    assert document == DOC
    assert document.startswith(b'{\n  "accountId" : "123456789012",\n  "architecture" : ')
    assert b'  "billingProducts" : null,\n' in document
    assert document.endswith(b'"version" : "2017-09-30"\n}')
    assert (
        aws_json({"a": [1, "b"], "c": {}, "d": []})
        == '{\n  "a" : [ 1, "b" ],\n  "c" : { },\n  "d" : [ ]\n}'
    )
    for kind, blob in blobs.items():
        assert blob is not None
        lines = blob.decode("ascii").split("\n")
        assert len(lines) > 2, kind
        assert all(0 < len(line) <= 64 for line in lines), kind
        data = base64.b64decode(blob)
        if kind != "signature":
            # BER with indefinite lengths, as AWS's PKCS#7 starts: 30 80 06 09 2a 86 48...
            assert data.startswith(bytes.fromhex("3080 0609 2a864886f70d010702 a080")), kind
            assert DOC in data


def test_presigned_blobs_are_for_the_default_document() -> None:
    data = json.loads(
        resources.files("ec2imds.simulator").joinpath("identity_test_keys.json").read_text()
    )
    assert data["presigned"]["document"].encode() == default_document(), (
        "the catalog's identity document changed: run python -m ec2imds.simulator.identity"
    )
    for kind in SIGNATURE_KINDS:
        verify_identity(
            DOC, data["presigned"][kind], kind=kind, certificate=TEST_CERTIFICATES[kind]
        )


@pytest.mark.parametrize("kind", SIGNATURE_KINDS)
def test_simulator_signs_a_custom_document(kind: SignatureKind) -> None:
    custom = doc_with(instanceId="i-0custom0000000001", region="eu-central-2")
    with IMDSSimulator(tree_with(custom)) as s, IMDS(endpoints=[s.endpoint]) as imds:
        result = imds.verified_identity(kind=kind, certificate=TEST_CERTIFICATES)
    assert result.raw == custom
    assert result.document.instance_id == "i-0custom0000000001"
    assert result.document.region == "eu-central-2"


def test_simulator_signs_again_when_the_document_is_set() -> None:
    with IMDSSimulator() as sim:
        old_rsa2048 = sim.get(PATHS["rsa2048"])
        new = doc_with(instanceId="i-0after00000000002")
        sim.set(DOC_PATH, new.decode())
        with IMDS(endpoints=[sim.endpoint]) as imds:
            assert imds.verified_identity(certificate=TEST_CERTIFICATES).raw == new
        # A blob set by hand is served as set (here: the old document's signature).
        assert isinstance(old_rsa2048, str)
        sim.set(PATHS["rsa2048"], old_rsa2048)
        with (
            IMDS(endpoints=[sim.endpoint]) as imds,
            pytest.raises(IdentityVerificationError, match="differs from the served"),
        ):
            imds.verified_identity(certificate=TEST_CERTIFICATES)


def test_a_tree_with_its_own_blobs_is_served_as_given() -> None:
    """Blobs the simulator did not sign (a tree saved from a real instance) are kept."""
    own = doc_with(instanceId="i-0mine000000000003")
    tree = tree_with(own, rsa2048="bm90IGEgc2lnbmF0dXJl", pkcs7=None)
    core = FakeIMDS(tree)
    assert core.get(PATHS["rsa2048"]) == "bm90IGEgc2lnbmF0dXJl"
    assert core.get(PATHS["pkcs7"]) is None
    signature = core.get(PATHS["signature"])
    assert isinstance(signature, str)
    verify_identity(own, signature, kind="signature", certificate=TEST_CERTIFICATES["signature"])


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(GUARD_DIR), str(ROOT)) if p)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_without_cryptography_the_simulator_serves_and_verification_says_what_to_install() -> None:
    code = """if True:
        import json, sys
        sys.modules["cryptography"] = None  # as if the verify extra were not installed
        from ec2imds.catalog import default_tree
        from ec2imds.errors import IMDSConfigError
        from ec2imds.identity import verify_identity
        from ec2imds.testing import FakeIMDS
        tree = default_tree()
        identity = tree["dynamic"]["instance-identity"]
        old = identity["rsa2048"]
        identity["document"] = identity["document"].replace("m5.large", "m5.xlarge")
        fake = FakeIMDS(tree)
        with fake.client() as c:
            token = c.put("/latest/api/token",
                          headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}).text
            h = {"X-aws-ec2-metadata-token": token}
            doc = c.get("/latest/dynamic/instance-identity/document", headers=h).content
            blob = c.get("/latest/dynamic/instance-identity/rsa2048", headers=h).text
        assert b"m5.xlarge" in doc and blob == old
        try:
            verify_identity(doc, blob)
        except IMDSConfigError as exc:  # a missing extra is a configuration error
            print(exc)
    """
    done = _run_python(code)
    assert done.returncode == 0, done.stderr
    assert "pip install 'ec2imds[verify]'" in done.stdout
    assert done.stdout.count("\n") == 1

    cli = _run_python(
        "import sys; sys.modules['asn1crypto'] = None\n"
        "from ec2imds.cli import main\n"
        "raise SystemExit(main(['--simulate', '--verify-identity']))\n"
    )
    assert cli.returncode == 2  # a configuration error, as a bad option
    assert "Traceback" not in cli.stderr
    first, last = cli.stderr.splitlines()[-2:]
    assert first.startswith("ec2imds: verifying the identity document needs cryptography")
    assert "(asn1crypto is missing)" in first
    assert first.endswith("pip install 'ec2imds[verify]'")
    assert last == "Run 'ec2imds -h' for help."
    assert cli.stdout == ""


# -- the library: good paths, order and fall-back -------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator() as s:
        yield s


def verified(
    sim: IMDSSimulator,
    mode: str,
    kind: SignatureKind | None = None,
    certificate: Any = TEST_CERTIFICATES,
) -> VerifiedIdentity:
    """``verified_identity()`` from a sync or an async client."""
    if mode == "sync":
        with IMDS(endpoints=[sim.endpoint]) as imds:
            return imds.verified_identity(kind=kind, certificate=certificate)

    async def main() -> VerifiedIdentity:
        async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:
            return await aimds.verified_identity(kind=kind, certificate=certificate)

    return asyncio.run(main())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_verified_identity(sim: IMDSSimulator, mode: str) -> None:
    result = verified(sim, mode)
    assert result.kind == "rsa2048"
    assert result.raw == DOC
    assert result.document.instance_id == INSTANCE_ID
    assert result.document.region == "us-east-1"
    assert result.certificate.source == "supplied"
    assert "TEST ONLY rsa2048" in result.certificate.label
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.kind = "pkcs7"  # type: ignore[misc]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", SIGNATURE_KINDS)
def test_verified_identity_of_a_forced_kind(
    sim: IMDSSimulator, mode: str, kind: SignatureKind
) -> None:
    # One certificate (not a dict): the one of the forced kind.
    result = verified(sim, mode, kind, TEST_CERTIFICATES[kind])
    assert (result.kind, result.raw) == (kind, DOC)


@pytest.mark.parametrize(
    ("absent", "reads", "kind"),
    [
        ((), ["rsa2048"], "rsa2048"),
        (("rsa2048",), ["rsa2048", "pkcs7"], "pkcs7"),
        (("rsa2048", "pkcs7"), ["rsa2048", "pkcs7", "signature"], "signature"),
        (("pkcs7",), ["rsa2048"], "rsa2048"),
    ],
)
def test_fallback_order_on_404(
    absent: tuple[SignatureKind, ...], reads: list[SignatureKind], kind: SignatureKind
) -> None:
    get = Recorder(served(**dict.fromkeys(absent)))
    result = verify_served(get, certificate=TEST_CERTIFICATES)
    assert result.kind == kind
    assert get.paths == [DOC_PATH, *(PATHS[k] for k in reads)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fallback_through_the_simulator(mode: str) -> None:
    with IMDSSimulator(tree_with(rsa2048=None)) as s:
        assert verified(s, mode).kind == "pkcs7"
        s.delete(PATHS["pkcs7"])
        assert verified(s, mode).kind == "signature"
        s.delete(PATHS["signature"])
        with pytest.raises(IdentityVerificationError, match="serves no rsa2048 or pkcs7 or"):
            verified(s, mode)


@pytest.mark.parametrize(
    ("bad", "absent", "reads"),
    [
        ("rsa2048", (), ["rsa2048"]),
        ("pkcs7", ("rsa2048",), ["rsa2048", "pkcs7"]),
    ],
)
def test_a_failed_check_never_falls_through(
    bad: SignatureKind, absent: tuple[SignatureKind, ...], reads: list[SignatureKind]
) -> None:
    other = sign_identity_document(doc_with(instanceId="i-0other0000000004"))
    get = Recorder(served(**{bad: other[bad]}, **dict.fromkeys(absent)))
    with pytest.raises(IdentityVerificationError) as caught:
        verify_served(get, certificate=TEST_CERTIFICATES)
    assert caught.value.kind == bad
    assert get.paths == [DOC_PATH, *(PATHS[k] for k in reads)]


def test_an_imds_error_on_a_signature_is_raised_not_skipped() -> None:
    def get(path: str) -> bytes | None:
        if path == PATHS["rsa2048"]:
            raise IMDSHTTPError("HTTP 500", status=500, path=path)
        return Recorder(served())(path)

    with pytest.raises(IMDSHTTPError):
        verify_served(get, certificate=TEST_CERTIFICATES)


def test_a_forced_kind_that_is_absent_is_an_error() -> None:
    get = Recorder(served(pkcs7=None))
    with pytest.raises(IdentityVerificationError, match=r"serves no pkcs7 signature .*\(404\)"):
        verify_served(get, kind="pkcs7", certificate=TEST_CERTIFICATES)
    assert get.paths == [DOC_PATH, PATHS["pkcs7"]]


def test_no_document_is_an_error() -> None:
    with pytest.raises(IdentityVerificationError, match="no identity document"):
        verify_served(Recorder(served(document=None)))


def test_a_certificate_per_kind_leaves_the_others_pinned() -> None:
    """A dict of certificates: the kinds it does not name use AWS's pinned ones."""
    get = Recorder(served(rsa2048=None))
    with pytest.raises(IdentityVerificationError, match="AWS's pkcs7 certificate for Other"):
        verify_served(get, certificate={"rsa2048": TEST_CERTIFICATES["rsa2048"]})


# -- bad input: each gives the library's error, one line, and no document -----------------------


@pytest.mark.parametrize("kind", SIGNATURE_KINDS)
@pytest.mark.parametrize(
    "where",
    [0, DOC.index(b"456789012"), DOC.index(b"89abcdef0"), DOC.index(b"east-1a"), len(DOC) - 1],
)
def test_a_document_changed_by_one_byte(kind: SignatureKind, where: int) -> None:
    changed = bytearray(DOC)
    changed[where] ^= 0x01
    message = fails(bytes(changed), BLOBS[kind], kind)
    if where in (0, len(DOC) - 1):
        assert "not JSON" in message  # found before the signature is looked at
    elif kind != "signature":
        assert "differs from the served document" in message
    else:
        assert "does not verify" in message


@pytest.mark.parametrize("kind", SIGNATURE_KINDS)
def test_another_instances_valid_signature(kind: SignatureKind) -> None:
    other_doc = doc_with(instanceId="i-0another000000005", privateIp="10.0.9.9")
    other = sign_identity_document(other_doc)
    verify_identity(other_doc, other[kind], kind=kind, certificate=TEST_CERTIFICATES[kind])
    message = fails(DOC, other[kind], kind)
    expected = "does not verify" if kind == "signature" else "differs from the served document"
    assert expected in message


@pytest.mark.parametrize("kind", ["rsa2048", "pkcs7"])
def test_a_pkcs7_by_a_self_made_certificate_copying_aws_subject(kind: SignatureKind) -> None:
    """The forger embeds a certificate that looks like AWS's (same subject, issuer and
    serial): trust comes from the pinned certificate only, so it fails."""
    pinned = certificate_for(kind, "us-east-1")
    assert pinned is not None
    aws = x509.load_pem_x509_certificate(pinned.pem.encode())
    key = rsa.generate_private_key(65537, 2048)
    forged = (
        x509.CertificateBuilder()
        .subject_name(aws.subject)
        .issuer_name(aws.issuer)
        .serial_number(aws.serial_number)
        .public_key(key.public_key())
        .not_valid_before(aws.not_valid_before_utc)
        .not_valid_after(aws.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )
    blob = sign_pkcs7(
        DOC,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        forged.public_bytes(serialization.Encoding.PEM),
        embed_certificate=True,
    )
    assert forged.public_bytes(serialization.Encoding.DER) in der(blob)
    message = fails(DOC, blob, kind, certificate=None)
    if kind == "rsa2048":
        assert "does not verify with AWS's rsa2048 certificate for US East (N. Virginia)" in message
    else:  # AWS's DSA certificate: the RSA signature does not even fit it
        assert "signed with RSA, but the certificate (Other AWS Regions) holds a DSA key" in message


def _truncated(blob: str) -> str:
    data = der(blob)
    return b64(data[: len(data) // 2])


@pytest.mark.parametrize("kind", SIGNATURE_KINDS)
@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_truncated, ""),
        (lambda blob: blob[: len(blob) // 2 - 1], "not valid base64"),
        (lambda blob: "%%%%" + blob, "not valid base64"),
        (lambda blob: blob.replace("A", "é", 1), "non-ASCII"),
        (lambda blob: "-----BEGIN PKCS7-----\n" + blob, "not valid base64"),
        (lambda blob: "", "empty"),
        (lambda blob: " \n\n ", "empty"),
        (lambda blob: "A" * (MAX_BLOB + 4), "at most"),
        (lambda blob: b64(os.urandom(900)), ""),
        (lambda blob: b64(b"{" + DOC), ""),
    ],
)
def test_malformed_blobs(kind: SignatureKind, make: Callable[[str], str], expected: str) -> None:
    message = fails(DOC, make(BLOBS[kind]), kind)
    assert expected in message


@pytest.mark.parametrize("kind", ["rsa2048", "pkcs7"])
def test_a_pkcs7_whose_content_differs_from_the_served_document(kind: SignatureKind) -> None:
    other = sign_identity_document(DOC + b" ")
    message = fails(DOC, other[kind], kind)
    assert message == f"{kind}: the document inside the PKCS#7 differs from the served document"


@pytest.mark.parametrize("kind", ["rsa2048", "pkcs7"])
def test_the_signed_message_digest_must_be_the_documents(kind: SignatureKind) -> None:
    """Content swapped for a same-length document: the signature over the signed
    attributes is intact, but their message digest is of the other document."""
    twin = DOC.replace(b"m5.large", b"m5.LARGE")
    blob = der(sign_identity_document(twin)[kind])
    message = fails(DOC, b64(blob.replace(twin, DOC)), kind)
    assert "message digest" in message


@pytest.mark.parametrize("kind", ["rsa2048", "pkcs7"])
def test_a_changed_signature_value(kind: SignatureKind) -> None:
    data = bytearray(der(BLOBS[kind]))
    data[-15] ^= 0x40  # inside the signature value, before the closing end-of-contents
    message = fails(DOC, b64(bytes(data)), kind)
    assert "does not verify" in message


@pytest.mark.parametrize("kind", ["rsa2048", "pkcs7"])
def test_every_truncation_and_byte_flip_is_a_clean_outcome(kind: SignatureKind) -> None:
    """No input raises anything but IdentityVerificationError; whatever still verifies
    (a change in an unsigned field, such as the version) verified the served bytes."""
    data = der(BLOBS[kind])
    cases = [data[:n] for n in range(len(data))]
    cases += [data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :] for i in range(len(data))]
    verified_count = 0
    for case in cases:
        try:
            result = verify_identity(DOC, b64(case), kind=kind, certificate=TEST_CERTIFICATES[kind])
        except IdentityVerificationError:
            continue
        assert result.raw == DOC
        verified_count += 1
    assert verified_count < len(data) // 4  # most changes are caught


@pytest.mark.parametrize("kind", SIGNATURE_KINDS)
@pytest.mark.parametrize("region", ["ca-west-1", "mx-central-1"])
def test_a_region_without_a_pinned_certificate(kind: SignatureKind, region: str) -> None:
    document = doc_with(region=region, availabilityZone=f"{region}a")
    blob = sign_identity_document(document)[kind]
    message = fails(document, blob, kind, certificate=None)
    assert f"no pinned AWS {kind} certificate for region {region!r}" in message
    assert "supply it with certificate=" in message
    assert "--certificate" in message
    # ... and with the certificate supplied, it verifies.
    verify_identity(document, blob, kind=kind, certificate=TEST_CERTIFICATES[kind])


def test_a_dsa_blob_given_as_rsa2048() -> None:
    for certificate in (TEST_CERTIFICATES["rsa2048"], None):
        message = fails(DOC, BLOBS["pkcs7"], "rsa2048", certificate=certificate)
        assert "signed with DSA" in message
        assert "(is this the pkcs7 blob?)" in message


def test_an_rsa2048_blob_given_as_pkcs7() -> None:
    message = fails(DOC, BLOBS["rsa2048"], "pkcs7")
    assert "signed with RSA, but the certificate" in message
    assert "holds a DSA key" in message


@pytest.mark.parametrize("kind", SIGNATURE_KINDS)
def test_aws_pinned_certificates_do_not_verify_test_signatures(kind: SignatureKind) -> None:
    message = fails(DOC, BLOBS[kind], kind, certificate=None)
    if kind == "rsa2048":
        assert "AWS's rsa2048 certificate for US East (N. Virginia)" in message
    elif kind == "signature":
        assert "AWS's signature certificate for Other AWS Regions" in message
    else:  # the pinned DSA certificate and the test DSA key
        assert "AWS's pkcs7 certificate for Other AWS Regions" in message


def test_a_pinned_certificate_must_serve_the_documents_region() -> None:
    ireland = certificate_for("rsa2048", "eu-west-1")
    assert ireland is not None
    message = fails(DOC, BLOBS["rsa2048"], "rsa2048", certificate=ireland)
    assert "does not serve region 'us-east-1'" in message


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b"", "document is empty"),
        (b"{not json", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[1, 2]", "names no region"),
        (b'{"accountId" : "1"}', "names no region"),
        (b'{"region" : 7}', "names no region"),
        (b'{"region" : "us-east-1", "pad" : "' + b"x" * 70000 + b'"}', "at most"),
    ],
)
def test_bad_documents(document: bytes, expected: str) -> None:
    assert expected in fails(document, BLOBS["rsa2048"], "rsa2048")


def test_a_document_that_verifies_but_does_not_fit_the_model() -> None:
    document = doc_with(architecture="sparc")
    blob = sign_identity_document(document)["rsa2048"]
    message = fails(document, blob, "rsa2048")
    assert message.startswith("rsa2048: the document verified but does not fit the model")
    assert "architecture" in message


def test_a_document_given_as_text_is_its_utf8_bytes() -> None:
    result = verify_identity(
        DOC.decode(), BLOBS["rsa2048"], certificate=TEST_CERTIFICATES["rsa2048"]
    )
    assert result.raw == DOC


# -- certificates the caller supplies --------------------------------------------------------


def test_a_certificate_as_bytes_text_path_or_object(tmp_path: Path) -> None:
    pem = TEST_CERTIFICATES["pkcs7"]
    path = tmp_path / "pkcs7.pem"
    path.write_bytes(pem)
    der_cert = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    forms: list[Any] = [pem, pem.decode(), str(path), path, der_cert]
    forms.append(load_certificate(path, kind="pkcs7"))
    for form in forms:
        result = verify_identity(DOC, BLOBS["pkcs7"], kind="pkcs7", certificate=form)
        assert result.kind == "pkcs7"
        assert result.certificate.source == "supplied"
        assert result.certificate.regions == ()
        assert result.certificate.pem.encode() == pem
    assert verify_identity(
        DOC, BLOBS["pkcs7"], kind="pkcs7", certificate=path
    ).certificate.label == str(path)


def test_unusable_certificates_and_kinds_are_config_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    cases: list[tuple[Any, str]] = [
        (tmp_path / "missing.pem", "cannot read it"),
        (garbage, "not an X.509 certificate"),
        (b"\x30\x03\x02\x01\x01", "not an X.509 certificate"),
        (42, "expected PEM bytes, a path"),
        (load_certificate(TEST_CERTIFICATES["pkcs7"], kind="pkcs7"), "a pkcs7 certificate"),
    ]
    for certificate, expected in cases:
        with pytest.raises(IMDSConfigError, match=expected):
            verify_identity(DOC, BLOBS["rsa2048"], certificate=certificate)
    with pytest.raises(IMDSConfigError, match="not a signature kind"):
        verify_identity(DOC, BLOBS["rsa2048"], kind="rsa4096")  # type: ignore[arg-type]


def test_an_expired_certificate_still_verifies() -> None:
    """AWS's certificates carry old dates while the keys keep signing: expiry is not
    checked (AWS's own recipe uses openssl -noverify)."""
    private, _ = key_pair("rsa2048")
    key = serialization.load_pem_private_key(private, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    name = x509.Name([])
    expired = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .serial_number(1)
        .public_key(key.public_key())
        .not_valid_before(dt.datetime(1999, 1, 1, tzinfo=dt.timezone.utc))
        .not_valid_after(dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc))
        .sign(key, hashes.SHA256())
    )
    result = verify_identity(
        DOC, BLOBS["rsa2048"], certificate=expired.public_bytes(serialization.Encoding.PEM)
    )
    assert result.certificate.not_after.endswith("2001 GMT")
    other = certificate_for("signature", "us-east-1")
    assert other is not None
    assert other.not_after.endswith("2024 GMT")  # expired, and still AWS's pinned one


def test_identity_certificate_is_frozen() -> None:
    cert = pinned_certificates()[0]
    assert isinstance(cert, IdentityCertificate)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cert.label = "x"  # type: ignore[misc]


# -- the command line ----------------------------------------------------------------------


@pytest.fixture
def cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, list[str]]]:
    """``cli(sim, *args)``: run ``ec2imds --verify-identity ARGS`` in-process against
    ``sim``; returns the exit code, stdout and the stderr lines."""

    def run(sim: IMDSSimulator, *args: str) -> tuple[int, str, list[str]]:
        tokens = tmp_path / "tokens"
        code = cli_main(
            ["--verify-identity", f"--imds=127.0.0.1:{sim.port}", "-t", str(tokens), *args]
        )
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err.splitlines()

    return run


@pytest.fixture
def cert_files(tmp_path: Path) -> dict[str, str]:
    paths: dict[str, str] = {}
    for kind in SIGNATURE_KINDS:
        path = tmp_path / f"{kind}.pem"
        path.write_bytes(TEST_CERTIFICATES[kind])
        paths[kind] = str(path)
    return paths


def test_cli_prints_the_verified_document(
    sim: IMDSSimulator, cli: Callable[..., tuple[int, str, list[str]]], cert_files: dict[str, str]
) -> None:
    code, out, err = cli(sim, "--certificate", cert_files["rsa2048"])
    assert (code, err) == (0, [])
    assert json.loads(out) == json.loads(DOC)
    code, out, err = cli(sim, "--certificate", cert_files["rsa2048"], "-v")
    assert code == 0
    summary = ("settings: ", "endpoint: ", "token: ", "requests: ")  # -v of every run
    said = [line for line in err if not line.removeprefix("ec2imds: INFO: ").startswith(summary)]
    assert len(said) == 1
    assert "verified by the rsa2048 signature with" in said[0]
    assert cert_files["rsa2048"] in said[0]


@pytest.mark.parametrize("kind", ["pkcs7", "signature"])
def test_cli_forced_signature(
    sim: IMDSSimulator,
    cli: Callable[..., tuple[int, str, list[str]]],
    cert_files: dict[str, str],
    kind: str,
) -> None:
    code, out, err = cli(sim, "--signature", kind, "--certificate", cert_files[kind], "-v")
    assert code == 0
    assert json.loads(out)["instanceId"] == INSTANCE_ID
    said = {
        "pkcs7": "verified by the pkcs7 signature with",
        "signature": "verified by the RSA signature at dynamic/instance-identity/signature with",
    }
    assert sum(said[kind] in line for line in err) == 1, err
    assert not any("signature signature" in line for line in err)


def test_cli_failures_are_one_line_and_exit_1(
    cli: Callable[..., tuple[int, str, list[str]]], cert_files: dict[str, str]
) -> None:
    other = sign_identity_document(doc_with(instanceId="i-0other0000000006"))
    late = doc_with(region="ca-west-1")
    with IMDSSimulator(tree_with(rsa2048=other["rsa2048"])) as s:
        code, out, err = cli(s, "--certificate", cert_files["rsa2048"])
        assert (code, out) == (1, "")
        assert err == [
            "ec2imds: rsa2048: the document inside the PKCS#7 differs from the served document"
        ]
        # The pinned AWS certificate (no --certificate) does not verify the TEST keys.
        code, out, err = cli(s, "--signature", "signature")
        assert (code, out, len(err)) == (1, "", 1)
        assert err[0].startswith("ec2imds: signature: the signature does not verify with AWS's")
    with IMDSSimulator(tree_with(late)) as s:
        code, out, err = cli(s)
        assert (code, out, len(err)) == (1, "", 1)
        assert "no pinned AWS rsa2048 certificate for region 'ca-west-1'" in err[0]
        assert "--certificate PEM" in err[0]
        code, out, err = cli(s, "--certificate", cert_files["rsa2048"])
        assert code == 0
        assert json.loads(out)["region"] == "ca-west-1"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--signature", "rsa4096"], "invalid choice"),
        (["--certificate", "/nonexistent/cert.pem"], "cannot read it"),
        (["--certificate", __file__], "not an X.509 certificate"),
        (["meta-data/instance-id"], "--verify-identity takes no category arguments"),
        (["--tree"], "conflicting commands"),
    ],
)
def test_cli_usage_errors(
    sim: IMDSSimulator,
    cli: Callable[..., tuple[int, str, list[str]]],
    args: list[str],
    expected: str,
) -> None:
    code, out, err = cli(sim, *args)
    assert (code, out, len(err)) == (2, "", 2)
    assert expected in err[0]


@pytest.mark.parametrize("flag", [["--signature", "pkcs7"], ["--certificate", "x.pem"]])
def test_cli_verify_options_need_verify_identity(
    capsys: pytest.CaptureFixture[str], flag: list[str]
) -> None:
    assert cli_main(["-L", *flag]) == 2
    assert f"{flag[0]} goes with --verify-identity" in capsys.readouterr().err


def test_cli_subprocess_with_the_simulator() -> None:
    """A real process: --simulate verifies with the simulator's TEST certificates."""
    done = _run_python(
        "from ec2imds.cli import main\n"
        "raise SystemExit(main(['--simulate', '--verify-identity', '-v']))\n"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["instanceId"] == INSTANCE_ID
    assert "verified by the rsa2048 signature with supplied certificate" in done.stderr
    assert "TEST ONLY" in done.stderr
