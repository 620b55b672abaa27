"""The leaf types of the generated models: pydantic wrappers of the leaf parsers
(:mod:`ec2imds._leaves`), their JSON serializers, and the public-keys map's in/out forms.

**Raw input.**  Models validate the raw tree a crawl produces::

    RawNode = bytes | dict[str, RawNode]

the same shape as :func:`ec2imds.simulator.instance.default_tree` (a dict is a directory, public
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

Any bad leaf (invalid UTF-8 included) is a pydantic error;
:func:`~ec2imds.models._validation.validate_raw` turns it into
:class:`~ec2imds.errors.IMDSValidationError` naming the IMDS path and the value.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Annotated, Any, TypeVar, Union

from pydantic import (
    BeforeValidator,
    GetJsonSchemaHandler,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    WrapSerializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from ec2imds._leaves import (
    _MONTHS,
    TAG_KEY,
    LeafError,
    _aware,
    _lines_of,
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
    public_keys_listed,
    public_keys_named,
)

__all__ = [
    "JSON",
    "MAC",
    "PUBLIC_KEYS_IN",
    "PUBLIC_KEYS_OUT",
    "TAG_KEYS",
    "Bool",
    "Bytes",
    "ExactText",
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
    "RawExtra",
    "Secret",
    "TagKey",
    "Text",
    "Timestamp",
]

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
    if isinstance(value, (bytes, bytearray, memoryview)):
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
    return public_keys_named(value) if isinstance(value, dict) else value


def _public_keys_out(value: object, handler: SerializerFunctionWrapHandler) -> object:
    """Back to the IMDS listing form, ``{"0=my-key": {"openssh-key": ...}}``."""
    data = handler(value)
    if not isinstance(data, dict):
        return data
    return public_keys_listed(data)


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
    Union[datetime, str],  # evaluated at run time: no X | Y before Python 3.10
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
