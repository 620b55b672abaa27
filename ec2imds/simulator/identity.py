"""The simulator's signed identity document: AWS's layout, signed by a TEST key pair.

IMDS serves ``dynamic/instance-identity/document`` pretty-printed the way AWS prints it
(``"accountId" : "..."``, two-space indent) and three signatures of its exact bytes:

* ``rsa2048``: base64 CMS/PKCS#7 SignedData, RSA-2048 with SHA-256, document embedded;
* ``pkcs7``: the same container, DSA with SHA-1;
* ``signature``: base64 RSA/SHA-256 (PKCS#1 v1.5) signature of the document bytes.

The simulator does the same with the key pairs in ``identity_test_keys.json`` next to this
module. **They are test keys, published with the package: nothing signed with them proves
anything.** Their certificates are ``ec2imds.testing.TEST_CERTIFICATES``, for testing
attestation code against the simulator.

The signatures of the default document are shipped pre-signed (the simulator needs no
``cryptography`` for them). When the document changes (a custom tree, ``sim.set``), the
blobs this module signed are signed again for the new bytes, if ``cryptography`` is
installed (``pip install 'ec2imds[verify]'``); without it they are left as they are, and
no longer verify. Blobs it did not sign (a tree saved from a real instance, a test's own
value) are never touched. The container is encoded as AWS encodes it: BER with
indefinite lengths outside, the signer info in DER.

``python -m ec2imds.simulator.identity`` signs the catalog's default document again and
rewrites the pre-signed blobs (run it after changing that document);
``--new-keys`` makes new test key pairs first.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import sys
from collections.abc import Mapping, MutableMapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from ec2imds._signatures import DSAPrivateKey

__all__ = [
    "KINDS",
    "aws_json",
    "blobs_for",
    "certificates",
    "default_document",
    "document_of",
    "keep_signed",
    "key_pair",
    "sign_default",
    "sign_document",
    "sign_pkcs7",
]

KINDS: tuple[Literal["rsa2048", "pkcs7", "signature"], ...] = ("rsa2048", "pkcs7", "signature")
_DATA = Path(__file__).with_name("identity_test_keys.json")
#: Blobs this process knows it signed with the test keys -> the document bytes they sign.
_SIGNED: dict[str, bytes] = {}


def aws_json(value: Any, indent: str = "") -> str:
    """JSON as AWS prints the identity document (Jackson's default pretty printer):
    ``{\\n  "key" : value,\\n ...}``, arrays on one line as ``[ "a", "b" ]``, no final
    newline."""
    inner = indent + "  "
    if isinstance(value, Mapping):
        if not value:
            return "{ }"
        items = [f"{inner}{json.dumps(str(k))} : {aws_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(aws_json(v, inner) for v in value) + " ]"
    return json.dumps(value, ensure_ascii=False)


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_DATA.read_text(encoding="utf-8"))
    presigned = data.get("presigned", {})
    for kind in KINDS:
        if kind in presigned:
            _SIGNED[presigned[kind]] = presigned["document"].encode()
    return data


def default_document() -> bytes:
    """The catalog's example identity document, laid out as AWS serves it."""
    from ec2imds.catalog import entry

    return aws_json(entry("dynamic/instance-identity/document").example).encode()


def sign_default(tree: MutableMapping[str, Any]) -> None:
    """Lay out the default instance's identity document as AWS does and put in its
    signatures (the catalog's placeholders stay when they cannot be made)."""
    node = tree.get("dynamic")
    node = node.get("instance-identity") if isinstance(node, Mapping) else None
    if not isinstance(node, MutableMapping) or "document" not in node:
        return
    document = default_document()
    node["document"] = document.decode()
    blobs = blobs_for(document)
    if blobs is not None:
        node.update((kind, blobs[kind]) for kind in KINDS if kind in node)


def certificates() -> dict[str, bytes]:
    """The TEST certificates (PEM), by kind: what verifies the simulator's signatures."""
    return {kind: _data()["keys"][kind]["certificate"].encode() for kind in KINDS}


def key_pair(kind: str) -> tuple[bytes, bytes]:
    """The TEST ``(private key, certificate)`` (PEM) of ``kind``: for signing test cases."""
    keys = _data()["keys"][kind]
    return keys["private_key"].encode(), keys["certificate"].encode()


def blobs_for(document: bytes) -> dict[str, str] | None:
    """The three signature blobs for ``document``: pre-signed for the default document,
    else signed now; ``None`` when that needs ``cryptography`` and it is missing."""
    presigned = _data().get("presigned", {})
    if document == presigned.get("document", "").encode() and all(k in presigned for k in KINDS):
        return {kind: presigned[kind] for kind in KINDS}
    try:
        return sign_document(document)
    except ImportError:
        return None


def document_of(tree: Mapping[str, Any]) -> bytes | None:
    """The identity document ``tree`` serves, as bytes (``None``: it serves none)."""
    node = tree.get("dynamic")
    node = node.get("instance-identity") if isinstance(node, Mapping) else None
    document = node.get("document") if isinstance(node, Mapping) else None
    if isinstance(document, str):
        return document.encode()
    return document if isinstance(document, bytes) else None


def keep_signed(tree: MutableMapping[str, Any], previous: bytes | None = None) -> None:
    """Sign again, for the document ``tree`` serves now, the blobs this module signed
    for ``previous`` (the document before a change; ``None``: the default document, for
    a tree built from ``default_tree()`` whose document was edited). Other blobs are
    left as they are: a tree may serve a mismatched signature on purpose."""
    document = document_of(tree)
    if document is None:
        return
    presigned = _data().get("presigned", {})
    if previous is None:
        previous = presigned.get("document", "").encode()
    if document == previous:
        return
    node = tree["dynamic"]["instance-identity"]
    stale = [
        kind
        for kind in KINDS
        if isinstance(node.get(kind), str) and _SIGNED.get(node[kind]) == previous
    ]
    if not stale:
        return
    blobs = blobs_for(document)
    if blobs is None:
        return  # no cryptography: left as they are (they no longer verify)
    for kind in stale:
        node[kind] = blobs[kind]


# -- signing (needs cryptography) ------------------------------------------------------

_OID_DATA = "1.2.840.113549.1.7.1"
_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
_OID_SHA1 = "1.3.14.3.2.26"
_OID_SHA256 = "2.16.840.1.101.3.4.2.1"
_OID_RSA = "1.2.840.113549.1.1.1"
_OID_DSA_SHA1 = "1.2.840.10040.4.3"  # dsaWithSHA1, as AWS signs
_EOC = b"\x00\x00"


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _set(*parts: bytes) -> bytes:
    return _tlv(0x31, b"".join(sorted(parts)))  # DER: SET OF sorted by encoding


def _algorithm(oid: str, null: bool = True) -> bytes:
    return _seq(_oid(oid), b"\x05\x00") if null else _seq(_oid(oid))


def sign_pkcs7(
    document: bytes,
    private_key: bytes,
    certificate: bytes,
    *,
    when: datetime.datetime | None = None,
    embed_certificate: bool = False,
) -> str:
    """A PKCS#7 SignedData of ``document`` in AWS's form (base64 with line breaks), by
    ``private_key`` (PEM; RSA signs with SHA-256, DSA with SHA-1) for ``certificate``
    (PEM), optionally embedding the certificate. Raises :class:`ImportError` without
    ``cryptography``."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    from ec2imds._signatures import DSAPrivateKey

    key = _private_key(private_key)
    cert = asn1_x509.Certificate.load(pem.unarmor(certificate)[2])
    when = when or datetime.datetime.now(datetime.timezone.utc)
    is_dsa = isinstance(key, DSAPrivateKey)
    digest_name, digest_oid = ("sha1", _OID_SHA1) if is_dsa else ("sha256", _OID_SHA256)
    digest = hashlib.new(digest_name, document).digest()
    attrs = _set(
        _seq(_oid(_OID_CONTENT_TYPE), _set(_oid(_OID_DATA))),
        _seq(_oid(_OID_SIGNING_TIME), _set(_tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode()))),
        _seq(_oid(_OID_MESSAGE_DIGEST), _set(_tlv(0x04, digest))),
    )
    signature = _sign(key, attrs, digest_name)
    signature_algorithm = _algorithm(_OID_DSA_SHA1, null=False) if is_dsa else _algorithm(_OID_RSA)
    signer = _seq(
        _int(1),
        _seq(cert.issuer.dump(), _int(cert.serial_number)),
        _algorithm(digest_oid),
        b"\xa0" + attrs[1:],  # [0] IMPLICIT SET OF Attribute
        signature_algorithm,
        _tlv(0x04, signature),
    )
    embedded = b""
    if embed_certificate:
        embedded = _tlv(0xA0, cert.dump())
    # As AWS sends it: indefinite lengths outside, the content as a constructed OCTET STRING.
    der = b"".join(
        (
            b"\x30\x80" + _oid(_OID_SIGNED_DATA) + b"\xa0\x80",
            b"\x30\x80" + _int(1) + _set(_algorithm(digest_oid)),
            b"\x30\x80" + _oid(_OID_DATA) + b"\xa0\x80" + b"\x24\x80" + _tlv(0x04, document),
            _EOC * 3,
            embedded,
            _set(signer),
            _EOC * 3,
        )
    )
    return _wrap(der)


def _private_key(pem_text: bytes) -> DSAPrivateKey | RSAPrivateKey:
    from asn1crypto import pem

    from ec2imds._signatures import load_private_key

    return load_private_key(pem.unarmor(pem_text)[2])


def _sign(key: DSAPrivateKey | RSAPrivateKey, message: bytes, digest: str) -> bytes:
    """PKCS#1 v1.5 by cryptography for RSA; DSA by ec2imds._signatures (cryptography
    deprecated DSA)."""
    from ec2imds._signatures import HASHES, DSAPrivateKey

    if isinstance(key, DSAPrivateKey):
        return key.sign(message, digest)
    from cryptography.hazmat.primitives.asymmetric import padding

    return key.sign(message, padding.PKCS1v15(), HASHES[digest]())


def _wrap(der: bytes) -> str:
    text = base64.b64encode(der).decode("ascii")
    return "\n".join(text[i : i + 64] for i in range(0, len(text), 64))


def sign_document(document: bytes, *, when: datetime.datetime | None = None) -> dict[str, str]:
    """Sign ``document`` with the three TEST keys: ``{"rsa2048": ..., "pkcs7": ...,
    "signature": ...}``, base64 with line breaks as IMDS serves them.

    Raises :class:`ImportError` without ``cryptography``.
    """
    when = when or datetime.datetime.now(datetime.timezone.utc)
    keys = _data()["keys"]
    out = {
        kind: sign_pkcs7(
            document,
            keys[kind]["private_key"].encode(),
            keys[kind]["certificate"].encode(),
            when=when,
        )
        for kind in ("rsa2048", "pkcs7")
    }
    key = _private_key(keys["signature"]["private_key"].encode())
    out["signature"] = _wrap(_sign(key, document, "sha256"))
    for blob in out.values():
        _SIGNED[blob] = document
    return out


# -- regenerating the shipped data -----------------------------------------------------


def _new_keys() -> dict[str, dict[str, str]]:
    """New TEST key pairs and self-signed certificates (maintainers only: run by
    ``--new-keys``). The DSA pair is made by ``cryptography``, which deprecated DSA: its
    warning is silenced here, and once it removes DSA this needs another generator."""
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return _make_keys()


def _make_keys() -> dict[str, dict[str, str]]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, rsa
    from cryptography.x509.oid import NameOID

    out: dict[str, dict[str, str]] = {}
    for kind in KINDS:
        key: rsa.RSAPrivateKey | dsa.DSAPrivateKey
        if kind == "pkcs7":
            key = dsa.generate_private_key(1024)  # noqa: S505 - as AWS's DSA keys
        else:
            key = rsa.generate_private_key(65537, 2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ec2imds simulator"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"TEST ONLY {kind} key (not AWS)"),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
            .not_valid_after(datetime.datetime(2199, 12, 31, tzinfo=datetime.timezone.utc))
            .sign(key, hashes.SHA256())
        )
        out[kind] = {
            "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
            "private_key": key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
        }
    return out


def _regenerate(new_keys: bool) -> None:
    data: dict[str, Any] = json.loads(_DATA.read_text(encoding="utf-8")) if _DATA.exists() else {}
    if new_keys or "keys" not in data:
        data["keys"] = _new_keys()
    data["_warning"] = (
        "TEST ONLY: published key pairs for the ec2imds simulator; a signature made with "
        "them proves nothing. Never trust these certificates outside tests."
    )
    data.setdefault("presigned", {})
    _DATA.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    _data.cache_clear()
    document = default_document()
    when = datetime.datetime(2024, 5, 1, 11, 58, 20, tzinfo=datetime.timezone.utc)
    data["presigned"] = {"document": document.decode(), **sign_document(document, when=when)}
    data = {k: data[k] for k in ("_warning", "keys", "presigned")}
    _DATA.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    _data.cache_clear()


if __name__ == "__main__":  # pragma: no cover
    _regenerate("--new-keys" in sys.argv[1:])
