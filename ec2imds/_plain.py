"""The models' JSON dump of a raw tree, without pydantic, for the command line's ``-a``.

``ec2imds -a`` prints every category as the models dump it (:func:`ec2imds._category_json.
tree_to_json`). Importing pydantic and the models and building their validators costs
several times a whole crawl's CPU, so :func:`dump` computes the same JSON directly from
the fields the generator wrote down (``ec2imds._categories.SHAPES``: the generated models'
own fields, by name, alias, annotation and whether EC2 always serves them) and the same
leaf parsers and serializers the models use (:mod:`ec2imds._leaves`), credentials'
secrets masked as the models mask them unless revealed.

It only vouches for what it fully understands: any value a leaf parser refuses, any shape
it does not know, any input the models could read differently (a key given by field name
rather than alias, a float that is not finite, colliding map keys...) or refuse (a value
EC2 serves on every instance that is not there, a tag key IMDS cannot list) raises
:class:`Unsure`, and the caller asks the models, whose answer (a value or a clear error)
is then the one given. So no check is dropped and every error message is the models' own;
``tests/test_plain.py`` compares the two on the default instance and on generated trees.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from ec2imds import _leaves
from ec2imds._categories import SHAPES

__all__ = ["Unsure", "dump"]


class Unsure(Exception):
    """The plain dump cannot vouch for this input: validate it with the models."""


Dumper = Callable[[object], Any]


def _leaf(parse: Callable[[object], Any], out: Callable[[Any], Any] = lambda v: v) -> Dumper:
    def dump_leaf(value: object) -> Any:
        if isinstance(value, dict):
            raise Unsure
        try:
            return out(parse(value))
        except _leaves.LeafError:
            raise Unsure from None

    return dump_leaf


def _text_str(value: Any) -> str:
    return str(value)


def _strs(values: list[Any]) -> list[str]:
    return [str(v) for v in values]


def _ser_iso(value: Any) -> str:
    v = _leaves._aware(value)
    if v.microsecond:
        return str(v.isoformat().replace("+00:00", "Z"))
    return str(v.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _ser_imds_time(value: Any) -> str:
    v = _leaves._aware(value)
    return f"{v.day:02d} {_leaves._MONTHS[v.month - 1]} {v.year:04d} {v:%H:%M:%S} GMT"


def _ser_lenient(value: Any) -> str:
    return value if isinstance(value, str) else _ser_iso(value)


def _ser_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _json_value(value: object) -> Any:
    """A parsed JSON value as the models dump it unchanged, or :class:`Unsure`."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unsure
        return value
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    raise Unsure


def _json_object(value: object) -> Any:
    return _json_value(_leaves.parse_json_object(value))


def _secret(value: object) -> str:
    if not isinstance(value, str):  # parse_secret would name the type; the models say it
        raise Unsure
    return _leaves.parse_text(value)


def _masked(value: str) -> str:
    """A secret as the models dump it unless revealed (``str(SecretStr(value))``)."""
    return "**********" if value else ""


LEAVES: dict[str, Dumper] = {
    "Text": _leaf(_leaves.parse_text),
    "ExactText": _leaf(_leaves.parse_exact_text),
    "Int": _leaf(_leaves.parse_int),
    "Bool": _leaf(_leaves.parse_bool),
    "Lines": _leaf(_leaves.parse_lines),
    "MAC": _leaf(_leaves.parse_mac),
    "IPv4": _leaf(_leaves.parse_ipv4, _text_str),
    "IPv6": _leaf(_leaves.parse_ipv6, _text_str),
    "IPv4Net": _leaf(_leaves.parse_ipv4_net, _text_str),
    "IPv4Lines": _leaf(_leaves._lines_of(_leaves.parse_ipv4), _strs),
    "IPv6Lines": _leaf(_leaves._lines_of(_leaves.parse_ipv6), _strs),
    "IPv4NetLines": _leaf(_leaves._lines_of(_leaves.parse_ipv4_net), _strs),
    "IPv6NetLines": _leaf(_leaves._lines_of(_leaves.parse_ipv6_net), _strs),
    "Timestamp": _leaf(_leaves.parse_iso_time, _ser_iso),
    "IMDSTime": _leaf(_leaves.parse_imds_time, _ser_imds_time),
    "LenientTime": _leaf(_leaves.parse_lenient_time, _ser_lenient),
    "Secret": _leaf(_secret),
    "MaskedSecret": _leaf(_secret, _masked),
    "Bytes": _leaf(_leaves.parse_bytes, _ser_bytes),
    "JsonObject": _leaf(_json_object),
}


def _exact_str(value: object) -> str:
    if type(value) is not str:
        raise Unsure
    return value


def _str_list(value: object) -> list[str]:
    if type(value) is not list:
        raise Unsure
    return [_exact_str(v) for v in value]


def _literal(choices: frozenset[str]) -> Dumper:
    def dump_literal(value: object) -> str:
        if type(value) is not str or value not in choices:
            raise Unsure
        return value

    return dump_literal


def _key_int(key: object) -> int:
    if not isinstance(key, str) or not re.fullmatch(r"0|[1-9][0-9]{0,8}", key):
        raise Unsure
    return int(key)


KEYS: dict[str, Callable[[object], Any]] = {
    "str": _exact_str,
    "int": _key_int,
    "MAC": _leaf(_leaves.parse_mac),
    "IPv4": _leaf(_leaves.parse_ipv4, _text_str),
    "TagKey": _leaf(_leaves.parse_tag_key),
}


def _split_top(text: str) -> list[str]:
    """``"A, B[C, D], E"`` -> ``["A", "B[C, D]", "E"]``."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


@cache
def _dumper(annotation: str, reveal: bool) -> Dumper:
    """The dump of a value of this (generated) annotation; secrets masked unless
    ``reveal``."""
    ann = annotation.strip()
    if ann.endswith(" | None"):
        inner = _dumper(ann[: -len(" | None")], reveal)
        return lambda v: None if v is None else inner(v)
    if ann == "Secret" and not reveal:
        return LEAVES["MaskedSecret"]
    if ann in LEAVES:
        return LEAVES[ann]
    if ann in SHAPES:
        return lambda v: _model(ann, v, reveal)
    if ann == "str":
        return _exact_str
    if ann == "list[str]":
        return _str_list
    if ann.startswith("Literal[") and ann.endswith("]"):
        return _literal(frozenset(p.strip("'\"") for p in _split_top(ann[8:-1])))
    if ann.startswith("Annotated[") and ann.endswith("]"):
        base, *marks = _split_top(ann[10:-1])
        if marks == ["JSON"]:
            return _json_document(_dumper(base, reveal))
        if marks == ["PUBLIC_KEYS_IN", "PUBLIC_KEYS_OUT"]:
            return _public_keys(_dumper(base, reveal))
        if marks == ["TAG_KEYS"]:  # the keys' JSON Schema only: TagKey validates them
            return _dumper(base, reveal)
    if ann.startswith("list[") and ann.endswith("]"):
        item = _dumper(ann[5:-1], reveal)
        return lambda v: [item(x) for x in v] if type(v) is list else _unsure()
    if ann.startswith("dict[") and ann.endswith("]"):
        key_type, value_type = _split_top(ann[5:-1])
        return _map(KEYS[key_type], _dumper(value_type, reveal))
    raise LookupError(f"ec2imds._plain: no dump for {annotation!r}")  # a generator change


def _unsure() -> Any:
    raise Unsure


def _json_document(inner: Dumper) -> Dumper:
    def dump_document(value: object) -> Any:
        if isinstance(value, dict):
            raise Unsure
        try:
            parsed = _leaves.parse_json(value)
        except _leaves.LeafError:
            raise Unsure from None
        return inner(parsed)

    return dump_document


def _map(key: Callable[[object], Any], value: Dumper) -> Dumper:
    def dump_map(node: object) -> dict[str, Any]:
        if type(node) is not dict:
            raise Unsure
        out: dict[str, Any] = {}
        for k, v in node.items():
            name = str(key(k))
            if name in out:  # two keys that the models would read as one
                raise Unsure
            out[name] = value(v)
        return out

    return dump_map


def _public_keys(inner: Dumper) -> Dumper:
    """``PUBLIC_KEYS_IN`` (``"0=name"`` → index 0 with its name), the map, then
    ``PUBLIC_KEYS_OUT`` (back to ``"0=name"``): as the models' validator and serializer."""

    def dump_keys(node: object) -> Any:
        if type(node) is not dict:
            raise Unsure
        moved = _leaves.public_keys_named(node)
        if len(moved) != len(node):  # two entries of one index
            raise Unsure
        return _leaves.public_keys_listed(inner(moved))

    return dump_keys


@cache
def _fields(
    model: str, reveal: bool
) -> tuple[dict[str, tuple[str, Dumper]], frozenset[str], frozenset[str]]:
    """alias -> (alias, dumper), the field names that differ from their alias, and the
    aliases of the required fields (what EC2 serves on every instance)."""
    by_alias = {alias: (alias, _dumper(ann, reveal)) for _, alias, ann, _ in SHAPES[model]}
    names = frozenset(name for name, alias, _, _ in SHAPES[model] if name != alias)
    required = frozenset(alias for _, alias, _, needed in SHAPES[model] if needed)
    return by_alias, names, required


def _extra(value: object) -> Any:
    """An unknown key's value as the models keep and dump it (``RawExtra``)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise Unsure from None
    if isinstance(value, dict):
        return {k: _extra(v) for k, v in value.items()}
    return _json_value(value)


def _model(model: str, node: object, reveal: bool) -> dict[str, Any]:
    """A model's dump (``by_alias``, ``exclude_unset``, JSON mode): its fields that the
    input sets, in declaration order, then the unknown keys, in input order. A required
    field that is not there is the models' error to name."""
    if type(node) is not dict:
        raise Unsure
    by_alias, names, required = _fields(model, reveal)
    if not required <= node.keys():
        raise Unsure
    found: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in node.items():
        if type(key) is not str or key in names:  # by field name: let the models decide
            raise Unsure
        hit = by_alias.get(key)
        if hit is None:
            extra[key] = _extra(value)
        else:
            found[key] = hit[1](value)
    out = {alias: found[alias] for alias in by_alias if alias in found}
    out.update(extra)
    return out


def dump(model: str, raw: object, *, reveal_secrets: bool = True) -> dict[str, Any]:
    """``dump(validate_raw(Model, raw), reveal_secrets=reveal_secrets)`` for the generated
    model named ``model``, or :class:`Unsure`."""
    try:
        return _model(model, raw, reveal_secrets)
    except RecursionError:
        raise Unsure from None
