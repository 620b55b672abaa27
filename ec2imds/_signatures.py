"""The public-key signature checks behind identity verification: DSA by hand, RSA by
``cryptography``.

Why DSA is computed here: AWS's ``pkcs7`` identity signature is DSA-1024 with SHA-1, and
``cryptography`` deprecated DSA in its release 51 (every use warns) and announced its
removal. Verifying a DSA signature is a few modular exponentiations on public data (FIPS
186-4 §4.7), so no secret is handled and constant time is not needed; this module does it
on Python integers, over keys parsed by ``asn1crypto`` (already needed for the PKCS#7
container). RSA PKCS#1 v1.5, which ``cryptography`` keeps, stays with it. Both are tested
against Project Wycheproof's vectors (``tests/test_signatures.py``; docs/identity.md lists
the verdicts chosen where Wycheproof leaves the choice open).

Signatures are read as strict DER: BER forms (long or indefinite lengths where short ones
fit, leading zero bytes, negative integers, trailing bytes) are refused, as Wycheproof
expects. ``DSAPrivateKey.sign`` exists for the simulator's published TEST keys only.

Needs ``asn1crypto`` and ``cryptography`` (the ``verify`` extra); imported by
:mod:`ec2imds.identity` on the first verification.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "HASHES",
    "DSAPrivateKey",
    "DSAPublicKey",
    "OtherPublicKey",
    "RSAPublicKey",
    "load_private_key",
    "load_public_key",
]

#: The digests a signature may use, by hashlib name.
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _digest(hash_name: str, message: bytes) -> bytes:
    if hash_name not in HASHES:
        raise ValueError(f"digest {hash_name!r} is not supported")
    return hashlib.new(hash_name, message).digest()


@dataclass(frozen=True)
class RSAPublicKey:
    """An RSA public key; PKCS#1 v1.5 verification by ``cryptography``."""

    key: rsa.RSAPublicKey
    algorithm = "rsa"

    def verify(self, signature: bytes, message: bytes, hash_name: str) -> bool:
        """Whether ``signature`` is this key's PKCS#1 v1.5 signature of ``message``."""
        _digest(hash_name, b"")  # an unsupported digest is an error, not a "no"
        try:
            self.key.verify(signature, message, padding.PKCS1v15(), HASHES[hash_name]())
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class DSAPublicKey:
    """A DSA public key (domain parameters ``p``, ``q``, ``g``; public value ``y``)."""

    p: int
    q: int
    g: int
    y: int
    algorithm = "dsa"

    def __post_init__(self) -> None:
        # Cheap sanity checks on public data: a key failing them verifies nothing.
        p, q, g, y = self.p, self.q, self.g, self.y
        if not (q > 1 and p > q and (p - 1) % q == 0 and 1 < g < p and 1 < y < p):
            raise ValueError("not a usable DSA key (bad domain parameters)")
        if q.bit_length() < 160 or p.bit_length() < 1024:
            raise ValueError("not a usable DSA key (smaller than 1024/160 bits)")

    def _z(self, hash_name: str, message: bytes) -> int:
        # The leftmost min(N, outlen) bits of the digest (FIPS 186-4 §4.6).
        digest = _digest(hash_name, message)
        return int.from_bytes(digest, "big") >> max(0, 8 * len(digest) - self.q.bit_length())

    def verify(self, signature: bytes, message: bytes, hash_name: str) -> bool:
        """Whether ``signature`` (DER ``SEQUENCE { r, s }``) is this key's signature of
        ``message`` with ``hash_name`` (FIPS 186-4 §4.7)."""
        z = self._z(hash_name, message)
        pair = _der_integer_pair(signature)
        if pair is None:
            return False
        r, s = pair
        p, q = self.p, self.q
        if not (0 < r < q and 0 < s < q):
            return False
        w = pow(s, -1, q)
        v = (pow(self.g, z * w % q, p) * pow(self.y, r * w % q, p)) % p % q
        return v == r


@dataclass(frozen=True)
class OtherPublicKey:
    """A key of a type identity documents are never signed with (EC, Ed25519, ...):
    it verifies nothing."""

    algorithm: str

    def verify(self, signature: bytes, message: bytes, hash_name: str) -> bool:
        return False


if TYPE_CHECKING:  # a run-time ``X | Y`` of classes needs Python 3.10
    from typing import TypeAlias

    PublicKey: TypeAlias = RSAPublicKey | DSAPublicKey | OtherPublicKey


@dataclass(frozen=True)
class DSAPrivateKey:
    """A DSA private key, for signing with the simulator's published TEST keys."""

    public: DSAPublicKey
    x: int

    def sign(self, message: bytes, hash_name: str) -> bytes:
        """A DER ``SEQUENCE { r, s }`` DSA signature of ``message`` (FIPS 186-4 §4.6)."""
        pub = self.public
        p, q, g = pub.p, pub.q, pub.g
        z = pub._z(hash_name, message)
        while True:
            k = secrets.randbelow(q - 1) + 1
            r = pow(g, k, p) % q
            s = pow(k, -1, q) * (z + self.x * r) % q
            if r and s:
                return _der_sequence(_der_integer(r) + _der_integer(s))


def load_public_key(spki_der: bytes) -> PublicKey:
    """The key in a DER SubjectPublicKeyInfo (what a certificate holds). Raises
    :class:`ValueError` when it cannot be read or its parameters are unusable."""
    try:
        info = asn1_keys.PublicKeyInfo.load(spki_der, strict=True)
        algorithm = info.algorithm
        if algorithm == "dsa":
            params = info["algorithm"]["parameters"]
            p, q, g = (int(params[n].native) for n in ("p", "q", "g"))
            return DSAPublicKey(p, q, g, int(info["public_key"].parsed.native))
        if algorithm == "rsa":
            key = serialization.load_der_public_key(spki_der)
            if not isinstance(key, rsa.RSAPublicKey):  # pragma: no cover - asn1crypto said RSA
                raise ValueError("not an RSA key")
            return RSAPublicKey(key)
        return OtherPublicKey(str(algorithm))
    except (ValueError, TypeError, KeyError) as exc:
        # asn1crypto raises any of these on malformed input; cryptography ValueError.
        raise ValueError(f"not a usable public key ({type(exc).__name__})") from None


def load_private_key(pkcs8_der: bytes) -> DSAPrivateKey | rsa.RSAPrivateKey:
    """A PKCS#8 private key: DSA here, RSA by ``cryptography`` (the simulator's TEST keys)."""
    info = asn1_keys.PrivateKeyInfo.load(pkcs8_der, strict=True)
    if info.algorithm == "dsa":
        params = info["private_key_algorithm"]["parameters"]
        p, q, g = (int(params[n].native) for n in ("p", "q", "g"))
        x = int(info["private_key"].parsed.native)
        return DSAPrivateKey(DSAPublicKey(p, q, g, pow(g, x, p)), x)
    key = serialization.load_der_private_key(pkcs8_der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"a {info.algorithm} private key: only DSA and RSA are supported")
    return key


# -- strict DER for SEQUENCE { INTEGER, INTEGER } ------------------------------------------


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(size)]) + size


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0 where needed
    return b"\x02" + _der_length(len(body)) + body


def _der_sequence(body: bytes) -> bytes:
    return b"\x30" + _der_length(len(body)) + body


def _read_tlv(data: bytes, at: int, tag: int) -> tuple[bytes, int] | None:
    """The content of the DER element of ``tag`` at ``at``, and where the next starts;
    ``None`` unless the element is there in its one DER form."""
    if at + 2 > len(data) or data[at] != tag:
        return None
    first = data[at + 1]
    at += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or at + count > len(data):
            return None  # indefinite length, or longer than any signature
        length = int.from_bytes(data[at : at + count], "big")
        at += count
        if length < 0x80 or _der_length(length) != bytes([first]) + data[at - count : at]:
            return None  # a long form where the short one fits, or padded with zeros
    if at + length > len(data):
        return None
    return data[at : at + length], at + length


def _der_integer_pair(data: bytes) -> tuple[int, int] | None:
    outer = _read_tlv(data, 0, 0x30)
    if outer is None or outer[1] != len(data):
        return None
    body = outer[0]
    out: list[int] = []
    at = 0
    for _ in range(2):
        item = _read_tlv(body, at, 0x02)
        if item is None:
            return None
        content, at = item
        if not content or content[0] & 0x80:
            return None  # empty, or negative
        if len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
            return None  # a leading zero byte that is not needed
        out.append(int.from_bytes(content, "big"))
    if at != len(body):
        return None
    return out[0], out[1]
