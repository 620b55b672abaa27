"""User data decoded as cloud-init reads it: gzip undone, MIME multipart split into parts.

EC2 serves user data as the exact bytes given at launch, with no ``Content-Encoding``:
ansible, EKS node templates and cloud-init users often gzip it (16 KB is the limit before
base64) or send a MIME multipart document of several parts (a shell script, a
``#cloud-config``, each maybe base64 or gzip). :func:`decode_user_data` undoes that:

* gzip (one or more members) is decompressed, up to ``max_size`` bytes: more is a
  :class:`~ec2imds.errors.UserDataError` (a gzip bomb never fills memory);
* a MIME document (its first line a ``Content-Type:`` or ``MIME-Version:`` header) is
  split into its leaf parts, each with its content type, file name and payload, the
  part's ``Content-Transfer-Encoding`` (base64, quoted-printable) and gzip undone;
* anything else is one part, its content type guessed from its first line as cloud-init
  does (``#!`` a shell script, ``#cloud-config``, ``#include``, ...).

The clients' ``user_data`` keep returning the exact bytes; decoding happens only when
asked (``ec2imds -U --decode``). Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ec2imds.errors import UserDataError

if TYPE_CHECKING:
    from email.message import Message

__all__ = [
    "MAX_DECODED",
    "DecodedUserData",
    "UserDataPart",
    "decode_user_data",
    "guess_content_type",
]

#: The most bytes decoding may produce, all parts together (user data itself is at most
#: 16 KB; cloud-init's own documents decompress to far less).
MAX_DECODED = 16 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_MIME_START = re.compile(rb"\A\s*(?:content-type|mime-version)\s*:", re.IGNORECASE)
_GZIP_TYPES = frozenset({"application/gzip", "application/x-gzip"})
# cloud-init's "starts with" table (cloudinit/handlers/__init__.py, INCLUSION_TYPES_MAP):
# the longest prefix wins.
_STARTS_WITH: tuple[tuple[bytes, str], ...] = tuple(
    sorted(
        {
            b"#include": "text/x-include-url",
            b"#include-once": "text/x-include-once-url",
            b"#!": "text/x-shellscript",
            b"#cloud-config": "text/cloud-config",
            b"#cloud-config-archive": "text/cloud-config-archive",
            b"#cloud-config-jsonp": "text/cloud-config-jsonp",
            b"#upstart-job": "text/upstart-job",
            b"#part-handler": "text/part-handler",
            b"#cloud-boothook": "text/cloud-boothook",
            b"## template: jinja": "text/jinja2",
        }.items(),
        key=lambda item: -len(item[0]),
    )
)


@dataclass(frozen=True)
class UserDataPart:
    """One document of the user data."""

    #: ``text/x-shellscript``, ``text/cloud-config``, ... (lower case, no parameters).
    content_type: str
    #: The part's file name (``Content-Disposition``), if it has one.
    filename: str | None
    #: The bytes, transfer encoding and gzip undone.
    payload: bytes
    #: Whether this part was gzip-compressed (inside a MIME document).
    gzipped: bool = False

    def text(self) -> str:
        """The payload as UTF-8 text; :class:`~ec2imds.errors.UserDataError` if it is not."""
        try:
            return self.payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserDataError(
                f"user data part {self.content_type}: not UTF-8 text (byte {exc.start})"
            ) from None


@dataclass(frozen=True)
class DecodedUserData:
    """User data, decoded: its parts in order."""

    parts: tuple[UserDataPart, ...]
    #: Whether the user data as served was gzip-compressed.
    gzipped: bool
    #: Whether it was a MIME multipart document.
    multipart: bool


def guess_content_type(payload: bytes) -> str:
    """The content type cloud-init gives a document that does not say: by its first bytes
    (``#!`` -> ``text/x-shellscript``, ``#cloud-config`` -> ``text/cloud-config``, ...);
    otherwise ``text/plain`` for UTF-8 text and ``application/octet-stream``."""
    for prefix, content_type in _STARTS_WITH:
        if payload.startswith(prefix):
            return content_type
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def decode_user_data(data: bytes, *, max_size: int = MAX_DECODED) -> DecodedUserData:
    """Decode user data as cloud-init would (see the module's documentation).

    Raises :class:`~ec2imds.errors.UserDataError` for a corrupt or truncated gzip stream,
    output above ``max_size`` bytes, a MIME document without parts, or a part whose
    base64 is invalid. ``data`` itself is never changed.
    """
    budget = _Budget(max_size)
    gzipped = data.startswith(_GZIP_MAGIC)
    document = budget.gunzip(data, "user data") if gzipped else bytes(data)
    if not _MIME_START.match(document):
        part = UserDataPart(guess_content_type(document), None, document)
        return DecodedUserData((part,), gzipped=gzipped, multipart=False)
    return DecodedUserData(_mime_parts(document, budget), gzipped=gzipped, multipart=True)


class _Budget:
    """What decoding may still produce, shared by every part."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"max_size={limit}: must be positive")
        self.limit = limit
        self.left = limit

    def take(self, size: int, what: str) -> None:
        if size > self.left:
            raise UserDataError(
                f"{what}: decodes to more than {self.limit:,} bytes (refused: a gzip bomb?)"
            )
        self.left -= size

    def gunzip(self, data: bytes, what: str) -> bytes:
        """Every gzip member of ``data``, decompressed within the budget."""
        out = bytearray()
        rest = bytes(data)
        while rest:
            stream = zlib.decompressobj(wbits=31)
            try:
                chunk = stream.decompress(rest, self.left + 1)
            except zlib.error as exc:
                raise UserDataError(f"{what}: corrupt gzip data ({exc})") from None
            self.take(len(chunk), what)
            if not stream.eof:
                raise UserDataError(f"{what}: truncated gzip data")
            out += chunk
            rest = stream.unused_data
            if rest and not rest.startswith(_GZIP_MAGIC):
                if rest.strip(b"\0"):  # zero padding after a member is allowed
                    raise UserDataError(f"{what}: data after the gzip stream")
                break
        return bytes(out)


def _mime_parts(document: bytes, budget: _Budget) -> tuple[UserDataPart, ...]:
    from email import message_from_bytes
    from email.policy import compat32

    message = message_from_bytes(document, policy=compat32)
    parts: list[UserDataPart] = []
    for number, leaf in enumerate((m for m in message.walk() if not m.is_multipart()), start=1):
        what = f"user data part {number}"
        content_type = leaf.get_content_type()
        if content_type.startswith("multipart/"):  # a multipart whose boundary is missing
            raise UserDataError(f"{what}: a {content_type} document without parts")
        raw = leaf.get_payload(decode=False)
        payload = _transfer_decoded(leaf, raw if isinstance(raw, str) else "", what)
        gzipped = content_type in _GZIP_TYPES or payload.startswith(_GZIP_MAGIC)
        if gzipped:
            payload = budget.gunzip(payload, what)
            content_type = guess_content_type(payload)
        else:
            budget.take(len(payload), what)
        filename = leaf.get_filename()
        parts.append(UserDataPart(content_type, filename, payload, gzipped=gzipped))
    if not parts:
        raise UserDataError("user data: a MIME document without parts")
    return tuple(parts)


def _transfer_decoded(leaf: Message, raw: str, what: str) -> bytes:
    """A part's body with its Content-Transfer-Encoding undone; invalid base64 is an
    error (the email package would pass it on silently)."""
    encoding = str(leaf.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding == "base64":
        compact = re.sub(r"\s+", "", raw)
        try:
            return base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            raise UserDataError(f"{what}: invalid base64") from None
    decoded = leaf.get_payload(decode=True)
    return decoded if isinstance(decoded, bytes) else raw.encode("utf-8", "surrogateescape")
