"""Lazy views: typed access to IMDS directories that fetches only what is read, from a
:class:`TreeSource` (the client) or an :class:`AsyncTreeSource` (the async client).

The sync and async twins share one core that does no I/O.  Every fetch a view needs is
planned as a :class:`_Read`: which call of the source (a leaf, a listing, a subtree, or
none), on which path, how volatile, and how to make the value from the answer; a read is
a flow (:mod:`ec2imds._flow`) that asks it.  :class:`_ViewCore` and :class:`_MapCore`
plan the reads; :class:`View` and :class:`MapView` run them on a :class:`TreeSource` with
the blocking runner (:func:`_do`), :class:`AsyncView` and :class:`AsyncMapView` on an
:class:`AsyncTreeSource` with the asyncio runner (:func:`_ado`).  So a path, a parse or
an error message is written once, for both.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import (
    Annotated,
    Any,
    ClassVar,
    Generic,
    Literal,
    Protocol,
    TypeVar,
    get_args,
    get_origin,
)

if sys.version_info >= (3, 11):
    from typing import NamedTuple
else:  # a generic NamedTuple is new in 3.11 (typing_extensions: pydantic imports it anyway)
    from typing_extensions import NamedTuple

from pydantic import BaseModel

from ec2imds._flow import IO, Flow, arun, run
from ec2imds.crawl import RawNode  # a crawled tree: the crawl's own type, listed in __all__
from ec2imds.errors import absent_error
from ec2imds.models._base import IMDSModel
from ec2imds.models._validation import _join, field_type, validate_raw, validate_value

__all__ = [
    "AsyncMapView",
    "AsyncTreeSource",
    "AsyncView",
    "MapView",
    "RawNode",
    "TreeSource",
    "View",
]

S = TypeVar("S")  # the source a view reads: a TreeSource or an AsyncTreeSource
K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
CV = TypeVar("CV", bound="_ViewCore[Any]")
VT = TypeVar("VT", bound="View")
AVT = TypeVar("AVT", bound="AsyncView")


class TreeSource(Protocol):
    """Where views fetch from; the client implements it (with caching and volatility).

    Paths are relative to ``/latest/`` with no leading or trailing ``/``
    (``meta-data/placement/region``; ``""`` is the root).  ``volatile`` tells the source
    not to serve the value from a cache.
    """

    def leaf(self, path: str, *, volatile: bool) -> bytes | None:
        """One GET of a leaf; ``None`` on 404."""
        ...

    def listing(self, path: str, *, volatile: bool) -> list[str] | None:
        """One GET of a directory listing, entries as IMDS lists them (a trailing ``/``
        marks a subdirectory); ``None`` on 404."""
        ...

    def subtree(self, path: str, *, volatile: bool) -> RawNode | None:
        """A crawl of that subtree (a leaf path gives its bytes); ``None`` on 404."""
        ...


class AsyncTreeSource(Protocol):
    """:class:`TreeSource` for async views: the same three calls, awaitable
    (:class:`~ec2imds.AsyncIMDS` implements it)."""

    async def leaf(self, path: str, *, volatile: bool) -> bytes | None:
        """One GET of a leaf; ``None`` on 404."""
        ...

    async def listing(self, path: str, *, volatile: bool) -> list[str] | None:
        """One GET of a directory listing; ``None`` on 404."""
        ...

    async def subtree(self, path: str, *, volatile: bool) -> RawNode | None:
        """A crawl of that subtree; ``None`` on 404."""
        ...


# -- the sans-I/O core -----------------------------------------------------------------
class _Read(NamedTuple, Generic[T]):
    """One fetch a view needs, planned but not done: ``call`` names the source's method
    (``None``: no request, e.g. a child view), ``path`` and ``volatile`` are its
    arguments, and ``make`` turns the answer (``None`` when there was no request) into
    the value."""

    call: Literal["leaf", "listing", "subtree"] | None
    path: str
    volatile: bool
    make: Callable[[Any], T]


def _flow(read: _Read[T]) -> Flow[T]:
    """A read as a flow (:mod:`ec2imds._flow`): the ask (none for a child view), then the
    value; the sync views run it with :func:`~ec2imds._flow.run`, the async ones with
    :func:`~ec2imds._flow.arun`, on the source's call that ``read.call`` names."""
    return read.make(None if read.call is None else (yield read))


def _io(source: TreeSource | AsyncTreeSource) -> IO:
    """The source as a runner's IO: a read's answer is ``source.<call>(path, volatile=)``
    (awaitable for an async source)."""
    return IO(lambda read: getattr(source, read.call)(read.path, volatile=read.volatile))


def _do(source: TreeSource, read: _Read[T]) -> T:
    """Do ``read`` on a sync source."""
    return run(_flow(read), _io(source))


async def _ado(source: AsyncTreeSource, read: _Read[T]) -> T:
    """Do ``read`` on an async source."""
    return await arun(_flow(read), _io(source))


class _MapPlan(NamedTuple, Generic[K, V]):
    """A keyed directory, planned: its ``path`` and volatility, ``key`` (a listed entry
    to its key and its path segment) and ``value`` (the read that makes a key's value,
    given the key, the listed entry and the child's path)."""

    path: str
    volatile: bool
    key: Callable[[str], tuple[K, str]]
    value: Callable[[K, str, str], _Read[V]]


def _map_types(model: type[IMDSModel], name: str) -> tuple[object, object, str]:
    """A map field's key type, value type and IMDS name."""
    info = model.model_fields[name]
    annotation = info.annotation
    if get_origin(annotation) is Annotated:  # public keys: Annotated[dict[...], ...]
        annotation = get_args(annotation)[0]
    key_type, value_type = get_args(annotation)
    return key_type, value_type, info.alias or name


class _ViewCore(Generic[S]):
    """What :class:`View` and :class:`AsyncView` share: the source, the directory's path,
    the child views and maps, and the reads a leaf or a load makes."""

    __model__: ClassVar[type[IMDSModel]] = IMDSModel
    __slots__ = ("_entry", "_path", "_source")

    def __init__(self, source: S, path: str | None = None, *, entry: str = "") -> None:
        self._source = source
        self._path = type(self).__model__.__imds_path__ if path is None else path
        self._entry = entry

    @property
    def path(self) -> str:
        """The directory's IMDS path."""
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"

    def _child(self, cls: type[CV], alias: str) -> CV:
        return cls(self._source, _join(self._path, alias))

    def _listed_name(self) -> str | None:
        _, eq, name = self._entry.partition("=")
        return name if eq else None

    def _leaf_read(self, name: str, *, volatile: bool, required: bool) -> _Read[Any]:
        """One GET of a leaf, parsed with the model field's own validator: ``None`` when
        absent, unless EC2 always serves it."""
        model = type(self).__model__
        path = _join(self._path, model.model_fields[name].alias or name)

        def make(raw: bytes | None) -> Any:
            if raw is None:
                if required:
                    raise absent_error(path)
                return None
            return validate_value(field_type(model, name), raw, path=path)

        return _Read("leaf", path, volatile, make)

    def _load_read(self, model: type[M]) -> _Read[M]:
        """The subtree, validated into ``model``."""
        path, listed_name = self._path, self._listed_name()

        def make(raw: RawNode | None) -> M:
            data: object = {} if raw is None else raw
            if listed_name is not None and "name" in model.model_fields and isinstance(raw, dict):
                data = {**raw, "name": listed_name}  # a public key's name is in the listing
            return validate_raw(model, data, path=path)

        return _Read("subtree", path, getattr(model, "__imds_volatile__", False), make)

    def _primary_read(self, key: str, path: str, cls: type[CV]) -> _Read[CV]:
        """The view of the entry of the keyed directory ``path`` that this directory's leaf
        ``key`` names (``mac``: the interface the instance launched with): one GET of that
        leaf, which EC2 serves on every instance (an error naming it when absent) and which
        never changes (the generator checks both), so the client caches it."""
        read = self._leaf_read(key, volatile=False, required=True)
        source = self._source

        def make(raw: bytes | None) -> CV:
            return cls(source, _join(path, str(read.make(raw))))

        return _Read(read.call, read.path, read.volatile, make)

    def _dir_map_plan(
        self, name: str, cls: type[CV], *, volatile: bool, indexed: bool = False
    ) -> _MapPlan[Any, CV]:
        """A map of child views (``macs``, ``public-keys``): a value costs no request."""
        key_type, _, alias = _map_types(type(self).__model__, name)
        path = _join(self._path, alias)
        source = self._source

        def key(entry: str) -> tuple[Any, str]:
            segment = entry.partition("=")[0] if indexed else entry
            return validate_value(key_type, segment, path=_join(path, entry)), segment

        def value(_key: Any, entry: str, child: str) -> _Read[CV]:
            return _Read(None, child, volatile, lambda _: cls(source, child, entry=entry))

        return _MapPlan(path, volatile, key, value)

    def _leaf_map_plan(self, name: str, *, volatile: bool) -> _MapPlan[Any, Any]:
        """A map of leaves (tags, credentials): a value is one GET each time it is read;
        a listed leaf that is gone is a ``KeyError``."""
        key_type, value_type, alias = _map_types(type(self).__model__, name)
        path = _join(self._path, alias)

        def key(entry: str) -> tuple[Any, str]:
            return validate_value(key_type, entry, path=_join(path, entry)), entry

        def value(k: Any, _entry: str, child: str) -> _Read[Any]:
            def make(raw: bytes | None) -> Any:
                if raw is None:
                    raise KeyError(k)
                return validate_value(value_type, raw, path=child)

            return _Read("leaf", child, volatile, make)

        return _MapPlan(path, volatile, key, value)


class _MapCore(Generic[S, K, V]):
    """What :class:`MapView` and :class:`AsyncMapView` share: the plan, the listing (read
    once, on first use) and the read of each value."""

    __slots__ = ("_entries", "_plan", "_source")

    def __init__(self, source: S, plan: _MapPlan[K, V]) -> None:
        self._source = source
        self._plan = plan
        self._entries: dict[K, tuple[str, str]] | None = None

    @property
    def path(self) -> str:
        """The directory's IMDS path."""
        return self._plan.path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._plan.path!r})"

    def _listing_read(self) -> _Read[dict[K, tuple[str, str]]]:
        """The listing, as ``{key: (listed entry, path segment)}`` in listing order."""
        key = self._plan.key

        def make(listing: list[str] | None) -> dict[K, tuple[str, str]]:
            entries: dict[K, tuple[str, str]] = {}
            for item in listing or ():
                entry = item.strip().rstrip("/")
                if entry:
                    k, segment = key(entry)
                    entries[k] = (entry, segment)
            return entries

        return _Read("listing", self._plan.path, self._plan.volatile, make)

    def _value_read(self, entries: dict[K, tuple[str, str]], key: K) -> _Read[V]:
        """The read that makes ``key``'s value (``KeyError`` when the listing lacks it)."""
        entry, segment = entries[key]
        return self._plan.value(key, entry, _join(self._plan.path, segment))


# -- the sync twins --------------------------------------------------------------------
class MapView(_MapCore[TreeSource, K, V], Mapping[K, V]):
    """A read-only mapping over an IMDS directory keyed by its listing.

    The listing is fetched once, on first use; values are produced lazily, per key (a
    child view costs no request; a leaf value costs one GET each time it is read).
    """

    __slots__ = ()

    def _listed(self) -> dict[K, tuple[str, str]]:
        if self._entries is None:
            self._entries = _do(self._source, self._listing_read())
        return self._entries

    def __getitem__(self, key: K) -> V:
        return _do(self._source, self._value_read(self._listed(), key))

    def __iter__(self) -> Iterator[K]:
        return iter(self._listed())

    def __len__(self) -> int:
        return len(self._listed())


class View(_ViewCore[TreeSource]):
    """Lazy, typed access to one IMDS directory (generated subclasses add properties).

    A leaf property is one ``source.leaf`` call, parsed with the model field's own
    validator; a group property returns the child view (no request); a map property
    returns a :class:`MapView`; :meth:`_load` fetches the subtree and validates it.
    """

    __slots__ = ()

    def _leaf(self, name: str, *, volatile: bool, required: bool = False) -> Any:
        return _do(self._source, self._leaf_read(name, volatile=volatile, required=required))

    def _load(self, model: type[M]) -> M:
        return _do(self._source, self._load_read(model))

    def _primary(self, key: str, path: str, cls: type[VT]) -> VT:
        return _do(self._source, self._primary_read(key, path, cls))


# -- the async twins -------------------------------------------------------------------
class AsyncMapView(_MapCore[AsyncTreeSource, K, V]):
    """The async counterpart of :class:`MapView`: an IMDS directory keyed by its listing.

    ``await m.keys()``, ``await m.items()``, ``await m.load()`` (a ``dict``),
    ``await m[key]`` or ``await m.get(key)``, ``async for key in m``.  The listing is
    fetched once, on first use; a child view costs no request, a leaf value one GET.
    """

    __slots__ = ()

    async def _listed(self) -> dict[K, tuple[str, str]]:
        if self._entries is None:
            self._entries = await _ado(self._source, self._listing_read())
        return self._entries

    async def keys(self) -> list[K]:
        """The keys, in listing order."""
        return list(await self._listed())

    async def get(self, key: K) -> V:
        """The value for ``key`` (``KeyError`` when the listing does not name it)."""
        return await _ado(self._source, self._value_read(await self._listed(), key))

    def __getitem__(self, key: K) -> Awaitable[V]:
        return self.get(key)

    async def items(self) -> list[tuple[K, V]]:
        """``(key, value)`` pairs, in listing order."""
        return [(k, await self.get(k)) for k in await self.keys()]

    async def load(self) -> dict[K, V]:
        """Every key and value, as a ``dict``."""
        return dict(await self.items())

    async def contains(self, key: K) -> bool:
        """Whether the listing names ``key``."""
        return key in await self._listed()

    def __aiter__(self) -> AsyncIterator[K]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[K]:
        for key in await self.keys():
            yield key


class AsyncView(_ViewCore[AsyncTreeSource]):
    """The async counterpart of :class:`View`: lazy, typed access to one IMDS directory.

    A leaf property returns an awaitable (``await aimds.meta_data.placement.region``); a
    group property returns the child view (no request); a map property returns an
    :class:`AsyncMapView`; ``await view.load()`` fetches the subtree and validates it.
    """

    __slots__ = ()

    async def _leaf(self, name: str, *, volatile: bool, required: bool = False) -> Any:
        return await _ado(self._source, self._leaf_read(name, volatile=volatile, required=required))

    async def _load(self, model: type[M]) -> M:
        return await _ado(self._source, self._load_read(model))

    async def _primary(self, key: str, path: str, cls: type[AVT]) -> AVT:
        return await _ado(self._source, self._primary_read(key, path, cls))
