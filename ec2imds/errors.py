"""The ec2imds error tree.

Every failure ec2imds reports is an :class:`IMDSError`; no httpx exception
reaches a caller (the original is always chained as ``__cause__``)::

    IMDSError
     ├── IMDSUnavailable          nothing answered: refused, unroutable, timed out
     │    └── IMDSTimeout          connected, but no answer in time
     ├── IMDSDisabled             AWS_EC2_METADATA_DISABLED, or 403 on the token PUT
     ├── TokenError               the token PUT failed for good (400, 404/405, 401 twice)
     ├── IMDSHTTPError            an unexpected status on a GET (after retries)
     │    └── RedirectRefused      a 3xx: never followed
     ├── ResponseTooLarge         a body above the size cap (never truncated)
     ├── IMDSValidationError      a body that does not fit its model (names the path)
     ├── IdentityVerificationError  the identity document did not verify (or cannot be)
     ├── UserDataError            user data that cannot be decoded (corrupt gzip, too big)
     └── IMDSConfigError          a bad setting or argument (also a ValueError)

A 404 is not an error: it means "absent" and reads as ``None``, except for a value EC2
serves on every instance (the catalog's ``present="always"``), where it is an
:class:`IMDSValidationError` naming the path.
Tokens never appear in a message, a repr or a log line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import TypeAlias

__all__ = [
    "IMDSConfigError",
    "IMDSDisabled",
    "IMDSError",
    "IMDSHTTPError",
    "IMDSTimeout",
    "IMDSUnavailable",
    "IMDSValidationError",
    "IdentityVerificationError",
    "RedirectRefused",
    "ResponseTooLarge",
    "TokenError",
    "UserDataError",
]


class IMDSError(Exception):
    """Root of every error ec2imds raises."""


class IMDSUnavailable(IMDSError):
    """No IMDS endpoint answered (connection refused, unroutable, or timed out)."""


class IMDSTimeout(IMDSUnavailable):
    """An endpoint accepted the connection but did not answer in time."""


class IMDSDisabled(IMDSError):
    """IMDS is turned off: by ``AWS_EC2_METADATA_DISABLED`` or by the instance (403)."""


class TokenError(IMDSError):
    """The IMDSv2 session token could not be obtained or was rejected twice.

    ``status`` is the HTTP status behind it (400, 404 or 405 on the PUT: for good; 401
    twice, 429 or 5xx after the retries: transient), or None (a malformed token).
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class IMDSHTTPError(IMDSError):
    """IMDS answered a GET with a status that is neither success nor "absent"."""

    def __init__(self, message: str, *, status: int, path: str) -> None:
        super().__init__(message)
        self.status = status
        self.path = path


class RedirectRefused(IMDSHTTPError):
    """IMDS (or something pretending to be it) answered with a redirect; never followed."""


class ResponseTooLarge(IMDSError):
    """A response body exceeded the size cap; it was dropped, not truncated."""

    def __init__(self, message: str, *, path: str, limit: int) -> None:
        super().__init__(message)
        self.path = path
        self.limit = limit


class IMDSValidationError(IMDSError):
    """A body IMDS served does not fit the model for its path."""

    def __init__(self, message: str, *, path: str, value: object = None) -> None:
        super().__init__(message)
        self.path = path
        self.value = value


class IdentityVerificationError(IMDSError):
    """The instance identity document did not verify: a bad or missing signature, a
    certificate that does not fit, no pinned certificate for the region, or the
    ``verify`` extra missing.  ``kind`` names the signature checked (``rsa2048``,
    ``pkcs7``, ``signature``), if one was."""

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


class UserDataError(IMDSError, ValueError):
    """User data that cannot be decoded as asked (:func:`ec2imds.userdata.decode_user_data`):
    corrupt or truncated gzip, more than the size cap once decompressed, invalid base64 in
    a MIME part. The raw bytes are still available."""


class IMDSConfigError(IMDSError, ValueError):
    """A setting or argument is invalid (names the variable or argument)."""


#: What an error says of a value EC2 serves on every instance that is not there.
ALWAYS_PRESENT = "missing, but EC2 serves it on every instance"


def absent_error(path: str, why: str = "IMDS answered 404") -> IMDSValidationError:
    """The error for a path EC2 serves on every instance (``present="always"``) that is
    not there: a 404, or (``why``) left out of its directory's listing."""
    return IMDSValidationError(f"{path}: {ALWAYS_PRESENT} ({why})", path=path)


#: Errors that concern one path only: a crawl or a listing of categories goes on past
#: them (and reports them), where an unreachable or disabled IMDS stops everything.
PATH_ERRORS = (IMDSHTTPError, ResponseTooLarge, IMDSValidationError)

# The raise-or-collect contract (not in __all__: ``from ec2imds.errors import *`` gives the
# error tree, which the package exports).

#: Errors by IMDS path (no trailing slash), collected beside what succeeded: the
#: ``failures`` dict of ``all()``, ``get()``, ``values()``, the crawl and the command line.
Failures: TypeAlias = dict[str, IMDSError]


def collect(failures: Failures | None, path: str, exc: IMDSError) -> None:
    """Record ``exc`` under ``path``, or raise it when no ``failures`` dict was given.

    The one place of the raise-or-collect contract: without a dict the first error
    raises; with one, it is recorded and the caller goes on past it."""
    if failures is None:
        raise exc
    failures[path.rstrip("/")] = exc


def hand_over(collected: Failures, failures: Failures | None) -> None:
    """Pass errors collected internally on to the caller: into its ``failures`` dict, or,
    without one, the first of them raised."""
    if failures is not None:
        failures.update(collected)
    elif collected:
        raise next(iter(collected.values()))
