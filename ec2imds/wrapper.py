"""ec2imds 0.0.3's module API, kept: :class:`IMDSWrapper` and :class:`IMDSCategory`.

Code written for 0.0.3 runs unchanged::

    w = IMDSWrapper()
    w.on_new_token = on_new_token      # (token, expiry, (host, port)) -> None
    w.on_load_token = on_load_token    # ((host, port)) -> (token, expiry) | None
    everything = w.all()               # {category path: value}
    region = w.dir_dict["meta-data/placement/region"].func()

It now runs on the typed client: values are validated by the models and come back as
JSON-compatible ``dict``/``list``/``str``/``int``/``bool`` (addresses and times as
strings), ``None`` for a 404. Fixed on the way: every public key is kept (0.0.3 kept the
last), the identity document, pkcs7, signature and fws are read from ``dynamic/`` (their
0.0.3 paths under ``meta-data/`` still work as names), 5xx answers are retried, no
mutable default is shared between requests, errors derive from ``Exception``, and
requests share a keep-alive connection pool instead of a new connection (plus a probe)
each.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from typing import Any

from ec2imds import _category_json
from ec2imds._categories import CATEGORIES
from ec2imds.client import IMDS
from ec2imds.crawl import RawNode, Walk
from ec2imds.endpoints import (
    DEFAULT_ENDPOINTS,
    Endpoint,
    construct_endpoint_list_str,
    construct_endpoint_str,
    mk_endpoint_from_str,
    mk_endpoint_list_from_str,
)
from ec2imds.settings import Settings
from ec2imds.tokens import CallbackTokenStore, OnLoadToken, OnNewToken

__all__ = ["IMDSCategory", "IMDSWrapper"]

TypeF = list[tuple[re.Pattern[str], Callable[[str], Any]]]


def _no_func(*args: object, **kwargs: object) -> Any:
    raise TypeError("this IMDSCategory was made without a func")


class IMDSCategory:
    """One category: ``path`` and ``func`` (call it to fetch the value; typed as callable,
    so ``dir_dict[path].func()`` type-checks)."""

    def __init__(
        self,
        path: str | None = None,
        func: Callable[..., Any] | None = None,
        arg: str | None = None,
    ) -> None:
        self.path = path
        self.func: Callable[..., Any] = func if func is not None else _no_func
        self.arg = arg

    def __repr__(self) -> str:
        return f"IMDSCategory({self.path!r})"


class _DirDict(dict[str, IMDSCategory]):
    """The categories; 0.0.3's mistaken paths (``meta-data/instance-identity/...``) resolve
    to the right ones when looked up, but are not listed twice."""

    def __missing__(self, key: str) -> IMDSCategory:
        alias = _category_json.CATEGORY_ALIASES.get(key)
        if alias is not None and alias in self:
            return self[alias]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (
            isinstance(key, str) and _category_json.CATEGORY_ALIASES.get(key, "") in self.keys()
        )


class IMDSWrapper:
    """ec2imds 0.0.3's IMDSv2 facility, on the typed client.

    ``tries`` is the total attempt budget per request (default 3; 0.0.3's default was 1,
    with 5xx never actually retried), ``retry_delay`` the first backoff delay.
    """

    construct_endpoint_str = staticmethod(construct_endpoint_str)
    mk_endpoint_from_str = staticmethod(mk_endpoint_from_str)
    construct_endpoint_list_str = staticmethod(construct_endpoint_list_str)
    mk_endpoint_list_from_str = staticmethod(mk_endpoint_list_from_str)

    def __init__(
        self,
        endpoints: list[Endpoint] | tuple[Endpoint, ...] | None = None,
        token_ttl: dt.timedelta = dt.timedelta(seconds=21600),
        tries: int | None = None,
        retry_delay: dt.timedelta | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        self._store = CallbackTokenStore()
        if settings is None:
            options: dict[str, Any] = {
                "endpoints": list(endpoints) if endpoints is not None else None,
                "token_ttl": int(token_ttl.total_seconds()),
                "attempts": tries,
            }
            if endpoints is None:
                # 0.0.3 used both endpoints unless told otherwise; AWS_* may narrow that.
                options["endpoints"] = None
            if retry_delay is not None:
                options["backoff_base"] = retry_delay.total_seconds()
            settings = Settings.resolve(**{k: v for k, v in options.items() if v is not None})
        self._imds = IMDS(settings, store=self._store)
        self._endpoints = settings.endpoints or DEFAULT_ENDPOINTS
        self.dir_dict: dict[str, IMDSCategory] = _DirDict()
        for path in CATEGORIES:
            self.dir_dict[path] = IMDSCategory(path, self._category_func(path))

    def _category_func(self, path: str) -> Callable[..., Any]:
        def func(*args: Any) -> Any:
            return self._imds.values([path])[path]

        return func

    @property
    def on_new_token(self) -> OnNewToken | None:
        """Called as ``on_new_token(token, expiry, (host, port))`` with each new token."""
        return self._store.on_new_token

    @on_new_token.setter
    def on_new_token(self, callback: OnNewToken | None) -> None:
        self._store.on_new_token = callback

    @property
    def on_load_token(self) -> OnLoadToken | None:
        """Called as ``on_load_token((host, port))``; returns ``(token, expiry)`` or None."""
        return self._store.on_load_token

    @on_load_token.setter
    def on_load_token(self, callback: OnLoadToken | None) -> None:
        self._store.on_load_token = callback

    # -- the client underneath -------------------------------------------------------

    @property
    def imds(self) -> IMDS:
        """The typed client this wrapper runs on (``w.imds.meta_data.placement.region``)."""
        return self._imds

    def close(self) -> None:
        self._imds.close()

    def __enter__(self) -> IMDSWrapper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tokens ------------------------------------------------------------------------

    def get_token(self) -> tuple[str, dt.datetime, Endpoint]:
        """A usable token, its expiry and the endpoint it is for (a PUT only if needed)."""
        token = self._imds.driver.token()
        endpoint = self._imds.driver.endpoint
        assert endpoint is not None
        return token.value, token.expiry, endpoint

    def expire_token(self) -> None:
        """Forget the cached token; the next request gets one (from the callback or a PUT)."""
        self._imds.driver.expire_token()

    def token_expired(self) -> bool:
        """True when no usable token is cached in memory."""
        return not self._imds.driver.has_usable_token()

    def reset_states(self) -> None:
        """Forget the token and the chosen endpoint (the next request races again)."""
        self._imds.driver.reset()
        self._imds.clear_cache()

    # -- requests ----------------------------------------------------------------------

    def open_url(self, path: str, apiver: str | None = None) -> io.BufferedIOBase | None:
        """The body at ``path`` as a binary stream, or None on 404."""
        full = f"/{apiver or 'latest'}/{path.lstrip('/')}"
        body = self._imds.driver.get(full)
        return None if body is None else io.BytesIO(body)

    def load_scalar(self, path: str, tf: Callable[[str], Any] | None = None) -> Any:
        """The decoded body at ``path`` (passed through ``tf`` if given), or None on 404."""
        body = self._imds.fetch(path)
        if body is None:
            return None
        text = body.decode("utf-8")
        return tf(text) if tf is not None else text

    def load_tree(
        self, path: str, depth: int, type_f: TypeF | None = None
    ) -> dict[str, Any] | None:
        """The directory at ``path`` as nested dicts of decoded strings, ``depth`` levels
        below it; a leaf whose full path matches a ``type_f`` pattern is converted."""
        if depth < 0:
            raise RecursionError(path)
        raw = self._imds._walk(Walk(path, max_depth=depth + 1), fresh=True)
        if not isinstance(raw, dict):
            return None
        return _decode_tree(raw, path.strip("/"), type_f or [])

    def open_userdata(self) -> io.BufferedIOBase | None:
        """The user data as a binary stream (``read(n)``), or None when there is none."""
        return self.open_url("user-data")

    def all(self, args: Any = None) -> dict[str, Any]:
        """Every category's value, by path, fetched in one concurrent crawl."""
        return self._imds.values(list(self.dir_dict))


def _decode_tree(node: dict[str, RawNode], path: str, type_f: TypeF) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, child in node.items():
        child_path = f"{path}/{key}"
        if isinstance(child, dict):
            out[key] = _decode_tree(child, child_path, type_f)
            continue
        text = child.decode("utf-8")
        convert = next((f for pattern, f in type_f if pattern.match(child_path)), None)
        out[key] = convert(text) if convert is not None else text
    return out
