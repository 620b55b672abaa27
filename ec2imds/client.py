"""The typed clients: :class:`IMDS` (sync) and :class:`AsyncIMDS`.

Both offer the same things (the async client's in awaitable form; docs/library.md has
the table), and both fetch lazily: one leaf costs one GET (plus a token PUT when none is
cached), a category costs its subtree, nothing is fetched that was not asked for. Values that never
change are cached for the client's life (:meth:`IMDS.clear_cache` forgets them);
volatile ones (spot, events, autoscaling, IAM credentials, tags, security groups,
instance-action) and every listing that can gain or lose them are fetched every time.

A crawl runs the :class:`~ec2imds.crawl.Walk` state machine with up to
``Settings.concurrency`` requests in flight (threads sharing one driver, or tasks).
``all()``, ``get(Model)`` and ``values(..., listed=True)`` go through the listings: a
category its parent does not list is absent and never requested (docs/imds.md, 'Directory
listings'). Each can raise at the first failure, or collect failures beside what
validated.
"""

from __future__ import annotations

import concurrent.futures
import io
import threading
from collections.abc import Awaitable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ec2imds import _category_json, _pathmatch, catalog
from ec2imds._category_json import (
    ROOTS,
    category_values,
    category_walk,
    model_at,
    validate_tree,
)
from ec2imds._closing import AsyncClosing, Closing
from ec2imds._drivers.default import DefaultDriver
from ec2imds._drivers.sync import SyncDriver
from ec2imds._flow import IO, Flow, aevents, arun, events, run
from ec2imds._paths import AsyncValueByPath, ValueByPath
from ec2imds.crawl import INDEXED_DIRS, RawNode, Walk, parse_listing, walk_flow
from ec2imds.errors import Failures, hand_over
from ec2imds.settings import Options, Settings, check_options
from ec2imds.tokens import TokenStore

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Generator, Mapping

    import httpx
    from typing_extensions import Unpack

    from ec2imds._drivers.aio import AsyncDriver
    from ec2imds.identity import CertificateArg, SignatureKind, VerifiedIdentity
    from ec2imds.models import InstanceMetadata
    from ec2imds.models._base import IMDSModel
    from ec2imds.models._views import AsyncTreeSource, TreeSource
    from ec2imds.watch import EventCategory, WatchEvent

__all__ = ["IMDS", "AsyncIMDS"]

M = TypeVar("M", bound="IMDSModel")
_MISSING = object()


@lru_cache(maxsize=4096)
def cacheable(path: str) -> bool:
    """True when the body at ``path`` (relative to ``/latest/``) can never change: the
    catalog decides, per path (a listing is re-read when anything below it is volatile)."""
    is_dir = path.endswith("/")
    found = _pathmatch.match(path.rstrip("/"))
    if found is None:
        return False
    entry = found[0]
    if is_dir:
        return not catalog.subtree_volatile(entry.path)
    return not entry.volatile


def _settings(settings: Settings | None, owner: str, options: Options) -> Settings:
    given = check_options(owner, options)
    if settings is not None:
        if not isinstance(settings, Settings):
            raise TypeError(
                f"{owner}(): settings must be a Settings, not {type(settings).__name__}"
            )
        if given:
            raise TypeError("pass either settings or individual options, not both")
        return settings
    return Settings.resolve(**given)


def _value_of(path: str, raw: RawNode | None) -> object:
    """``value(path)`` from what IMDS served: ``None`` when absent, unless EC2 serves the
    path on every instance (then an error naming it)."""
    from ec2imds.errors import absent_error
    from ec2imds.models._validation import validate_value

    tp = _category_json.type_at(path)  # KeyError for a path the models do not know
    if raw is None:
        found = _pathmatch.match(path)
        if found is not None and found[0].path in _category_json.always():
            raise absent_error(path)
        return None
    return validate_value(tp, raw, path=path)


def _fetch_plan(path: str) -> tuple[str, bool, bool]:
    """For ``value(path)``: the normalised path, whether it is a leaf, whether volatile."""
    path = path.strip("/")
    _category_json.type_at(path)  # an unknown path fails before any request
    found = _pathmatch.match(path)
    volatile = found is None or not cacheable(path)
    return path, found is not None and found[0].is_leaf, volatile


class _Cache:
    """Bodies of paths that never change (``None`` is a cached 404)."""

    def __init__(self) -> None:
        self._bodies: dict[str, bytes | None] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> object:
        with self._lock:
            return self._bodies.get(path, _MISSING)

    def put(self, path: str, body: bytes | None) -> None:
        if cacheable(path):
            with self._lock:
                self._bodies[path] = body

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()


def _listing_names(body: bytes | None, path: str) -> list[str] | None:
    if body is None:
        return None
    directory = path.rstrip("/")
    indexed = directory in INDEXED_DIRS
    return [
        e.key + ("/" if e.is_dir and not indexed else "")
        for e in parse_listing(body, path=directory, indexed=indexed)
    ]


def _roots(only: list[str] | None = None) -> Walk:
    """A walk from ``/latest/`` through the listings (towards ``only``, if given)."""
    return Walk("", seed=list(ROOTS), only=only)


def _model_path(model: type[IMDSModel]) -> str:
    path = model.__imds_path__
    if "{" in path or not path:
        raise TypeError(
            f"{model.__name__} is not one category ({path or '/latest/'}); use all(), or "
            "value() with a concrete path"
        )
    return path


TT = TypeVar("TT", "httpx.BaseTransport", "httpx.AsyncBaseTransport")
EV = TypeVar("EV")  # what watch() returns: a generator of events, sync or async


class _Client(Generic[TT, EV]):
    """What :class:`IMDS` and :class:`AsyncIMDS` share: their arguments, the driver the
    subclass makes from them (``_driver``), the settings and the cache."""

    driver: SyncDriver | AsyncDriver
    _owner: ClassVar[str]

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: TokenStore | None = None,
        http_transport: TT | None = None,
        **options: Unpack[Options],
    ) -> None:
        resolved = _settings(settings, self._owner, options)
        self.driver = self._driver(resolved, store, http_transport)
        self.settings = self.driver.settings
        self._cache = _Cache()
        self._opened()

    @staticmethod
    def _driver(
        settings: Settings, store: TokenStore | None, http_transport: TT | None
    ) -> SyncDriver | AsyncDriver:
        raise NotImplementedError

    def _opened(self) -> None:
        """What the subclass adds once the driver is there."""

    def clear_cache(self) -> None:
        """Forget every cached value: the next read fetches again."""
        self._cache.clear()

    def _fetch(self, path: str, asked: set[str] | None = None) -> Flow[bytes | None]:
        """A read through the cache, as a flow whose ask is the path (see :meth:`_cached`)."""
        body = self._cached(path, asked)
        if body is _MISSING:
            body = yield path
            self._cache.put(path, body)
        return body  # type: ignore[return-value]

    def _cached(self, path: str, asked: set[str] | None = None) -> object:
        """The cached body at ``path``, or ``_MISSING``: not cached, or, within one walk
        (``asked``: its paths so far), asked for again (it changed during the walk: see
        :class:`~ec2imds.crawl.Walk`), so it comes from IMDS, not the cache."""
        if asked is not None:
            if path in asked:
                return _MISSING
            asked.add(path)
        return self._cache.get(path)

    def watch(
        self,
        *categories: EventCategory,
        interval: float | Mapping[EventCategory, float] | None = None,
        existing: bool = True,
        grace: float | None = None,
    ) -> EV:
        """Poll for interruption and lifecycle news; one typed event per appearance or
        change: ``for event in imds.watch("spot"): ...``, ``async for event in
        aimds.watch("spot"): ...`` (see :mod:`ec2imds.watch`).

        ``categories``: ``spot``, ``rebalance``, ``maintenance``, ``autoscaling`` (default:
        all); ``interval``: seconds between reads (one number, or by category; defaults 5,
        5, 30, 10); ``existing``: report what is there at the first read; ``grace``:
        seconds without a successful read before the last error is raised (default 60).
        """
        from ec2imds.watch import DEFAULT_GRACE, watch_flow

        grace = DEFAULT_GRACE if grace is None else grace
        return self._events(
            watch_flow(*categories, interval=interval, existing=existing, grace=grace)
        )

    def _events(self, flow: Flow[None]) -> EV:
        """The watch's flow on the subclass's runner."""
        raise NotImplementedError


class IMDS(
    _Client["httpx.BaseTransport", "Generator[WatchEvent, None, None]"], ValueByPath, Closing
):
    """Sync, typed, lazy access to IMDS.

    >>> with IMDS() as imds:  # doctest: +SKIP
    ...     imds.meta_data.placement.availability_zone
    'us-east-1a'

    Options (:class:`~ec2imds.settings.Options`: ``endpoints``, ``token_ttl``,
    ``timeout``, ``attempts``, ``concurrency``, ...) override the ``AWS_*`` environment;
    or pass a whole :class:`Settings`. ``store`` keeps tokens (memory by default);
    ``http_transport`` (any ``httpx.BaseTransport``: a mock, respx, a real
    ``httpx.HTTPTransport``) sends the requests through httpx instead of ec2imds's own
    lean HTTP/1.1 client (:mod:`ec2imds._drivers.http11`), which is the default: httpx is
    imported only then.
    """

    driver: SyncDriver
    _owner = "IMDS"

    @staticmethod
    def _driver(
        settings: Settings, store: TokenStore | None, http_transport: httpx.BaseTransport | None
    ) -> SyncDriver:
        if http_transport is None:
            return DefaultDriver(settings, store)
        from ec2imds._drivers.httpx import HttpxDriver

        return HttpxDriver(settings, store=store, http_transport=http_transport)

    def _opened(self) -> None:
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def close(self) -> None:
        """Close the connection pool and the crawl threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self.driver.close()

    # -- raw access ------------------------------------------------------------------

    def fetch(self, path: str) -> bytes | None:
        """The body at ``path`` (relative to ``/latest/``); None on 404. Cached if immutable."""
        return run(self._fetch(path), IO(self.driver.get))

    # -- the TreeSource protocol (what the generated views call) -----------------------

    def leaf(self, path: str, *, volatile: bool) -> bytes | None:
        return self.driver.get(path) if volatile else self.fetch(path)

    def listing(self, path: str, *, volatile: bool) -> list[str] | None:
        path = path.rstrip("/") + "/"
        body = self.driver.get(path) if volatile else self.fetch(path)
        return _listing_names(body, path)

    def subtree(self, path: str, *, volatile: bool) -> RawNode | None:
        return self._walk(Walk(path), fresh=volatile)

    # -- typed access ------------------------------------------------------------------

    def _source(self) -> TreeSource:
        return self  # what the views read from (the generated ``ValueByPath`` makes them)

    @property
    def region(self) -> str:
        """The instance's Region: ``placement/region``, or on instances launched before it
        existed, the identity document's ``region`` (never the AZ minus a letter)."""
        region = self.meta_data.placement.region
        if region is not None:
            return region
        return self.dynamic.instance_identity.document.region

    def get(self, model: type[M], failures: Failures | None = None) -> M:
        """Fetch and validate one category by its model class: ``imds.get(Placement)``.

        Reached through the listings above it: a category they do not name is empty
        (every field ``None``) and is never requested. ``failures``: as in :meth:`all`.
        """
        path = _model_path(model)
        collected: Failures | None = None if failures is None else {}
        try:
            raw = self._walk(_roots([path]), fresh=model.__imds_volatile__, failures=collected)
            return model_at(model, raw, path=path, failures=collected)
        finally:
            if collected is not None:
                hand_over(collected, failures)

    def all(self, failures: Failures | None = None) -> InstanceMetadata:
        """Everything: meta-data, dynamic and user data, validated.

        Without ``failures``, the first error raises. With a dict, a category whose fetch
        or validation fails is left out of the result (``None``) and its error recorded
        there by path; everything else is returned. Unreachable, disabled and token
        errors always raise, and so does a bad or missing value the models require.
        """
        from ec2imds.models import InstanceMetadata

        collected: Failures | None = None if failures is None else {}
        try:
            raw = self._walk(_roots(), fresh=False, failures=collected)
            return validate_tree(InstanceMetadata, raw, path="", failures=collected)
        finally:
            if collected is not None:
                hand_over(collected, failures)

    def raw_tree(self) -> RawNode:
        """Everything as IMDS served it: a dict of bytes leaves (nothing parsed)."""
        raw = self._walk(_roots(), fresh=False)
        return raw if raw is not None else {}

    def _value(self, path: str) -> object:
        path, is_leaf, volatile = _fetch_plan(path)
        if is_leaf:
            raw: RawNode | None = self.leaf(path, volatile=volatile)
        else:
            raw = self.subtree(path, volatile=volatile)
        return _value_of(path, raw)

    def values(
        self, paths: list[str], failures: Failures | None = None, *, listed: bool = False
    ) -> dict[str, Any]:
        """Categories by path, as JSON-compatible values, fetched in one concurrent crawl.

        With ``failures`` (a dict), a category whose fetch or validation fails is left
        out and its error recorded there, and the others are still returned; without it,
        the first error is raised. Unreachable, disabled and token errors always raise.
        Each path is asked for directly, unless ``listed`` (what ``ec2imds -a`` does):
        then the listings are walked towards them, and a category its parent does not
        list is ``None`` without being requested.
        """
        collected: Failures = {}
        raw = self._walk(category_walk(paths, listed=listed), fresh=False, failures=collected)
        out = category_values(paths, raw, collected)
        hand_over(collected, failures)
        return out

    def user_data(self) -> bytes | None:
        """The instance's user data, byte for byte (None when there is none)."""
        return self.fetch("user-data")

    def verified_identity(
        self, *, kind: SignatureKind | None = None, certificate: CertificateArg | None = None
    ) -> VerifiedIdentity:
        """The identity document, only once a signature of its exact bytes verified with
        AWS's pinned certificate for its region (see :mod:`ec2imds.identity`).

        Tries ``rsa2048``, then ``pkcs7`` only if IMDS does not serve it (404), then
        ``signature``; a check that fails raises and never falls through. ``kind`` forces
        one; ``certificate`` (PEM bytes, a path, or a dict by kind) replaces the pinned one.
        Raises :class:`~ec2imds.errors.IdentityVerificationError`. Needs the ``verify``
        extra (``pip install 'ec2imds[verify]'``).
        """
        from ec2imds.identity import verify_served

        return verify_served(self.fetch, kind=kind, certificate=certificate)

    def open_user_data(self) -> io.BufferedReader | None:
        """User data as a binary stream (``read(n)``), for copying it to a file."""
        data = self.user_data()
        return None if data is None else io.BufferedReader(io.BytesIO(data))

    def _events(self, flow: Flow[None]) -> Generator[WatchEvent, None, None]:
        return events(flow, IO(lambda ask: self.driver.get(ask.path)))

    # -- the crawl driver ------------------------------------------------------------

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self.settings.concurrency, thread_name_prefix="ec2imds-crawl"
                )
            return self._pool

    def _walk(self, walk: Walk, *, fresh: bool, failures: Failures | None = None) -> RawNode | None:
        asked: set[str] = set()

        def get(path: str) -> bytes | None:  # fetch(), one ask: no run of its own
            body = self._cached(path, asked)
            if body is _MISSING:
                body = self.driver.get(path)
                self._cache.put(path, body)
            return body  # type: ignore[return-value]

        io = IO(self.driver.get if fresh else get, pool=self._executor())
        return run(walk_flow(walk, failures), io)


class AsyncIMDS(
    _Client["httpx.AsyncBaseTransport", "AsyncGenerator[WatchEvent, None]"],
    AsyncValueByPath,
    AsyncClosing,
):
    """Async, typed, lazy access to IMDS: what :class:`IMDS` offers, awaitable.

    ``await aimds.meta_data.placement.availability_zone``, ``await aimds.value(path)``,
    ``await aimds.get(Placement)``, ``await aimds.all()``, ``await aimds.region``; the same
    options as :class:`IMDS`. Runs on asyncio. ``http_transport`` (any
    ``httpx.AsyncBaseTransport``) sends the requests through httpx; by default they go
    over non-blocking sockets with ec2imds's own HTTP/1.1 parser
    (:class:`ec2imds._drivers.default_async.AsyncDefaultDriver`).
    """

    driver: AsyncDriver
    _owner = "AsyncIMDS"

    @staticmethod
    def _driver(
        settings: Settings,
        store: TokenStore | None,
        http_transport: httpx.AsyncBaseTransport | None,
    ) -> AsyncDriver:
        if http_transport is None:
            from ec2imds._drivers.default_async import AsyncDefaultDriver

            return AsyncDefaultDriver(settings, store=store)
        from ec2imds._drivers.httpx import AsyncHttpxDriver

        return AsyncHttpxDriver(settings, store=store, http_transport=http_transport)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.driver.aclose()

    async def fetch(self, path: str) -> bytes | None:
        """The body at ``path`` (relative to ``/latest/``); None on 404. Cached if immutable."""
        return await arun(self._fetch(path), IO(self.driver.get))

    # -- the AsyncTreeSource protocol (what the generated async views call) ------------

    async def leaf(self, path: str, *, volatile: bool) -> bytes | None:
        return await (self.driver.get(path) if volatile else self.fetch(path))

    async def listing(self, path: str, *, volatile: bool) -> list[str] | None:
        path = path.rstrip("/") + "/"
        body = await (self.driver.get(path) if volatile else self.fetch(path))
        return _listing_names(body, path)

    async def subtree(self, path: str, *, volatile: bool) -> RawNode | None:
        return await self._walk(Walk(path), fresh=volatile)

    # -- typed access ------------------------------------------------------------------

    def _source(self) -> AsyncTreeSource:
        return self  # what the views read from (the generated ``AsyncValueByPath`` makes them)

    @property
    def region(self) -> Awaitable[str]:
        """``await aimds.region``: as :attr:`IMDS.region`."""
        return self._region()

    async def _region(self) -> str:
        region = await self.meta_data.placement.region
        if region is not None:
            return region
        return (await self.dynamic.instance_identity.document).region

    async def _value(self, path: str) -> object:
        path, is_leaf, volatile = _fetch_plan(path)
        if is_leaf:
            raw: RawNode | None = await self.leaf(path, volatile=volatile)
        else:
            raw = await self.subtree(path, volatile=volatile)
        return _value_of(path, raw)

    async def get(self, model: type[M], failures: Failures | None = None) -> M:
        """Fetch and validate one category by its model class (see :meth:`IMDS.get`)."""
        path = _model_path(model)
        collected: Failures | None = None if failures is None else {}
        try:
            raw = await self._walk(
                _roots([path]), fresh=model.__imds_volatile__, failures=collected
            )
            return model_at(model, raw, path=path, failures=collected)
        finally:
            if collected is not None:
                hand_over(collected, failures)

    async def all(self, failures: Failures | None = None) -> InstanceMetadata:
        """Everything, validated; ``failures`` as in :meth:`IMDS.all`."""
        from ec2imds.models import InstanceMetadata

        collected: Failures | None = None if failures is None else {}
        try:
            raw = await self._walk(_roots(), fresh=False, failures=collected)
            return validate_tree(InstanceMetadata, raw, path="", failures=collected)
        finally:
            if collected is not None:
                hand_over(collected, failures)

    async def raw_tree(self) -> RawNode:
        """Everything as IMDS served it: a dict of bytes leaves (nothing parsed)."""
        raw = await self._walk(_roots(), fresh=False)
        return raw if raw is not None else {}

    async def values(
        self, paths: list[str], failures: Failures | None = None, *, listed: bool = False
    ) -> dict[str, Any]:
        """Categories by path, as JSON-compatible values (see :meth:`IMDS.values`)."""
        collected: Failures = {}
        raw = await self._walk(category_walk(paths, listed=listed), fresh=False, failures=collected)
        out = category_values(paths, raw, collected)
        hand_over(collected, failures)
        return out

    async def user_data(self) -> bytes | None:
        """The instance's user data, byte for byte (None when there is none)."""
        return await self.fetch("user-data")

    async def verified_identity(
        self, *, kind: SignatureKind | None = None, certificate: CertificateArg | None = None
    ) -> VerifiedIdentity:
        """The verified identity document (see :meth:`IMDS.verified_identity`)."""
        from ec2imds.identity import averify_served

        return await averify_served(self.fetch, kind=kind, certificate=certificate)

    async def open_user_data(self) -> io.BufferedReader | None:
        """User data as a binary stream (``read(n)``), for copying it to a file."""
        data = await self.user_data()
        return None if data is None else io.BufferedReader(io.BytesIO(data))

    def _events(self, flow: Flow[None]) -> AsyncGenerator[WatchEvent, None]:
        return aevents(flow, IO(lambda ask: self.driver.get(ask.path)))

    async def _walk(
        self, walk: Walk, *, fresh: bool, failures: Failures | None = None
    ) -> RawNode | None:
        import asyncio

        asked: set[str] = set()

        async def get(path: str) -> bytes | None:
            body = self._cached(path, asked)
            if body is _MISSING:
                body = await self.driver.get(path)
                self._cache.put(path, body)
            return body  # type: ignore[return-value]

        limit = asyncio.Semaphore(self.settings.concurrency)
        io = IO(self.driver.get if fresh else get, limit=limit)
        return await arun(walk_flow(walk, failures), io)
