"""IMDSv2 session tokens and where they are kept between requests and processes.

* :class:`Token`: the opaque value and its expiry; its repr never shows the value.
* :class:`TokenStore`: the protocol (``load``, ``save``, ``discard`` per endpoint).
* :class:`WinnerStore`: the optional second protocol (``load_winner``, ``save_winner``):
  the endpoint that last won the race, which gets the head start in the next one. A
  store without these methods (a :class:`CallbackTokenStore`, a store of one's own)
  still works; its races just start from the default order.
* :class:`MemoryTokenStore`: the library default (one process).
* :class:`FileTokenStore`: the CLI default. One private file per endpoint, named
  :func:`~ec2imds.endpoints.endpoint_file_name` (``169.254.169.254:80``) and holding
  ``{"token": ..., "expiry": ISO-8601}``, the format ec2imds 0.0.3 wrote. The directory
  is created 0700, files are written 0600 atomically (a temporary file, then a rename)
  and never through a symlink; a directory that is a symlink, not ours, or writable by
  others is refused; a corrupt, expired, implausible or foreign file is ignored. The race
  winner is kept beside the tokens, in the file ``winner`` (``{"endpoint": "host:port"}``),
  written and read with the same care.
* :class:`CallbackTokenStore`: adapts ec2imds 0.0.3's ``on_new_token`` / ``on_load_token``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import stat
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from ec2imds._leaves import fromisoformat
from ec2imds._log import log
from ec2imds.endpoints import (
    Endpoint,
    construct_endpoint_str,
    endpoint_file_name,
    mk_endpoint_from_str,
)
from ec2imds.errors import IMDSError

__all__ = [
    "CallbackTokenStore",
    "FileTokenStore",
    "MemoryTokenStore",
    "OnLoadToken",
    "OnNewToken",
    "Token",
    "TokenStore",
    "TokenStoreError",
    "WinnerStore",
    "default_token_dir",
]

T = TypeVar("T")


#: A token file larger than this is not a token file.
MAX_TOKEN_FILE = 16 * 1024
#: The file that remembers the race winner, in the token directory. No endpoint's file
#: has this name: theirs always end with ``:port``.
WINNER_FILE = "winner"
#: The longest a token can live (IMDS's TTL cap), plus clock slack.
_MAX_LIFETIME = dt.timedelta(seconds=21600 + 300)

OnNewToken = Callable[[str, dt.datetime, Endpoint], Any]
OnLoadToken = Callable[[Endpoint], "tuple[str, dt.datetime] | None"]


class TokenStoreError(IMDSError):
    """A token store cannot be used (e.g. an unsafe directory). Requests go on without it."""


def _utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC; a naive datetime is taken as local time (what ``datetime.now()`` gives)."""
    return value.astimezone(dt.timezone.utc)


class Token:
    """An IMDSv2 session token. ``expiry`` is when IMDS stops accepting it (aware UTC).

    Immutable; its repr never shows the value.
    """

    __slots__ = ("expiry", "value")

    value: str
    expiry: dt.datetime

    def __init__(self, value: str, expiry: dt.datetime) -> None:
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "expiry", _utc(expiry))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Token is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and (self.value, self.expiry) == (other.value, other.expiry)

    def __hash__(self) -> int:
        return hash((self.value, self.expiry))

    def __repr__(self) -> str:
        return f"Token(value=<hidden>, expiry={self.expiry.isoformat()})"

    def __str__(self) -> str:
        return repr(self)

    def usable(self, margin: float, now: dt.datetime | None = None) -> bool:
        """True while more than ``margin`` seconds are left before expiry."""
        now = now or dt.datetime.now(dt.timezone.utc)
        return now + dt.timedelta(seconds=margin) < self.expiry

    def plausible(self, now: dt.datetime | None = None) -> bool:
        """False for a value that cannot be a token, or an expiry beyond the TTL cap."""
        now = now or dt.datetime.now(dt.timezone.utc)
        return (
            0 < len(self.value) <= 4096
            and self.value.isascii()
            and self.value.isprintable()
            and self.expiry <= now + _MAX_LIFETIME
        )


@runtime_checkable
class TokenStore(Protocol):
    """Where tokens live between requests (and, for a persistent store, processes)."""

    def load(self, endpoint: Endpoint) -> Token | None:
        """The saved token for ``endpoint``, or None. Never raises for a bad entry."""
        ...

    def save(self, endpoint: Endpoint, token: Token) -> None:
        """Keep ``token`` for ``endpoint``, replacing any other."""
        ...

    def discard(self, endpoint: Endpoint) -> None:
        """Forget the token for ``endpoint`` (IMDS rejected it)."""
        ...


@runtime_checkable
class WinnerStore(Protocol):
    """A token store that also remembers which endpoint last won the race (optional).

    The driver finds these methods with ``getattr``: a :class:`TokenStore` without them
    is still a token store.
    """

    def load_winner(self) -> Endpoint | None:
        """The endpoint that answered the last race, or None. Never raises for a bad entry."""
        ...

    def save_winner(self, endpoint: Endpoint) -> None:
        """Remember ``endpoint`` as the one that answered."""
        ...


class MemoryTokenStore:
    """Tokens (and the race winner) in this process only. Thread-safe."""

    def __init__(self) -> None:
        self._tokens: dict[Endpoint, Token] = {}
        self._winner: Endpoint | None = None
        self._lock = threading.Lock()

    def load_winner(self) -> Endpoint | None:
        return self._winner

    def save_winner(self, endpoint: Endpoint) -> None:
        self._winner = endpoint

    def load(self, endpoint: Endpoint) -> Token | None:
        with self._lock:
            return self._tokens.get(endpoint)

    def save(self, endpoint: Endpoint, token: Token) -> None:
        with self._lock:
            self._tokens[endpoint] = token

    def discard(self, endpoint: Endpoint) -> None:
        with self._lock:
            self._tokens.pop(endpoint, None)


def default_token_dir() -> str:
    """``$XDG_CACHE_HOME/ec2imds/tokens``, else ``~/.cache/ec2imds/tokens``."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = base if base and os.path.isabs(base) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "ec2imds", "tokens")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_POSIX = os.name == "posix" and os.open in os.supports_dir_fd


class FileTokenStore:
    """Tokens in private files, one per endpoint, safe on a multi-user machine.

    ``directory`` defaults to :func:`default_token_dir`. Missing directories are created
    with mode 0700. The directory itself must not be a symlink, must belong to the
    current user and must not be writable by group or others; otherwise every
    operation raises :class:`TokenStoreError` with the reason (the transport then goes on
    without persistence and logs a warning).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        # Plain strings (no pathlib): this module is on the command line's start-up path.
        self.directory = os.fspath(directory) if directory is not None else default_token_dir()
        #: Why each file was ignored, said once: a request looks at the store twice (before
        #: and under the endpoint lock), which said it twice under -v.
        self._ignored: set[tuple[str, str]] = set()

    def __repr__(self) -> str:
        return f"FileTokenStore({self.directory!r})"

    # -- directory -------------------------------------------------------------------

    def _open_dir(self, *, create: bool) -> int | None:
        """A file descriptor of the checked directory, or None if it does not exist."""
        path = self.directory
        if create:
            try:
                os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
                os.mkdir(path, mode=0o700)
            except FileExistsError:
                pass
            except OSError as exc:
                raise TokenStoreError(
                    f"token directory {path!r}: cannot create it: {exc.strerror}"
                ) from exc
        try:
            fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise TokenStoreError(
                    f"token directory {path!r} is a symlink or not a directory; refusing it"
                ) from exc
            raise TokenStoreError(
                f"token directory {path!r}: cannot open it: {exc.strerror}"
            ) from exc
        try:
            self._check_dir(os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _check_dir(self, st: os.stat_result) -> None:
        if not stat.S_ISDIR(st.st_mode):
            raise TokenStoreError(f"token directory {self.directory!r} is not a directory")
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise TokenStoreError(
                f"token directory {self.directory!r} belongs to another user "
                f"(uid {st.st_uid}); refusing it"
            )
        if os.name == "posix" and st.st_mode & 0o022:
            raise TokenStoreError(
                f"token directory {self.directory!r} is writable by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); refusing it (chmod 700 to use it)"
            )

    # -- TokenStore --------------------------------------------------------------------

    def load(self, endpoint: Endpoint) -> Token | None:
        token = self._parsed(endpoint_file_name(endpoint), _parse_token_file, "token")
        if token is not None:
            self._ignored.clear()
        return token

    def _parsed(self, name: str, parse: Callable[[bytes], T | None], what: str) -> T | None:
        """The file ``name`` read (:meth:`_read`) and parsed; None when absent, or when it
        does not parse (then ignored, said once under ``-v``)."""
        data = self._read(name)
        if data is None:
            return None
        value = parse(data)
        if value is None:
            self._ignore(name, f"not a valid {what} file")
        return value

    def _read(self, name: str) -> bytes | None:
        """The bytes of the file ``name`` in the checked directory, never through a
        symlink; None (said once under ``-v``) when absent, not a regular file of ours,
        or too large."""
        dfd = self._open_dir(create=False)
        if dfd is None:
            return None
        try:
            try:
                fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK, dir_fd=dfd)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    self._ignore(name, exc.strerror or str(exc))
                return None
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    self._ignore(name, "not a regular file")
                    return None
                if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
                    self._ignore(name, "belongs to another user")
                    return None
                if st.st_size > MAX_TOKEN_FILE:
                    self._ignore(name, "too large")
                    return None
                return os.read(fd, MAX_TOKEN_FILE + 1)
            finally:
                os.close(fd)
        finally:
            os.close(dfd)

    def _ignore(self, name: str, why: str) -> None:
        if (name, why) not in self._ignored:
            self._ignored.add((name, why))
            what = "race winner file" if name == WINNER_FILE else f"token file {name}"
            log.info("%s ignored: %s", what, why)

    def save(self, endpoint: Endpoint, token: Token) -> None:
        doc = json.dumps({"token": token.value, "expiry": token.expiry.isoformat()})
        self._write(endpoint_file_name(endpoint), doc)

    def _write(self, name: str, doc: str) -> None:
        """Write the file ``name`` 0600, atomically, never through a symlink."""
        dfd = self._open_dir(create=True)
        if dfd is None:  # pragma: no cover - created just above
            raise TokenStoreError(f"token directory {self.directory!r} vanished")
        tmp = f".{name}.{os.urandom(8).hex()}.tmp"
        try:
            fd = os.open(
                tmp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC,
                0o600,
                dir_fd=dfd,
            )
            try:
                os.write(fd, doc.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            where = os.path.join(self.directory, name)
            raise TokenStoreError(f"token file {where!r}: cannot write it: {exc.strerror}") from exc
        finally:
            os.close(dfd)

    # -- WinnerStore -------------------------------------------------------------------

    def load_winner(self) -> Endpoint | None:
        return self._parsed(WINNER_FILE, _parse_winner_file, "winner")

    def save_winner(self, endpoint: Endpoint) -> None:
        host, port = endpoint
        self._write(WINNER_FILE, json.dumps({"endpoint": construct_endpoint_str((host, port))}))

    def discard(self, endpoint: Endpoint) -> None:
        dfd = self._open_dir(create=False)
        if dfd is None:
            return
        try:
            os.unlink(endpoint_file_name(endpoint), dir_fd=dfd)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise TokenStoreError(
                f"token file in {self.directory!r}: cannot remove it: {exc.strerror}"
            ) from exc
        finally:
            os.close(dfd)


def _parse_token_file(data: bytes) -> Token | None:
    try:
        doc = json.loads(data)
        value, expiry = doc["token"], doc["expiry"]
        if not isinstance(value, str) or not isinstance(expiry, str):
            return None
        token = Token(value, fromisoformat(expiry))  # a Z too, on every Python
    except (ValueError, TypeError, KeyError, OverflowError):
        return None
    return token if token.plausible() else None


def _parse_winner_file(data: bytes) -> Endpoint | None:
    try:
        text = json.loads(data)["endpoint"]
        return mk_endpoint_from_str(text) if isinstance(text, str) else None
    except (ValueError, TypeError, KeyError):  # IMDSConfigError is a ValueError
        return None


class CallbackTokenStore:
    """ec2imds 0.0.3's token callbacks as a :class:`TokenStore`.

    ``on_new_token(token, expiry, endpoint)`` is called with each new token;
    ``on_load_token(endpoint)`` returns ``(token, expiry)`` or None. Both receive the
    endpoint as the ``(host, port)`` tuple it was configured with. Either may be None.
    What ``on_load_token`` returns is checked: a malformed answer is ignored.
    """

    def __init__(
        self,
        on_new_token: OnNewToken | None = None,
        on_load_token: OnLoadToken | None = None,
    ) -> None:
        self.on_new_token = on_new_token
        self.on_load_token = on_load_token

    def load(self, endpoint: Endpoint) -> Token | None:
        if self.on_load_token is None:
            return None
        got: object = self.on_load_token(endpoint)
        if not isinstance(got, tuple) or len(got) != 2:
            return None
        value, expiry = got
        if not isinstance(value, str) or not isinstance(expiry, dt.datetime):
            return None
        token = Token(value, expiry)
        return token if token.plausible() else None

    def save(self, endpoint: Endpoint, token: Token) -> None:
        if self.on_new_token is not None:
            self.on_new_token(token.value, token.expiry, endpoint)

    def discard(self, endpoint: Endpoint) -> None:
        """The 0.0.3 callbacks have no "forget"; a rejected token is simply replaced."""
