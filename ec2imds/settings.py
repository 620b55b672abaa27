"""One settings object: explicit arguments > ``AWS_*`` environment > defaults.

The environment variables are the AWS SDKs' own (docs/imds.md, 'Settings and what the SDKs
do'):

==========================================  =============================================
``AWS_EC2_METADATA_DISABLED``               ``true`` (any case): fail at once, no network
``AWS_EC2_METADATA_SERVICE_ENDPOINT``       ``http://host[:port]``: the only endpoint
``AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE``  ``IPv4`` or ``IPv6`` (any case): that endpoint
``AWS_METADATA_SERVICE_TIMEOUT``            seconds, for connect and for read (default 1)
``AWS_METADATA_SERVICE_NUM_ATTEMPTS``       total attempts per request (default 3)
==========================================  =============================================

Without an endpoint setting, both IMDS endpoints are raced (IPv4 first, RFC 8305).
An invalid value is an :class:`~ec2imds.errors.IMDSConfigError` naming the variable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from ec2imds._log import INFO, log
from ec2imds.endpoints import (
    DEFAULT_ENDPOINTS,
    IPV4_ENDPOINT,
    IPV6_ENDPOINT,
    Endpoint,
    construct_endpoint_list_str,
    mk_endpoint_from_str,
    mk_endpoint_list_from_str,
)
from ec2imds.errors import IMDSConfigError

__all__ = ["MAX_TOKEN_TTL", "Options", "Settings", "check_options"]

MAX_TOKEN_TTL = 21600
DEFAULT_TIMEOUT = 1.0
DEFAULT_ATTEMPTS = 3
ENV_DISABLED = "AWS_EC2_METADATA_DISABLED"
ENV_ENDPOINT = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
ENV_MODE = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"
ENV_TIMEOUT = "AWS_METADATA_SERVICE_TIMEOUT"
ENV_ATTEMPTS = "AWS_METADATA_SERVICE_NUM_ATTEMPTS"


class Settings:
    """How ec2imds talks to IMDS. Build it with :meth:`resolve`; every field has a default.

    Immutable (use :meth:`replace`). A plain class rather than a dataclass: this module is
    on the command line's start-up path, and ``dataclasses`` costs ~5 ms to import.
    """

    __slots__ = (
        "attempts",
        "backoff_base",
        "backoff_cap",
        "concurrency",
        "disabled",
        "endpoints",
        "max_body",
        "race_delay",
        "timeout",
        "token_ttl",
    )

    #: Endpoints to use; more than one are raced (the last winner, else IPv4, first).
    endpoints: tuple[Endpoint, ...]
    #: Requested session token lifetime in seconds, 1..21600.
    token_ttl: int
    #: Connect and read timeout, seconds.
    timeout: float
    #: Total attempts per request (1 = no retry) for retryable failures.
    attempts: int
    #: ``AWS_EC2_METADATA_DISABLED=true``: every request fails at once with IMDSDisabled.
    disabled: bool
    #: Largest response body accepted, bytes; a larger one is an error, never truncated.
    max_body: int
    #: Requests in flight at once during a crawl (and HTTP connections in the pool).
    concurrency: int
    #: First retry delay, seconds (doubles each retry, jittered).
    backoff_base: float
    #: Longest retry delay, seconds.
    backoff_cap: float
    #: RFC 8305 "connection attempt delay": head start of the preferred (IPv6) endpoint.
    race_delay: float

    def __init__(
        self,
        *,
        endpoints: tuple[Endpoint, ...] = DEFAULT_ENDPOINTS,
        token_ttl: int = MAX_TOKEN_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        disabled: bool = False,
        max_body: int = 1024 * 1024,
        concurrency: int = 8,
        backoff_base: float = 0.05,
        backoff_cap: float = 1.0,
        race_delay: float = 0.25,
    ) -> None:
        values = {
            "endpoints": tuple(endpoints),
            "token_ttl": token_ttl,
            "timeout": timeout,
            "attempts": attempts,
            "disabled": disabled,
            "max_body": max_body,
            "concurrency": concurrency,
            "backoff_base": backoff_base,
            "backoff_cap": backoff_cap,
            "race_delay": race_delay,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self._validate()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Settings are immutable; use settings.replace({name}=...)")

    def _items(self) -> tuple[tuple[str, object], ...]:
        return tuple((name, getattr(self, name)) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self._items() == other._items()

    def __hash__(self) -> int:
        return hash(self._items())

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in self._items()) + ")"

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated again)."""
        unknown = sorted(set(changes) - set(self.__slots__))
        if unknown:
            raise IMDSConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return Settings(**{**dict(self._items()), **changes})

    def _validate(self) -> None:
        if not self.endpoints:
            raise IMDSConfigError("endpoints: at least one endpoint is needed")
        if isinstance(self.token_ttl, bool) or not isinstance(self.token_ttl, int):
            raise IMDSConfigError(f"token_ttl: {self.token_ttl!r} is not an integer")
        if not 1 <= self.token_ttl <= MAX_TOKEN_TTL:
            raise IMDSConfigError(f"token_ttl: {self.token_ttl} is outside 1..{MAX_TOKEN_TTL}")
        _check_positive("timeout", self.timeout)
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise IMDSConfigError(f"attempts: {self.attempts!r} is not an integer")
        if self.attempts < 1:
            raise IMDSConfigError(f"attempts: {self.attempts} must be at least 1")
        if self.max_body < 16 * 1024:
            raise IMDSConfigError(f"max_body: {self.max_body} is below IMDS's 16 KiB user data")
        if self.concurrency < 1:
            raise IMDSConfigError(f"concurrency: {self.concurrency} must be at least 1")
        for name in ("backoff_base", "backoff_cap", "race_delay"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise IMDSConfigError(f"{name}: {value!r} must be a number >= 0")

    @property
    def refresh_margin(self) -> float:
        """Seconds before expiry at which a token is replaced (120 s, less for short TTLs)."""
        return min(120.0, self.token_ttl / 10)

    @classmethod
    def resolve(
        cls,
        *,
        endpoints: Sequence[Endpoint] | str | None = None,
        token_ttl: int | None = None,
        timeout: float | None = None,
        attempts: int | None = None,
        endpoint_mode: str | None = None,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        **other: float | int,
    ) -> Settings:
        """Settings from explicit arguments, then the ``AWS_*`` environment, then defaults.

        ``endpoints`` may be a list of ``(host, port)`` or a comma-separated string.
        ``endpoint_mode`` (``"IPv4"`` or ``"IPv6"``, any case) picks that one endpoint;
        an endpoint from any source (argument or environment) beats a mode from any
        source, as in the AWS SDKs.
        ``env`` defaults to ``os.environ``; ``other`` sets the remaining fields by name.
        Every ``AWS_*`` variable is checked, even one an argument overrides: an invalid
        value is an error naming it, always.
        """
        env = os.environ if env is None else env
        from ec2imds._awsconfig import read_profile

        conf = read_profile(env, profile)
        # Where each setting comes from, for -v ("argument", a variable, "file [profile
        # P] key", "default").
        sources: dict[str, str] = {}
        env_endpoints = _env_endpoints(env)
        sources["endpoints"] = (
            ENV_ENDPOINT
            if env.get(ENV_ENDPOINT, "").strip()
            else ENV_MODE
            if env.get(ENV_MODE, "").strip()
            else "default"
        )
        if endpoints is None and not env.get(ENV_ENDPOINT, "").strip():
            if "ec2_metadata_service_endpoint" in conf.values:
                env_endpoints = _conf_endpoint(conf)
                sources["endpoints"] = conf.where("ec2_metadata_service_endpoint")
                if endpoint_mode is not None:
                    _by_mode("endpoint_mode", endpoint_mode)
            elif endpoint_mode is not None:
                env_endpoints = _by_mode("endpoint_mode", endpoint_mode)
                sources["endpoints"] = "argument endpoint_mode"
            elif not env.get(ENV_MODE, "").strip():
                key = "ec2_metadata_service_endpoint_mode"
                if key in conf.values:
                    env_endpoints = _by_mode(conf.where(key), conf.values[key])
                    sources["endpoints"] = conf.where(key)
        elif endpoint_mode is not None:
            _by_mode("endpoint_mode", endpoint_mode)
        env_timeout = _env_timeout(env)
        sources["timeout"] = ENV_TIMEOUT if env.get(ENV_TIMEOUT, "").strip() else "default"
        if not env.get(ENV_TIMEOUT, "").strip() and "metadata_service_timeout" in conf.values:
            env_timeout = _conf_timeout(conf)
            sources["timeout"] = conf.where("metadata_service_timeout")
        env_attempts = _env_attempts(env)
        sources["attempts"] = ENV_ATTEMPTS if env.get(ENV_ATTEMPTS, "").strip() else "default"
        if not env.get(ENV_ATTEMPTS, "").strip() and "metadata_service_num_attempts" in conf.values:
            env_attempts = _conf_attempts(conf)
            sources["attempts"] = conf.where("metadata_service_num_attempts")
        if endpoints is not None:
            sources["endpoints"] = "argument"
        if timeout is not None:
            sources["timeout"] = "argument"
        if attempts is not None:
            sources["attempts"] = "argument"
        disabled = _disabled(env)
        base = cls(
            endpoints=_endpoints(endpoints) if endpoints is not None else env_endpoints,
            disabled=disabled,
            timeout=timeout if timeout is not None else env_timeout,
            attempts=attempts if attempts is not None else env_attempts,
        )
        if log.isEnabledFor(INFO):
            shown = {
                "endpoints": construct_endpoint_list_str(base.endpoints),
                "timeout": f"{base.timeout:g} s",
                "attempts": str(base.attempts),
            }
            if disabled:
                shown["disabled"], sources["disabled"] = "true", ENV_DISABLED
            log.info(
                "settings: %s",
                ", ".join(f"{k} {v} (from {sources[k]})" for k, v in shown.items()),
            )
        if token_ttl is not None:
            other = {**other, "token_ttl": token_ttl}
        return base.replace(**other) if other else base


class Options(TypedDict, total=False):
    """The options ``IMDS(...)`` and ``AsyncIMDS(...)`` take by keyword (each overrides the
    ``AWS_*`` environment; ``None`` means "not given").  A misspelt name or a wrong type is
    a mypy error, and a ``TypeError`` at run time."""

    endpoints: Sequence[Endpoint] | str | None
    """``[(host, port), ...]`` or ``"host:port,..."``; more than one are raced."""
    endpoint_mode: str | None
    """``"IPv4"`` or ``"IPv6"`` (any case): that endpoint alone; any endpoint beats it."""
    token_ttl: int | None
    """Session token lifetime, seconds (1..21600)."""
    timeout: float | None
    """Connect and read timeout, seconds."""
    attempts: int | None
    """Total attempts per request (1: no retry)."""
    concurrency: int | None
    """Requests in flight during a crawl."""
    disabled: bool | None
    """Fail every request at once, as ``AWS_EC2_METADATA_DISABLED=true`` does."""
    max_body: int | None
    """Largest response body accepted, bytes."""
    backoff_base: float | None
    """First retry delay, seconds."""
    backoff_cap: float | None
    """Longest retry delay, seconds."""
    race_delay: float | None
    """Head start of the IPv6 endpoint in the race, seconds."""
    profile: str | None
    """The AWS config file's profile to read (default ``AWS_PROFILE``, then ``default``)."""
    env: Mapping[str, str] | None
    """The environment to read ``AWS_*`` from (default ``os.environ``)."""


_NUMBER = "a number"
#: Run-time check of :class:`Options`: the accepted types, and how to say them.
_OPTION_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "endpoints": ((str, list, tuple), "a list of (host, port) or a string"),
    "endpoint_mode": ((str,), "a string"),
    "token_ttl": ((int,), "an integer"),
    "timeout": ((int, float), _NUMBER),
    "attempts": ((int,), "an integer"),
    "concurrency": ((int,), "an integer"),
    "disabled": ((bool,), "a bool"),
    "max_body": ((int,), "an integer"),
    "backoff_base": ((int, float), _NUMBER),
    "backoff_cap": ((int, float), _NUMBER),
    "race_delay": ((int, float), _NUMBER),
    "profile": ((str,), "a string"),
    "env": ((Mapping,), "a mapping"),
}


def check_options(owner: str, options: Mapping[str, object]) -> dict[str, Any]:
    """The given :class:`Options` (``None`` values dropped), checked as mypy would check
    them: ``TypeError`` for an unknown name (with the closest one) or a wrong type."""
    out: dict[str, Any] = {}
    for name, value in options.items():
        if name not in _OPTION_TYPES:
            import difflib

            close = difflib.get_close_matches(name, list(_OPTION_TYPES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}{hint}")
        if value is None:
            continue
        types, what = _OPTION_TYPES[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise TypeError(f"{owner}(): {name} must be {what}, not {type(value).__name__}")
        out[name] = value
    return out


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise IMDSConfigError(f"{name}: {value!r} is not a number")
    if not math.isfinite(value) or value <= 0:
        raise IMDSConfigError(f"{name}: {value!r} must be a positive number of seconds")


def _endpoints(endpoints: Sequence[Endpoint] | str) -> tuple[Endpoint, ...]:
    if isinstance(endpoints, str):
        return tuple(mk_endpoint_list_from_str(endpoints))
    out: list[Endpoint] = []
    for item in endpoints:
        ep: object = item
        if (
            not isinstance(ep, tuple)
            or len(ep) != 2
            or not isinstance(ep[0], str)
            or not (ep[1] is None or (isinstance(ep[1], int) and 0 < ep[1] < 65536))
        ):
            raise IMDSConfigError(f"endpoints: {ep!r} is not a (host, port) tuple")
        out.append(item)
    return tuple(out)


def _by_mode(name: str, mode: object) -> tuple[Endpoint, ...]:
    """The one endpoint an endpoint mode names (``IPv4`` or ``IPv6``, any case)."""
    text = mode.strip().lower() if isinstance(mode, str) else None
    if text == "ipv4":
        return (IPV4_ENDPOINT,)
    if text == "ipv6":
        return (IPV6_ENDPOINT,)
    raise IMDSConfigError(f"{name}={mode!r}: expected IPv4 or IPv6")


def _env_endpoints(env: Mapping[str, str]) -> tuple[Endpoint, ...]:
    """The endpoints the environment asks for; both variables are checked, whichever
    wins (the endpoint over the mode, as in the AWS SDKs)."""
    mode = env.get(ENV_MODE, "").strip()
    by_mode = _by_mode(ENV_MODE, mode) if mode else DEFAULT_ENDPOINTS
    url = env.get(ENV_ENDPOINT, "").strip()
    if url:
        if not url.lower().startswith("http://"):
            raise IMDSConfigError(
                f"{ENV_ENDPOINT}={url!r}: expected an http:// URL such as http://169.254.169.254"
            )
        try:
            return (mk_endpoint_from_str(url),)
        except IMDSConfigError as exc:
            raise IMDSConfigError(f"{ENV_ENDPOINT}: {exc}") from None
    return by_mode


def _conf_endpoint(conf: Any) -> tuple[Endpoint, ...]:
    key = "ec2_metadata_service_endpoint"
    url = conf.values[key]
    if not url.lower().startswith("http://"):
        raise conf.error(key, "an http:// URL such as http://169.254.169.254")
    try:
        return (mk_endpoint_from_str(url),)
    except IMDSConfigError as exc:
        raise IMDSConfigError(f"{conf.where(key)}: {exc}") from None


def _conf_timeout(conf: Any) -> float:
    key = "metadata_service_timeout"
    try:
        value = float(conf.values[key])
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise conf.error(key, "a positive number of seconds")
    return value


def _conf_attempts(conf: Any) -> int:
    key = "metadata_service_num_attempts"
    raw = conf.values[key]
    if not raw.isdigit() or int(raw) < 1:
        raise conf.error(key, "a whole number >= 1")
    return int(raw)


def _disabled(env: Mapping[str, str]) -> bool:
    value = env.get(ENV_DISABLED, "").strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise IMDSConfigError(f"{ENV_DISABLED}={env[ENV_DISABLED]!r}: expected true or false")


def _env_timeout(env: Mapping[str, str]) -> float:
    raw = env.get(ENV_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise IMDSConfigError(f"{ENV_TIMEOUT}={raw!r}: expected a positive number of seconds")
    return value


def _env_attempts(env: Mapping[str, str]) -> int:
    raw = env.get(ENV_ATTEMPTS, "").strip()
    if not raw:
        return DEFAULT_ATTEMPTS
    if not raw.isdigit() or int(raw) < 1:
        raise IMDSConfigError(f"{ENV_ATTEMPTS}={raw!r}: expected a whole number >= 1")
    return int(raw)
