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
``Bool``            ``bool``                     ``true`` or ``false``
``Lines``           ``list[str]``                LF-separated (CRLF, blank lines tolerated)
``IPv4Lines`` ...   ``list[IPv4Address]`` ...    lines of addresses / CIDR blocks
``IPv4`` ``IPv6``   ``IPv4Address`` ...          an address
``IPv4Net``         ``IPv4Network``              a CIDR block
``MAC``             ``str``                      ``0e:49:61:0f:c3:11``
``TagKey``          ``str``                      a tag key: ``[a-zA-Z0-9+-=.,_:@]``
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import (
    Annotated,
    Any,
    ClassVar,
    Generic,
    NamedTuple,
    Protocol,
    TypeVar,
    get_args,
    get_origin,
)

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    WrapSerializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from ec2imds import catalog
from ec2imds._leaves import (
    _MONTHS,
    TAG_KEY,
    LeafError,
    _aware,
    _lines_of,
    _show,
    parse_bool,
    parse_bytes,
    parse_exact_text,
    parse_imds_time,
    parse_int,
    parse_ipv4,
    parse_ipv4_net,
    parse_ipv6,
    parse_ipv6_net,
    parse_iso_time,
    parse_json,
    parse_json_object,
    parse_lenient_time,
    parse_lines,
    parse_mac,
    parse_tag_key,
    parse_text,
)
from ec2imds.crawl import RawNode  # a crawled tree: the crawl's own type, listed in __all__
from ec2imds.errors import ALWAYS_PRESENT, IMDSValidationError, absent_error

__all__ = [
    "JSON",
    "MAC",
    "PUBLIC_KEYS_IN",
    "PUBLIC_KEYS_OUT",
    "TAG_KEYS",
    "AsyncMapView",
    "AsyncTreeSource",
    "AsyncView",
    "AwsCredentials",
    "Bool",
    "Bytes",
    "CredentialsModel",
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
    "TagKey",
    "Text",
    "Timestamp",
    "TreeSource",
    "View",
    "dump",
    "validate_raw",
    "validate_value",
]

M = TypeVar("M", bound=BaseModel)
K = TypeVar("K")
V = TypeVar("V")
VT = TypeVar("VT", bound="View")
AVT = TypeVar("AVT", bound="AsyncView")
T = TypeVar("T")


def _pydantic(parse: Callable[[object], T]) -> Callable[[object], T]:
    """A leaf parser as a pydantic validator: its :class:`LeafError` becomes a custom
    error whose message is the parser's own."""

    def validator(value: object) -> T:
        try:
            return parse(value)
        except LeafError as exc:
            # No context is passed, so the template is not formatted: braces are safe.
            raise PydanticCustomError(f"imds_{exc.kind}", str(exc)) from None

    validator.__name__ = parse.__name__
    return validator


def parse_secret(value: object) -> SecretStr:
    """A secret string; never shown by repr, str, a default dump or an error message."""
    if isinstance(value, SecretStr):
        return value
    try:
        return SecretStr(parse_text(value))
    except LeafError as exc:
        raise LeafError(exc.kind, f"a {type(value).__name__} (not shown), not text") from None


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
Text = Annotated[str, BeforeValidator(_pydantic(parse_text))]
ExactText = Annotated[str, BeforeValidator(_pydantic(parse_exact_text))]
Int = Annotated[int, BeforeValidator(_pydantic(parse_int))]
Bool = Annotated[bool, BeforeValidator(_pydantic(parse_bool))]
TagKey = Annotated[
    str,
    BeforeValidator(_pydantic(parse_tag_key)),
    WithJsonSchema({"type": "string", "pattern": TAG_KEY}),
]


class _TagKeys:
    """Metadata for the tags map: its JSON Schema says which keys IMDS can list
    (``propertyNames``), as the model's key validator does."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema.pop("patternProperties", None)
        schema["additionalProperties"] = {"type": "string"}
        schema["propertyNames"] = {"pattern": TAG_KEY, "not": {"enum": [".", "..", "_index"]}}
        return schema


TAG_KEYS = _TagKeys()
Lines = Annotated[list[str], BeforeValidator(_pydantic(parse_lines))]
IPv4 = Annotated[IPv4Address, BeforeValidator(_pydantic(parse_ipv4))]
IPv6 = Annotated[IPv6Address, BeforeValidator(_pydantic(parse_ipv6))]
IPv4Net = Annotated[IPv4Network, BeforeValidator(_pydantic(parse_ipv4_net))]
IPv4Lines = Annotated[list[IPv4Address], BeforeValidator(_pydantic(_lines_of(parse_ipv4)))]
IPv6Lines = Annotated[list[IPv6Address], BeforeValidator(_pydantic(_lines_of(parse_ipv6)))]
IPv4NetLines = Annotated[list[IPv4Network], BeforeValidator(_pydantic(_lines_of(parse_ipv4_net)))]
IPv6NetLines = Annotated[list[IPv6Network], BeforeValidator(_pydantic(_lines_of(parse_ipv6_net)))]
MAC = Annotated[
    str,
    BeforeValidator(_pydantic(parse_mac)),
    WithJsonSchema({"type": "string", "pattern": "^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"}),
]
Timestamp = Annotated[
    datetime,
    BeforeValidator(_pydantic(parse_iso_time)),
    PlainSerializer(_ser_iso, when_used="json"),
]
IMDSTime = Annotated[
    datetime,
    BeforeValidator(_pydantic(parse_imds_time)),
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
    BeforeValidator(_pydantic(parse_lenient_time)),
    PlainSerializer(_ser_lenient, when_used="json"),
]
Secret = Annotated[
    SecretStr,
    BeforeValidator(_pydantic(parse_secret)),
    PlainSerializer(_ser_secret, when_used="json"),
]
Bytes = Annotated[
    bytes,
    BeforeValidator(_pydantic(parse_bytes)),
    PlainSerializer(_ser_bytes, when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
JsonObject = Annotated[dict[str, Any], BeforeValidator(_pydantic(parse_json_object))]
JSON = BeforeValidator(_pydantic(parse_json))
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


class AwsCredentials(NamedTuple):
    """Usable temporary credentials, every part present (:meth:`CredentialsModel.require`)."""

    access_key_id: str
    secret_access_key: SecretStr
    token: SecretStr
    expiration: datetime


class CredentialsModel(IMDSModel):
    """Base of the credential documents (``iam/security-credentials/<role>`` and the
    extended and identity ones).  IMDS can answer them with 200 and only ``Code`` and
    ``Message`` (a role EC2 cannot assume), so every key of the model is optional;
    :meth:`require` gives the credentials typed, without ``None``, or raises."""

    def require(self) -> AwsCredentials:
        """The credentials, every part present; :class:`~ec2imds.errors.IMDSValidationError`
        (with IMDS's ``Code`` and ``Message``, never a secret) when the document does not
        hold usable ones."""
        parts: dict[str, Any] = {n: getattr(self, n, None) for n in AwsCredentials._fields}
        code, message = getattr(self, "code", None), getattr(self, "message", None)
        if code in (None, "Success") and all(v is not None for v in parts.values()):
            return AwsCredentials(**parts)
        missing = ", ".join(name for name, value in parts.items() if value is None)
        detail = f"Code {code!r}" + (f": {message}" if message else "")
        path = type(self).__imds_path__
        raise IMDSValidationError(
            f"{path}: no usable credentials ({detail}"
            + (f"; missing {missing})" if missing else ")"),
            path=path,
        )


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


def _secret_documents() -> frozenset[str]:
    """Names of the JSON documents that hold a secret (IAM and identity credentials)."""
    return frozenset(
        shape.name
        for shape in catalog.JSON_SHAPES
        if any("SecretStr" in f.type for f in shape.fields)
    )


_SECRET_DOCUMENTS = _secret_documents()


def _locate(loc: tuple[int | str, ...], raw: object, path: str) -> tuple[str, list[str], object]:
    """Where a pydantic error location is: the IMDS path, the keys inside the JSON document
    at that path (if any), and the raw node there (None when the path leaves ``raw``)."""
    segments: list[str] = []
    inner: list[str] = []
    node: object = raw
    for part in loc:
        if part == "[key]":
            continue
        hit = None if inner else catalog.match(_join(path, *segments))
        if inner or (hit is not None and hit[0].is_leaf):
            inner.append(str(part))  # inside a JSON document
            continue
        key = _find_key(node, part) if isinstance(node, Mapping) else None
        node = node[key] if key is not None and isinstance(node, Mapping) else None
        segments.append(str(part))
    return _join(path, *segments), inner, node


def _holds_credentials(full: str) -> str | None:
    """The document type when the leaf at ``full`` is one that holds credentials."""
    hit = catalog.match(full)
    return hit[0].type if hit is not None and hit[0].type in _SECRET_DOCUMENTS else None


def _to_error(exc: ValidationError, raw: object, path: str) -> IMDSValidationError:
    """The error to raise for ``exc``, chained to it (or, when credentials are involved,
    to a copy of it that quotes none of their values: a logged traceback shows causes)."""
    # A value that is there but wrong says more than one that is missing: report it first.
    errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] == "missing")
    first = errors[0]
    full, inner, node = _locate(first["loc"], raw, path)
    message = first["msg"]
    if first["type"] == "missing":
        message, node = ALWAYS_PRESENT, None
        first = {**first, "input": None}
    elif not first["type"].startswith("imds_"):
        message = f"{message} (got {_show(first['input'])})"
    where = f"{full}: {'.'.join(inner)}" if inner else full
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    # The offending value: the raw leaf body when the path reaches one, else pydantic's input.
    value = node if node is not None and not isinstance(node, Mapping) else first["input"]
    document = _holds_credentials(full)
    if document is not None:
        # The error never carries the document's text, and when the document itself is
        # bad (not JSON, not an object) the message does not quote it either.
        value = None
        if not inner:
            message = f"not a valid {document} document (its content is not shown)"
    error = IMDSValidationError(f"{where}: {message}{more}", path=full, value=value)
    hidden = [_holds_credentials(_locate(e["loc"], raw, path)[0]) is not None for e in errors]
    cause: ValidationError = exc
    if any(hidden):
        cause = ValidationError.from_exception_data(
            exc.title,
            [
                {
                    "type": PydanticCustomError(e["type"], "not shown (credentials)")
                    if hide
                    else PydanticCustomError(e["type"], e["msg"]),
                    "loc": e["loc"],
                    "input": None if hide else e["input"],
                }
                for e, hide in zip(errors, hidden, strict=True)
            ],
            hide_input=True,
        )
    error.__cause__ = cause
    return error


#: The message for a value EC2 serves on every instance that is not there (404, or a
#: dump without it).


def validate_raw(model: type[M], raw: object, *, path: str) -> M:
    """Validate a raw (or dumped) tree into ``model``.

    Raises :class:`~ec2imds.errors.IMDSValidationError` naming the full IMDS path of the
    first bad leaf and its value; nothing else escapes.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = _to_error(exc, raw, path)
    raise error


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
        error = _to_error(exc, raw, path)
    raise error


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
