"""Lazy views: typed access to IMDS directories that fetches only what is read, from a
:class:`TreeSource` (the client) or an :class:`AsyncTreeSource` (the async client)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import (
    Annotated,
    Any,
    ClassVar,
    Generic,
    Protocol,
    TypeVar,
    get_args,
    get_origin,
)

from pydantic import BaseModel

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

M = TypeVar("M", bound=BaseModel)
K = TypeVar("K")
V = TypeVar("V")
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


def _leaf_value(
    model: type[IMDSModel], name: str, raw: bytes | None, path: str, *, required: bool
) -> Any:
    """A leaf body as the model's field: ``None`` when absent, unless EC2 always serves it."""
    if raw is None:
        if required:
            raise absent_error(path)
        return None
    return validate_value(field_type(model, name), raw, path=path)


def _map_entries(
    listing: list[str] | None, key: Callable[[str], tuple[K, str]]
) -> dict[K, tuple[str, str]]:
    entries: dict[K, tuple[str, str]] = {}
    for item in listing or ():
        entry = item.strip().rstrip("/")
        if entry:
            k, segment = key(entry)
            entries[k] = (entry, segment)
    return entries


def _map_types(model: type[IMDSModel], name: str) -> tuple[object, object, str]:
    info = model.model_fields[name]
    annotation = info.annotation
    if get_origin(annotation) is Annotated:  # public keys: Annotated[dict[...], ...]
        annotation = get_args(annotation)[0]
    key_type, value_type = get_args(annotation)
    return key_type, value_type, info.alias or name


def _load_data(raw: RawNode | None, model: type[BaseModel], listed_name: str | None) -> object:
    data: object = {} if raw is None else raw
    if listed_name is not None and "name" in model.model_fields and isinstance(raw, dict):
        data = {**raw, "name": listed_name}  # a public key's name lives in its parent's listing
    return data


class MapView(Mapping[K, V]):
    """A read-only mapping over an IMDS directory keyed by its listing.

    The listing is fetched once, on first use; values are produced lazily, per key (a
    child view costs no request; a leaf value costs one GET each time it is read).
    """

    __slots__ = ("_entries", "_key", "_path", "_source", "_value", "_volatile")

    def __init__(
        self,
        source: TreeSource,
        path: str,
        *,
        volatile: bool,
        key: Callable[[str], tuple[K, str]],
        value: Callable[[K, str, str], V],
    ) -> None:
        self._source = source
        self._path = path
        self._volatile = volatile
        self._key = key
        self._value = value
        self._entries: dict[K, tuple[str, str]] | None = None

    @property
    def path(self) -> str:
        """The directory's IMDS path."""
        return self._path

    def _listed(self) -> dict[K, tuple[str, str]]:
        if self._entries is None:
            listing = self._source.listing(self._path, volatile=self._volatile)
            self._entries = _map_entries(listing, self._key)
        return self._entries

    def __getitem__(self, key: K) -> V:
        entry, segment = self._listed()[key]
        return self._value(key, entry, _join(self._path, segment))

    def __iter__(self) -> Iterator[K]:
        return iter(self._listed())

    def __len__(self) -> int:
        return len(self._listed())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"


class View:
    """Lazy, typed access to one IMDS directory (generated subclasses add properties).

    A leaf property is one ``source.leaf`` call, parsed with the model field's own
    validator; a group property returns the child view (no request); a map property
    returns a :class:`MapView`; :meth:`_load` fetches the subtree and validates it.
    """

    __model__: ClassVar[type[IMDSModel]] = IMDSModel
    __slots__ = ("_entry", "_path", "_source")

    def __init__(self, source: TreeSource, path: str | None = None, *, entry: str = "") -> None:
        self._source = source
        self._path = type(self).__model__.__imds_path__ if path is None else path
        self._entry = entry

    @property
    def path(self) -> str:
        """The directory's IMDS path."""
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"

    def _leaf(self, name: str, *, volatile: bool, required: bool = False) -> Any:
        model = type(self).__model__
        path = _join(self._path, model.model_fields[name].alias or name)
        raw = self._source.leaf(path, volatile=volatile)
        return _leaf_value(model, name, raw, path, required=required)

    def _child(self, cls: type[VT], alias: str) -> VT:
        return cls(self._source, _join(self._path, alias))

    def _map_types(self, name: str) -> tuple[object, object, str]:
        return _map_types(type(self).__model__, name)

    def _dir_map(
        self, name: str, cls: type[VT], *, volatile: bool, indexed: bool = False
    ) -> MapView[Any, VT]:
        key_type, _, alias = self._map_types(name)
        path = _join(self._path, alias)
        source = self._source

        def key(entry: str) -> tuple[Any, str]:
            segment = entry.partition("=")[0] if indexed else entry
            return validate_value(key_type, segment, path=_join(path, entry)), segment

        def value(_key: Any, entry: str, child: str) -> VT:
            return cls(source, child, entry=entry)

        return MapView(source, path, volatile=volatile, key=key, value=value)

    def _leaf_map(self, name: str, *, volatile: bool) -> MapView[Any, Any]:
        key_type, value_type, alias = self._map_types(name)
        path = _join(self._path, alias)
        source = self._source

        def key(entry: str) -> tuple[Any, str]:
            return validate_value(key_type, entry, path=_join(path, entry)), entry

        def value(k: Any, _entry: str, child: str) -> Any:
            raw = source.leaf(child, volatile=volatile)
            if raw is None:
                raise KeyError(k)
            return validate_value(value_type, raw, path=child)

        return MapView(source, path, volatile=volatile, key=key, value=value)

    def _listed_name(self) -> str | None:
        _, eq, name = self._entry.partition("=")
        return name if eq else None

    def _load(self, model: type[M]) -> M:
        volatile = getattr(model, "__imds_volatile__", False)
        raw = self._source.subtree(self._path, volatile=volatile)
        return validate_raw(model, _load_data(raw, model, self._listed_name()), path=self._path)


class AsyncMapView(Generic[K, V]):
    """The async counterpart of :class:`MapView`: an IMDS directory keyed by its listing.

    ``await m.keys()``, ``await m.items()``, ``await m.load()`` (a ``dict``),
    ``await m[key]`` or ``await m.get(key)``, ``async for key in m``.  The listing is
    fetched once, on first use; a child view costs no request, a leaf value one GET.
    """

    __slots__ = ("_entries", "_key", "_path", "_source", "_value", "_volatile")

    def __init__(
        self,
        source: AsyncTreeSource,
        path: str,
        *,
        volatile: bool,
        key: Callable[[str], tuple[K, str]],
        value: Callable[[K, str, str], Awaitable[V]],
    ) -> None:
        self._source = source
        self._path = path
        self._volatile = volatile
        self._key = key
        self._value = value
        self._entries: dict[K, tuple[str, str]] | None = None

    @property
    def path(self) -> str:
        """The directory's IMDS path."""
        return self._path

    async def _listed(self) -> dict[K, tuple[str, str]]:
        if self._entries is None:
            listing = await self._source.listing(self._path, volatile=self._volatile)
            self._entries = _map_entries(listing, self._key)
        return self._entries

    async def keys(self) -> list[K]:
        """The keys, in listing order."""
        return list(await self._listed())

    async def get(self, key: K) -> V:
        """The value for ``key`` (``KeyError`` when the listing does not name it)."""
        entry, segment = (await self._listed())[key]
        return await self._value(key, entry, _join(self._path, segment))

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"


class AsyncView:
    """The async counterpart of :class:`View`: lazy, typed access to one IMDS directory.

    A leaf property returns an awaitable (``await aimds.meta_data.placement.region``); a
    group property returns the child view (no request); a map property returns an
    :class:`AsyncMapView`; ``await view.load()`` fetches the subtree and validates it.
    """

    __model__: ClassVar[type[IMDSModel]] = IMDSModel
    __slots__ = ("_entry", "_path", "_source")

    def __init__(
        self, source: AsyncTreeSource, path: str | None = None, *, entry: str = ""
    ) -> None:
        self._source = source
        self._path = type(self).__model__.__imds_path__ if path is None else path
        self._entry = entry

    @property
    def path(self) -> str:
        """The directory's IMDS path."""
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"

    async def _leaf(self, name: str, *, volatile: bool, required: bool = False) -> Any:
        model = type(self).__model__
        path = _join(self._path, model.model_fields[name].alias or name)
        raw = await self._source.leaf(path, volatile=volatile)
        return _leaf_value(model, name, raw, path, required=required)

    def _child(self, cls: type[AVT], alias: str) -> AVT:
        return cls(self._source, _join(self._path, alias))

    def _dir_map(
        self, name: str, cls: type[AVT], *, volatile: bool, indexed: bool = False
    ) -> AsyncMapView[Any, AVT]:
        key_type, _, alias = _map_types(type(self).__model__, name)
        path = _join(self._path, alias)
        source = self._source

        def key(entry: str) -> tuple[Any, str]:
            segment = entry.partition("=")[0] if indexed else entry
            return validate_value(key_type, segment, path=_join(path, entry)), segment

        async def value(_key: Any, entry: str, child: str) -> AVT:
            return cls(source, child, entry=entry)

        return AsyncMapView(source, path, volatile=volatile, key=key, value=value)

    def _leaf_map(self, name: str, *, volatile: bool) -> AsyncMapView[Any, Any]:
        key_type, value_type, alias = _map_types(type(self).__model__, name)
        path = _join(self._path, alias)
        source = self._source

        def key(entry: str) -> tuple[Any, str]:
            return validate_value(key_type, entry, path=_join(path, entry)), entry

        async def value(k: Any, _entry: str, child: str) -> Any:
            raw = await source.leaf(child, volatile=volatile)
            if raw is None:
                raise KeyError(k)
            return validate_value(value_type, raw, path=child)

        return AsyncMapView(source, path, volatile=volatile, key=key, value=value)

    def _listed_name(self) -> str | None:
        _, eq, name = self._entry.partition("=")
        return name if eq else None

    async def _load(self, model: type[M]) -> M:
        volatile = getattr(model, "__imds_volatile__", False)
        raw = await self._source.subtree(self._path, volatile=volatile)
        return validate_raw(model, _load_data(raw, model, self._listed_name()), path=self._path)
