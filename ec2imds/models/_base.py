"""Hand-written base of the generated models: leaf parsers, the base model, error mapping,
and the lazy views' machinery.  The generator never touches this file.

**Raw input.**  Models validate the raw tree a crawl produces::

    RawNode = bytes | dict[str, RawNode]

the same shape as :func:`ec2imds.catalog.default_tree` (a dict is a directory, public
keys are keyed ``"0=my-key"``), with every leaf as the body IMDS served.  Every leaf
parser also accepts the already-parsed form (``str``, ``list``, ``dict``, ``int``,
``datetime``...), so the same models validate a saved JSON dump.

**Leaf types** (``Annotated`` aliases used by the generated models):

==================  ===========================  =============================================
alias               Python type                  raw leaf
==================  ===========================  =============================================
``Text``            ``str``                      UTF-8, surrounding whitespace stripped
``ExactText``       ``str``                      UTF-8, kept exactly (tag values)
``Int``             ``int``                      a decimal integer
``Lines``           ``list[str]``                LF-separated (CRLF, blank lines tolerated)
``IPv4Lines`` ...   ``list[IPv4Address]`` ...    lines of addresses / CIDR blocks
``IPv4`` ``IPv6``   ``IPv4Address`` ...          an address
``IPv4Net``         ``IPv4Network``              a CIDR block
``MAC``             ``str``                      ``0e:49:61:0f:c3:11``
``Timestamp``       ``datetime`` (aware, UTC)    ISO 8601 (``2024-05-01T12:00:00Z``)
``IMDSTime``        ``datetime`` (aware, UTC)    ``21 Jan 2019 09:00:43 GMT`` (or ISO)
``LenientTime``     ``datetime | str``           ISO 8601, else kept as the string
``Secret``          ``SecretStr``                never shown by repr/str/default dumps
``Bytes``           ``bytes``                    raw bytes; ``str`` input is base64
``JsonObject``      ``dict[str, Any]``           a JSON object
``Annotated[M, JSON]``  a model or list          a JSON document
==================  ===========================  =============================================

Any bad leaf (invalid UTF-8 included) is a pydantic error; :func:`validate_raw` turns it
into :class:`~ec2imds.errors.IMDSValidationError` naming the IMDS path and the value.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import (
    Annotated,
    Any,
    ClassVar,
    NoReturn,
    Protocol,
    TypeAlias,
    TypeVar,
    get_args,
)

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    WrapSerializer,
)
from pydantic_core import PydanticCustomError

from ec2imds import catalog
from ec2imds.errors import IMDSValidationError

__all__ = [
    "JSON",
    "MAC",
    "PUBLIC_KEYS_IN",
    "PUBLIC_KEYS_OUT",
    "Bytes",
    "ExactText",
    "IMDSModel",
    "IMDSTime",
    "IPv4",
    "IPv4Lines",
    "IPv4Net",
    "IPv4NetLines",
    "IPv6",
    "IPv6Lines",
    "IPv6NetLines",
    "Int",
    "JsonObject",
    "LenientTime",
    "Lines",
    "MapView",
    "RawNode",
    "Secret",
    "Text",
    "Timestamp",
    "TreeSource",
    "View",
    "dump",
    "validate_raw",
    "validate_value",
]

RawNode: TypeAlias = "bytes | dict[str, RawNode]"
"""A crawled tree: a dict is a directory, bytes is a leaf's body."""

M = TypeVar("M", bound=BaseModel)
K = TypeVar("K")
V = TypeVar("V")
VT = TypeVar("VT", bound="View")

_SHOW = 80


def _show(value: object) -> str:
    """A short repr of an offending value for messages."""
    text = repr(value)
    return text if len(text) <= _SHOW else text[: _SHOW - 3] + "..."


def _fail(kind: str, message: str) -> NoReturn:
    # No context is passed, so the template is not formatted: braces in values are safe.
    raise PydanticCustomError(f"imds_{kind}", message)


def _decode(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            _fail("utf8", f"{_show(raw)} is not valid UTF-8")
    _fail("type", f"{_show(value)} is not text")


# -- leaf parsers ----------------------------------------------------------------------
def parse_text(value: object) -> str:
    """UTF-8 text, surrounding whitespace stripped."""
    return _decode(value).strip()


def parse_exact_text(value: object) -> str:
    """UTF-8 text, kept exactly."""
    return _decode(value)


_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)


def parse_int(value: object) -> int:
    """A decimal integer (``bool`` is not an integer)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _decode(value).strip()
    if _INT.fullmatch(text) and len(text) <= 100:
        return int(text)
    _fail("int", f"{_show(text)} is not an integer")


def parse_lines(value: object) -> list[str]:
    """An LF-separated list: ``splitlines()``, each item stripped, blank lines dropped."""
    if isinstance(value, list | tuple):
        return [parse_text(item) for item in value]
    return [s for line in _decode(value).splitlines() if (s := line.strip())]


def _address_parser(cls: Callable[[str], Any], what: str) -> Callable[[object], Any]:
    def parse(value: object) -> Any:
        if isinstance(value, IPv4Address | IPv6Address | IPv4Network | IPv6Network):
            value = str(value)
        text = parse_text(value)
        try:
            return cls(text)
        except ValueError:
            _fail("address", f"{_show(text)} is not {what}")

    return parse


parse_ipv4 = _address_parser(IPv4Address, "an IPv4 address")
parse_ipv6 = _address_parser(IPv6Address, "an IPv6 address")
parse_ipv4_net = _address_parser(IPv4Network, "an IPv4 CIDR block")
parse_ipv6_net = _address_parser(IPv6Network, "an IPv6 CIDR block")


def _lines_of(parse: Callable[[object], Any]) -> Callable[[object], list[Any]]:
    def parse_all(value: object) -> list[Any]:
        if isinstance(value, list | tuple):
            return [parse(item) for item in value]
        return [parse(item) for item in parse_lines(value)]

    return parse_all


_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", re.ASCII | re.IGNORECASE)


def parse_mac(value: object) -> str:
    """A MAC address ``0e:49:61:0f:c3:11`` (kept as served)."""
    text = parse_text(value)
    if _MAC.fullmatch(text):
        return text
    _fail("mac", f"{_show(text)} is not a MAC address")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso_or_none(text: str) -> datetime | None:
    if not 10 <= len(text) <= 40:
        return None
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        return None


def parse_iso_time(value: object) -> datetime:
    """An ISO 8601 time (``2024-05-01T12:00:00Z``), as an aware UTC datetime."""
    if isinstance(value, datetime):
        return _aware(value)
    text = parse_text(value)
    parsed = _iso_or_none(text)
    if parsed is None:
        _fail("time", f"{_show(text)} is not an ISO 8601 time")
    return parsed


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_IMDS_TIME = re.compile(r"(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT", re.ASCII)


def parse_imds_time(value: object) -> datetime:
    """IMDS's event time ``21 Jan 2019 09:00:43 GMT`` (locale-independent) or ISO 8601."""
    if isinstance(value, datetime):
        return _aware(value)
    text = parse_text(value)
    m = _IMDS_TIME.fullmatch(text)
    if m and m[2] in _MONTHS:
        try:
            return datetime(
                int(m[3]), _MONTHS.index(m[2]) + 1, int(m[1]),
                int(m[4]), int(m[5]), int(m[6]), tzinfo=UTC,
            )  # fmt: skip
        except ValueError:
            pass
    parsed = _iso_or_none(text)
    if parsed is None:
        _fail("time", f"{_show(text)} is not a time like '21 Jan 2019 09:00:43 GMT'")
    return parsed


def parse_lenient_time(value: object) -> datetime | str:
    """An ISO 8601 time if it is one, else the text itself (spot/termination-time)."""
    if isinstance(value, datetime):
        return _aware(value)
    text = parse_text(value)
    return _iso_or_none(text) or text


def parse_secret(value: object) -> SecretStr:
    """A secret string; never shown by repr, str or a default dump."""
    if isinstance(value, SecretStr):
        return value
    return SecretStr(parse_text(value))


def parse_json(value: object) -> object:
    """A JSON document; an already-parsed ``dict``/``list`` passes through."""
    if not isinstance(value, str | bytes | bytearray | memoryview):
        return value
    text = _decode(value)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        _fail("json", f"{_show(text)} is not a JSON document")


def parse_json_object(value: object) -> dict[str, Any]:
    """A JSON object."""
    parsed = parse_json(value)
    if isinstance(parsed, dict):
        return parsed
    _fail("json", f"{_show(parsed)} is not a JSON object")


def parse_bytes(value: object) -> bytes:
    """Raw bytes; a ``str`` is the base64 form of a JSON dump."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (ValueError, binascii.Error):
            _fail("base64", f"{_show(value)} is not base64 (a dump's user-data encoding)")
    _fail("type", f"{_show(value)} is not bytes")


def _raw_extra(value: object) -> object:
    """An unknown key's value, kept: text if it decodes as UTF-8, else the bytes."""
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value)
    if isinstance(value, dict):
        return {k: _raw_extra(v) for k, v in value.items()}
    return value


# -- serializers (JSON mode: the dump mirrors what IMDS served) -------------------------
def _ser_iso(value: datetime) -> str:
    value = _aware(value)
    if value.microsecond:
        return value.isoformat().replace("+00:00", "Z")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ser_imds_time(value: datetime) -> str:
    v = _aware(value)
    return f"{v.day:02d} {_MONTHS[v.month - 1]} {v.year:04d} {v:%H:%M:%S} GMT"


def _ser_lenient(value: datetime | str) -> str:
    return _ser_iso(value) if isinstance(value, datetime) else value


def _ser_secret(value: SecretStr, info: SerializationInfo) -> str:
    context = info.context
    if isinstance(context, dict) and context.get("reveal_secrets"):
        return value.get_secret_value()
    return str(value)


def _ser_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _public_keys_in(value: object) -> object:
    """``{"0=my-key": {...}}`` (IMDS listing form) → ``{"0": {..., "name": "my-key"}}``."""
    if not isinstance(value, dict):
        return value
    out: dict[object, object] = {}
    for key, item in value.items():
        if isinstance(key, str) and "=" in key:
            index, _, name = key.partition("=")
            if isinstance(item, dict) and "name" not in item:
                item = {**item, "name": name}
            out[index] = item
        else:
            out[key] = item
    return out


def _public_keys_out(value: object, handler: SerializerFunctionWrapHandler) -> object:
    """Back to the IMDS listing form, ``{"0=my-key": {"openssh-key": ...}}``."""
    data = handler(value)
    if not isinstance(data, dict):
        return data
    out: dict[str, object] = {}
    for key, item in data.items():
        if isinstance(item, dict) and "name" in item:
            item = dict(item)
            name = item.pop("name")
            out[f"{key}={name}" if name is not None else str(key)] = item
        else:
            out[str(key)] = item
    return out


# -- the aliases the generated models use ----------------------------------------------
Text = Annotated[str, BeforeValidator(parse_text)]
ExactText = Annotated[str, BeforeValidator(parse_exact_text)]
Int = Annotated[int, BeforeValidator(parse_int)]
Lines = Annotated[list[str], BeforeValidator(parse_lines)]
IPv4 = Annotated[IPv4Address, BeforeValidator(parse_ipv4)]
IPv6 = Annotated[IPv6Address, BeforeValidator(parse_ipv6)]
IPv4Net = Annotated[IPv4Network, BeforeValidator(parse_ipv4_net)]
IPv4Lines = Annotated[list[IPv4Address], BeforeValidator(_lines_of(parse_ipv4))]
IPv6Lines = Annotated[list[IPv6Address], BeforeValidator(_lines_of(parse_ipv6))]
IPv4NetLines = Annotated[list[IPv4Network], BeforeValidator(_lines_of(parse_ipv4_net))]
IPv6NetLines = Annotated[list[IPv6Network], BeforeValidator(_lines_of(parse_ipv6_net))]
MAC = Annotated[
    str,
    BeforeValidator(parse_mac),
    WithJsonSchema({"type": "string", "pattern": "^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"}),
]
Timestamp = Annotated[
    datetime, BeforeValidator(parse_iso_time), PlainSerializer(_ser_iso, when_used="json")
]
IMDSTime = Annotated[
    datetime,
    BeforeValidator(parse_imds_time),
    PlainSerializer(_ser_imds_time, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$",
            "examples": ["21 Jan 2019 09:00:43 GMT"],
        }
    ),
]
LenientTime = Annotated[
    datetime | str,
    BeforeValidator(parse_lenient_time),
    PlainSerializer(_ser_lenient, when_used="json"),
]
Secret = Annotated[
    SecretStr, BeforeValidator(parse_secret), PlainSerializer(_ser_secret, when_used="json")
]
Bytes = Annotated[
    bytes,
    BeforeValidator(parse_bytes),
    PlainSerializer(_ser_bytes, when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
JsonObject = Annotated[dict[str, Any], BeforeValidator(parse_json_object)]
JSON = BeforeValidator(parse_json)
"""Metadata for ``Annotated[SomeModel, JSON]``: the leaf is a JSON document."""
PUBLIC_KEYS_IN = BeforeValidator(_public_keys_in)
"""Metadata for the public-keys map: accepts the listing form ``<index>=<name>``."""
PUBLIC_KEYS_OUT = WrapSerializer(_public_keys_out)
"""Metadata for the public-keys map: dumps back to the listing form."""
RawExtra = Annotated[Any, BeforeValidator(_raw_extra)]


class IMDSModel(BaseModel):
    """Base of every generated model: frozen, by-name or by-alias, unknown keys kept.

    ``__imds_path__`` is the catalog path (placeholders included); ``__imds_volatile__``
    says whether the model holds anything volatile (a client never caches it whole).
    """

    model_config = ConfigDict(
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
        defer_build=True,
        ser_json_bytes="base64",
    )

    __pydantic_extra__: dict[str, RawExtra] = Field(init=False)
    __imds_path__: ClassVar[str] = ""
    __imds_volatile__: ClassVar[bool] = False


def dump(model: BaseModel, *, reveal_secrets: bool = False) -> Any:
    """The JSON form of a model: IMDS keys, absent paths left out, ``user-data`` base64,
    times as IMDS wrote them, public keys as ``"0=my-key"``, secrets masked unless asked.
    """
    return model.model_dump(
        mode="json",
        by_alias=True,
        exclude_unset=True,
        context={"reveal_secrets": reveal_secrets},
    )


# -- errors ----------------------------------------------------------------------------
def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def _find_key(node: Mapping[Any, Any], part: object) -> Any:
    if part in node:
        return part
    text = str(part)
    if text in node:
        return text
    for key in node:
        if isinstance(key, str) and key.partition("=")[0] == text and "=" in key:
            return key
    return None


def _to_error(exc: ValidationError, raw: object, path: str) -> IMDSValidationError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    segments: list[str] = []
    inner: list[str] = []
    node: object = raw
    for part in first["loc"]:
        if part == "[key]":
            continue
        hit = None if inner else catalog.match(_join(path, *segments))
        if inner or (hit is not None and hit[0].is_leaf):
            inner.append(str(part))  # inside a JSON document
            continue
        key = _find_key(node, part) if isinstance(node, Mapping) else None
        node = node[key] if key is not None and isinstance(node, Mapping) else None
        segments.append(str(part))
    full = _join(path, *segments)
    message = first["msg"]
    if not first["type"].startswith("imds_"):
        message = f"{message} (got {_show(first['input'])})"
    where = f"{full}: {'.'.join(inner)}" if inner else full
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    # The offending value: the raw leaf body when the path reaches one, else pydantic's input.
    value = node if node is not None and not isinstance(node, Mapping) else first["input"]
    return IMDSValidationError(f"{where}: {message}{more}", path=full, value=value)


def validate_raw(model: type[M], raw: object, *, path: str) -> M:
    """Validate a raw (or dumped) tree into ``model``.

    Raises :class:`~ec2imds.errors.IMDSValidationError` naming the full IMDS path of the
    first bad leaf and its value; nothing else escapes.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _to_error(exc, raw, path) from exc


_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def _adapter(tp: Any) -> TypeAdapter[Any]:
    try:
        return _ADAPTERS[tp]
    except KeyError:
        adapter = _ADAPTERS[tp] = TypeAdapter(tp)
        return adapter


def validate_value(tp: object, raw: object, *, path: str) -> Any:
    """Validate one value against a type (a leaf alias, a field's type); errors as in
    :func:`validate_raw`."""
    try:
        return _adapter(tp).validate_python(raw)
    except ValidationError as exc:
        raise _to_error(exc, raw, path) from exc


def field_type(model: type[BaseModel], name: str) -> object:
    """A field's full type (annotation plus its ``Annotated`` metadata): what the model
    validates that field with, so a view parses a leaf exactly as the model would."""
    info = model.model_fields[name]
    if info.metadata:
        return Annotated[(info.annotation, *info.metadata)]
    return info.annotation


# -- lazy views ------------------------------------------------------------------------
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
            entries: dict[K, tuple[str, str]] = {}
            for item in listing or ():
                entry = item.strip().rstrip("/")
                if entry:
                    key, segment = self._key(entry)
                    entries[key] = (entry, segment)
            self._entries = entries
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

    def _leaf(self, name: str, *, volatile: bool) -> Any:
        model = type(self).__model__
        path = _join(self._path, model.model_fields[name].alias or name)
        raw = self._source.leaf(path, volatile=volatile)
        if raw is None:
            return None
        return validate_value(field_type(model, name), raw, path=path)

    def _child(self, cls: type[VT], alias: str) -> VT:
        return cls(self._source, _join(self._path, alias))

    def _map_types(self, name: str) -> tuple[object, object, str]:
        model = type(self).__model__
        info = model.model_fields[name]
        key_type, value_type = get_args(info.annotation)
        return key_type, value_type, info.alias or name

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
        data: object = {} if raw is None else raw
        name = self._listed_name()
        if name is not None and "name" in model.model_fields and isinstance(raw, dict):
            data = {**raw, "name": name}  # a public key's name lives in its parent's listing
        return validate_raw(model, data, path=self._path)
