"""Verify the instance identity document against the certificates AWS publishes.

The identity document (``dynamic/instance-identity/document``) is how an instance proves
who it is to someone else; it is worth something only once one of its signatures has
been checked against AWS's certificate for the document's region:

* ``rsa2048``: base64 CMS/PKCS#7 SignedData, RSA-2048 with SHA-256, one certificate per
  region (the default, and the first one :func:`verify_served` tries);
* ``pkcs7``: the same container, DSA with SHA-1 (RSA in China); one certificate for
  "other" regions, one per opt-in region;
* ``signature``: base64 RSA/SHA-256 signature of the document bytes, detached.

What is checked, in order: the document is at most 64 KiB of JSON with a ``region``; the
certificate is the pinned AWS one for that region and kind (or the one the caller
supplies); for a PKCS#7, its embedded content equals the served bytes exactly, it has one
signer, the signed attributes' message digest is the hash of those bytes, and the
signature over the signed attributes verifies with the *certificate's* public key, of the
key type the certificate holds. Certificates inside the PKCS#7 are ignored: trust comes
from the pinned certificate only. Expiry dates are not checked (AWS's certificates carry
old dates while its keys keep signing; AWS's own recipe uses ``openssl ... -noverify``).
Only then is the document parsed into :class:`~ec2imds.models.InstanceIdentityDocument`.

Needs ``cryptography`` and ``asn1crypto`` (``pip install 'ec2imds[verify]'``), imported on
the first verification. Every failure is an :class:`~ec2imds.errors.IdentityVerificationError`
(a bad argument: :class:`~ec2imds.errors.IMDSConfigError`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ec2imds._compat import SLOTS
from ec2imds._flow import IO, arun, run
from ec2imds.errors import IdentityVerificationError, IMDSConfigError

if TYPE_CHECKING:
    from typing_extensions import TypeAlias

    from ec2imds._signatures import PublicKey
    from ec2imds.models import InstanceIdentityDocument

__all__ = [
    "DOCUMENT_PATH",
    "MAX_BLOB",
    "MAX_DOCUMENT",
    "SIGNATURE_KINDS",
    "CertificateArg",
    "CertificateSource",
    "IdentityCertificate",
    "SignatureKind",
    "VerifiedIdentity",
    "averify_served",
    "certificate_for",
    "identity_flow",
    "load_certificate",
    "pinned_certificates",
    "verify_identity",
    "verify_served",
]

SignatureKind: TypeAlias = Literal["rsa2048", "pkcs7", "signature"]
#: The signatures in the order :func:`verify_served` tries them (the next only on a 404).
SIGNATURE_KINDS: tuple[SignatureKind, ...] = ("rsa2048", "pkcs7", "signature")
DOCUMENT_PATH = "dynamic/instance-identity/document"
#: Size caps: a real document is ~0.5 KiB, a blob ~1.5 KiB.
MAX_DOCUMENT = 64 * 1024
MAX_BLOB = 64 * 1024
INSTALL_HINT = "pip install 'ec2imds[verify]'"

_DATA_FILE = "aws_identity_certificates.json"
_WHITESPACE = b" \t\r\n\v\f"
# Digest algorithms accepted in a PKCS#7 of each kind (AWS: SHA-256 for rsa2048, SHA-1
# for the DSA pkcs7).
_DIGESTS: dict[str, frozenset[str]] = {
    "rsa2048": frozenset({"sha256", "sha384", "sha512"}),
    "pkcs7": frozenset({"sha1", "sha256", "sha384", "sha512"}),
}


@dataclass(frozen=True, **SLOTS)
class IdentityCertificate:
    """A certificate that verifies identity documents: one of AWS's pinned set
    (``source="aws"``) or one the caller supplied (``source="supplied"``)."""

    kind: SignatureKind
    #: AWS's name for it ("US East (N. Virginia)"), or where a supplied one came from.
    label: str
    #: The region codes it serves as published (``"other"``: every commercial region no
    #: other certificate of the kind names); empty for a supplied certificate (any region).
    regions: tuple[str, ...]
    #: The expiry printed in the certificate (informative only: never checked).
    not_after: str
    #: SHA-256 fingerprint, ``AA:BB:...`` (as ``openssl x509 -fingerprint -sha256``).
    sha256: str
    pem: str = field(repr=False)
    source: Literal["aws", "supplied"] = "aws"
    _covers: frozenset[str] | None = field(default=None, repr=False, compare=False)

    def serves(self, region: str) -> bool:
        """Whether this certificate is the one for documents of ``region``."""
        return self._covers is None or region in self._covers


@dataclass(frozen=True, **SLOTS)
class VerifiedIdentity:
    """An identity document whose signature verified, and what verified it."""

    #: The document, parsed only after its bytes verified.
    document: InstanceIdentityDocument
    #: The exact bytes that verified (as IMDS served them).
    raw: bytes
    #: The signature that verified it.
    kind: SignatureKind
    certificate: IdentityCertificate


#: A certificate given by the caller: an :class:`IdentityCertificate`, PEM (or DER) bytes,
#: PEM text, or the path of a PEM file.
CertificateSource: TypeAlias = "IdentityCertificate | bytes | str | os.PathLike[str]"


# -- the pinned certificates -------------------------------------------------------------


@cache
def _published() -> dict[str, Any]:
    text = resources.files("ec2imds").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def pinned_certificates() -> tuple[IdentityCertificate, ...]:
    """AWS's published certificates, as shipped in the package (every kind)."""
    data = _published()
    # "other" is every region AWS published an rsa2048 certificate for (the commercial
    # regions as of the pinned set), less the ones another entry of the kind names and
    # the China and GovCloud partitions.
    known = {r for e in data["rsa2048"] for r in e["regions"]}
    out: list[IdentityCertificate] = []
    for kind in SIGNATURE_KINDS:
        named = {r for e in data[kind] for r in e["regions"] if r != "other"}
        other = frozenset(r for r in known - named if not r.startswith(("cn-", "us-gov-")))
        for e in data[kind]:
            regions = tuple(e["regions"])
            covers = frozenset(r for r in regions if r != "other")
            if "other" in regions:
                covers |= other
            out.append(
                IdentityCertificate(
                    kind=kind,
                    label=e["label"],
                    regions=regions,
                    not_after=e["not_after"],
                    sha256=e["sha256"],
                    pem=e["pem"],
                    _covers=covers,
                )
            )
    return tuple(out)


def certificate_for(kind: SignatureKind, region: str) -> IdentityCertificate | None:
    """The pinned AWS certificate for ``kind`` in ``region``; ``None`` if there is none
    (a region opened after the pinned set: supply its certificate)."""
    _check_kind(kind)
    for cert in pinned_certificates():
        if cert.kind == kind and cert.serves(region):
            return cert
    return None


# -- verification ------------------------------------------------------------------------


def verify_identity(
    document: bytes | str,
    blob: bytes | str,
    *,
    kind: SignatureKind = "rsa2048",
    certificate: CertificateSource | None = None,
) -> VerifiedIdentity:
    """Verify ``document`` (the exact bytes IMDS served) with ``blob`` (the ``kind``
    signature, base64 as served) and return it parsed, with what verified it.

    ``certificate`` replaces the pinned AWS certificate (for a region opened after the
    pinned set, a rotated certificate, or the simulator's ``ec2imds.testing``
    certificates); a pinned :class:`IdentityCertificate` must serve the document's
    region. Usable without a client: a server that receives a document and a signature
    from an instance calls this (and checks a nonce of its own: documents replay).

    Raises :class:`~ec2imds.errors.IdentityVerificationError` (one line naming the
    reason) for anything that does not verify, :class:`~ec2imds.errors.IMDSConfigError`
    for an unknown ``kind`` or an unusable ``certificate``.
    """
    kind = _check_kind(kind)
    crypto = _crypto(kind)
    raw = _document_bytes(document, kind)
    region = _region(raw, kind)
    cert = _certificate(kind, region, certificate)
    signature = _decode_blob(blob, kind)
    key = _public_key(cert.pem.encode(), kind)
    if kind == "signature":
        _verify_detached(key, signature, raw, cert)
    else:
        _verify_cms(crypto, key, signature, raw, kind, cert)
    return VerifiedIdentity(_model(raw, kind), raw, kind, cert)


def _check_kind(kind: object) -> SignatureKind:
    for known in SIGNATURE_KINDS:
        if kind == known:
            return known
    raise IMDSConfigError(
        f"kind={kind!r}: not a signature kind (one of: {', '.join(SIGNATURE_KINDS)})"
    )


class _Crypto:
    """The modules verification needs, imported on first use."""

    def __init__(self) -> None:
        from asn1crypto import cms, pem, x509

        from ec2imds import _signatures

        self.cms: Any = cms
        self.pem: Any = pem
        self.x509: Any = x509
        self.signatures = _signatures


@cache
def _load_crypto() -> _Crypto:
    return _Crypto()


def _crypto(kind: str | None) -> _Crypto:
    try:
        return _load_crypto()
    except ImportError as exc:
        missing = (exc.name or str(exc)).split(".")[0]
        raise IMDSConfigError(
            f"verifying the identity document needs cryptography and asn1crypto "
            f"({missing} is missing): {INSTALL_HINT}"
        ) from None


def _fail(kind: str, reason: str) -> IdentityVerificationError:
    return IdentityVerificationError(f"{kind}: {reason}", kind=kind)


def _document_bytes(document: bytes | str, kind: str) -> bytes:
    raw = document.encode() if isinstance(document, str) else bytes(document)
    if not raw:
        raise _fail(kind, "the identity document is empty")
    if len(raw) > MAX_DOCUMENT:
        raise _fail(kind, f"the identity document is {len(raw)} bytes (at most {MAX_DOCUMENT})")
    return raw


def _region(raw: bytes, kind: str) -> str:
    # Read only to pick the certificate; the model is built after the bytes verified.
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise _fail(kind, "the identity document is not JSON") from None
    region = parsed.get("region") if isinstance(parsed, dict) else None
    if not isinstance(region, str) or not region:
        raise _fail(kind, "the identity document names no region")
    return region


def _certificate(
    kind: SignatureKind, region: str, given: CertificateSource | None
) -> IdentityCertificate:
    if given is None:
        cert = certificate_for(kind, region)
        if cert is None:
            raise _fail(
                kind,
                f"no pinned AWS {kind} certificate for region {region!r} (AWS published "
                f"it after this release?): supply it with certificate= "
                f"(command line: --certificate PEM)",
            )
        return cert
    if isinstance(given, IdentityCertificate):
        if given.kind != kind:
            raise IMDSConfigError(f"certificate: a {given.kind} certificate, not a {kind} one")
        if not given.serves(region):
            raise _fail(
                kind,
                f"the certificate {given.label!r} does not serve region {region!r} "
                f"(it serves {', '.join(given.regions)})",
            )
        return given
    return load_certificate(given, kind=kind)


def load_certificate(
    source: bytes | str | os.PathLike[str], *, kind: SignatureKind = "rsa2048"
) -> IdentityCertificate:
    """A certificate of your own for ``kind``: PEM (or DER) bytes, PEM text, or the path
    of a PEM file. Raises :class:`~ec2imds.errors.IMDSConfigError` when it cannot be read
    or is not an X.509 certificate."""
    kind = _check_kind(kind)
    crypto = _crypto(kind)
    given = source
    label = "supplied certificate"
    if isinstance(given, (bytes, bytearray, memoryview)):
        data = bytes(given)
    elif isinstance(given, str) and "-----BEGIN" in given:
        data = given.encode()
    elif isinstance(given, (str, os.PathLike)):
        label = os.fspath(given)
        try:
            with open(given, "rb") as f:
                data = f.read(MAX_BLOB + 1)
        except OSError as exc:
            raise IMDSConfigError(f"certificate {label}: cannot read it: {exc.strerror}") from None
    else:
        raise IMDSConfigError(
            f"certificate: expected PEM bytes, a path or an IdentityCertificate, "
            f"not {type(given).__name__}"
        )
    try:
        der = crypto.pem.unarmor(data)[2] if crypto.pem.detect(data) else data
        cert = crypto.x509.Certificate.load(der, strict=True)
        spki = cert["tbs_certificate"]["subject_public_key_info"].dump()
        crypto.signatures.load_public_key(spki)
        subject = _rfc4514(cert.subject)
        not_after = cert.not_valid_after
    except _PARSE_ERRORS:  # asn1crypto's answers to malformed input, and a bad key
        raise IMDSConfigError(f"certificate {label}: not an X.509 certificate (PEM)") from None
    if label == "supplied certificate":
        label = f"supplied certificate {subject}"
    return IdentityCertificate(
        kind=kind,
        label=label,
        regions=(),
        not_after=not_after.strftime("%b %d %H:%M:%S %Y GMT"),
        sha256=hashlib.sha256(der).digest().hex(":").upper(),
        pem=crypto.pem.armor("CERTIFICATE", der).decode("ascii"),
        source="supplied",
    )


#: What asn1crypto raises on malformed DER (it names no error type of its own), and the
#: ValueError of an unusable key.
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)
# RFC 4514's short names for the attributes a certificate subject usually holds.
_SHORT_NAMES = {
    "common_name": "CN",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
}


def _rfc4514(name: Any) -> str:
    """A certificate name as RFC 4514 writes it (most specific first): ``CN=x,O=y``."""
    return ",".join(
        f"{_SHORT_NAMES.get(attr['type'].native, attr['type'].dotted)}={attr['value'].native}"
        for rdn in reversed(name.chosen)
        for attr in rdn
    )


def _decode_blob(blob: bytes | str, kind: str) -> bytes:
    if isinstance(blob, str):
        try:
            data = blob.encode("ascii")
        except UnicodeEncodeError:
            raise _fail(kind, "the signature is not base64 (non-ASCII text)") from None
    else:
        data = bytes(blob)
    if len(data) > MAX_BLOB:
        raise _fail(kind, f"the signature is {len(data)} bytes (at most {MAX_BLOB})")
    compact = data.translate(None, _WHITESPACE)
    if not compact:
        raise _fail(kind, "the signature is empty")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(kind, "the signature is not valid base64") from None


@lru_cache(maxsize=64)
def _public_key(pem: bytes, kind: str) -> PublicKey:
    crypto = _crypto(kind)
    cert = crypto.x509.Certificate.load(crypto.pem.unarmor(pem)[2])
    key: PublicKey = crypto.signatures.load_public_key(
        cert["tbs_certificate"]["subject_public_key_info"].dump()
    )
    return key


def _verify_detached(
    key: PublicKey, signature: bytes, raw: bytes, cert: IdentityCertificate
) -> None:
    if key.algorithm != "rsa":
        raise _fail("signature", f"the certificate ({cert.label}) holds no RSA key")
    if not key.verify(signature, raw, "sha256"):
        raise _fail("signature", _no_match(cert))


def _no_match(cert: IdentityCertificate) -> str:
    which = (
        f"AWS's {cert.kind} certificate for {cert.label}" if cert.source == "aws" else cert.label
    )
    return f"the signature does not verify with {which} (SHA-256 {cert.sha256})"


def _verify_cms(
    crypto: _Crypto, key: PublicKey, der: bytes, raw: bytes, kind: str, cert: IdentityCertificate
) -> None:
    try:
        parsed = _parse_cms(crypto, der, kind)
    except _PARSE_ERRORS as exc:
        raise _fail(kind, f"not a PKCS#7 SignedData ({type(exc).__name__})") from None
    if parsed.content != raw:
        raise _fail(kind, "the document inside the PKCS#7 differs from the served document")
    if parsed.algorithm != key.algorithm:
        hint = (
            " (is this the pkcs7 blob?)" if kind == "rsa2048" and parsed.algorithm == "dsa" else ""
        )
        raise _fail(
            kind,
            f"the PKCS#7 is signed with {parsed.algorithm.upper()}, but the certificate "
            f"({cert.label}) holds a {key.algorithm.upper()} key{hint}",
        )
    if parsed.digest not in _DIGESTS[kind]:
        raise _fail(kind, f"digest algorithm {parsed.digest} is not accepted for {kind}")
    signed = raw  # without signed attributes, the signature is over the content itself
    if parsed.signed_attrs is not None:
        if parsed.message_digest != hashlib.new(parsed.digest, raw).digest():
            raise _fail(kind, "the message digest in the PKCS#7 does not match the document")
        signed = parsed.signed_attrs
    if not key.verify(parsed.signature, signed, parsed.digest):
        raise _fail(kind, _no_match(cert))


class _SignedData(NamedTuple):
    digest: str  # "sha256"
    algorithm: str  # "rsa", "dsa", or another asn1crypto name
    signed_attrs: bytes | None  # the DER SET OF the signed attributes, as signed
    message_digest: bytes | None
    signature: bytes
    content: bytes  # the embedded document


def _parse_cms(crypto: _Crypto, der: bytes, kind: str) -> _SignedData:
    info = crypto.cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise _fail(kind, "not a PKCS#7 SignedData")
    signed_data = info["content"]
    signers = signed_data["signer_infos"]
    if len(signers) != 1:
        raise _fail(kind, f"the PKCS#7 has {len(signers)} signers (one expected)")
    signer = signers[0]
    encap = signed_data["encap_content_info"]
    content = encap["content"].native
    if encap["content_type"].native != "data" or not isinstance(content, bytes):
        raise _fail(kind, "the PKCS#7 does not hold the document (detached, or not data)")
    digest = signer["digest_algorithm"]["algorithm"].native
    name = signer["signature_algorithm"]["algorithm"].native
    algorithm = signer["signature_algorithm"].signature_algo
    algorithm = {"rsassa_pkcs1v15": "rsa"}.get(algorithm, algorithm)
    if name.startswith("sha") and name.split("_")[0] != digest:  # sha256_rsa, sha1_dsa
        raise _fail(kind, f"signature algorithm {name} does not match digest {digest}")
    attrs = signer["signed_attrs"]
    signed_attrs = message_digest = None
    if attrs.native is not None:
        contents = attrs.contents
        signed_attrs = b"\x31" + _der_length(len(contents)) + contents
        digests: list[bytes] = []
        content_types: list[str] = []
        for attr in attrs:
            values = [v.native for v in attr["values"]]
            if attr["type"].native == "message_digest":
                digests.extend(values)
            elif attr["type"].native == "content_type":
                content_types.extend(values)
        if content_types != ["data"]:
            raise _fail(kind, "the PKCS#7's signed content-type attribute is not 'data'")
        if len(digests) != 1:
            raise _fail(kind, "the PKCS#7 has no single message-digest attribute")
        message_digest = digests[0]
    return _SignedData(
        digest, algorithm, signed_attrs, message_digest, signer["signature"].native, content
    )


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(size)]) + size


def _model(raw: bytes, kind: str) -> InstanceIdentityDocument:
    import pydantic

    from ec2imds.models import InstanceIdentityDocument

    try:
        return InstanceIdentityDocument.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise _fail(
            kind, f"the document verified but does not fit the model: {where}: {first['msg']}"
        ) from None


# -- reading them from IMDS ---------------------------------------------------------------

#: What :func:`verify_served` and the clients accept as ``certificate``: one certificate
#: (used for whichever kind is checked), or one per kind (the pinned one for the others).
CertificateArg: TypeAlias = "CertificateSource | Mapping[str, CertificateSource]"


def _pick(certificate: CertificateArg | None, kind: SignatureKind) -> CertificateSource | None:
    if isinstance(certificate, Mapping):
        return certificate.get(kind)
    return certificate


def identity_flow(
    kind: SignatureKind | None = None, certificate: CertificateArg | None = None
) -> Generator[str, bytes | None, VerifiedIdentity]:
    """The reads behind :func:`verify_served`, a flow without I/O (:mod:`ec2imds._flow`):
    asks each path (relative to ``/latest/``), is sent its body (``None`` for a 404),
    returns the verified identity.

    The document, then ``rsa2048``; only if IMDS does not serve it (404), ``pkcs7``; only
    if neither, ``signature``. A check that fails raises: it never falls through to the
    next kind. With ``kind``, only that one is read.
    """
    kinds = SIGNATURE_KINDS if kind is None else (_check_kind(kind),)
    _crypto(kind)  # before any request: a missing extra is said first
    document = yield DOCUMENT_PATH
    if document is None:
        raise IdentityVerificationError("IMDS serves no identity document (404)", kind=kind)
    for k in kinds:
        blob = yield f"dynamic/instance-identity/{k}"
        if blob is not None:
            return verify_identity(document, blob, kind=k, certificate=_pick(certificate, k))
    served = "the" if kind is not None else "any"
    raise IdentityVerificationError(
        f"IMDS serves no {' or '.join(kinds)} signature of {served} identity document (404)",
        kind=kind,
    )


def verify_served(
    get: Callable[[str], bytes | None],
    *,
    kind: SignatureKind | None = None,
    certificate: CertificateArg | None = None,
) -> VerifiedIdentity:
    """Read the document and a signature with ``get`` (a path relative to ``/latest/`` to
    its body, ``None`` on 404) and verify them (see :func:`identity_flow`)."""
    return run(identity_flow(kind, certificate), IO(get))


async def averify_served(
    get: Callable[[str], Awaitable[bytes | None]],
    *,
    kind: SignatureKind | None = None,
    certificate: CertificateArg | None = None,
) -> VerifiedIdentity:
    """:func:`verify_served` with an async ``get``."""
    return await arun(identity_flow(kind, certificate), IO(get))
