"""The instance tree the simulator serves, and its JSON file form.

A tree is nested dicts (:data:`ec2imds.catalog.Node`: ``str | bytes | dict[str, Node]``).
The root keys are ``"meta-data"``, ``"dynamic"`` and ``"user-data"`` (bytes; absent means
404).  A dict is a directory, listed in insertion order; a ``str`` leaf is served as
UTF-8, a ``bytes`` leaf byte for byte.  A directory key of the form ``"<index>=<name>"``
(as under ``meta-data/public-keys``) is listed verbatim and addressed by its index.

JSON file form (``--tree FILE``): the same nesting; a bytes leaf is written
``{"$base64": "..."}``.  Numbers in a file are accepted as leaves and turned into text.

A dump written by ``ec2imds --tree`` is a tree file too: where the catalog says a path
holds a JSON document (the identity document, IAM credentials, events...), an object or
array there is served as its JSON text, laid out as AWS does (``null`` inside it kept);
an array at a line-list leaf is served one item per line; a ``null`` leaf is absent (404); a string
``user-data`` is base64 when it is valid base64 (as ``--tree`` writes it), else text.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ec2imds.catalog import Node

if TYPE_CHECKING:
    from typing_extensions import TypeAlias

__all__ = [
    "TreeError",
    "TreeLike",
    "copy_tree",
    "dump_tree",
    "is_indexed_key",
    "load_tree",
    "tree_file_errors",
    "tree_from_json",
    "tree_to_json",
    "validate_tree",
]

TreeLike: TypeAlias = Mapping[str, Node]

_BASE64_KEY = "$base64"
_INDEXED = re.compile(r"[0-9]+=.+", re.S)


class TreeError(ValueError):
    """A tree (or a tree file) is malformed; the message names the offending path."""


def is_indexed_key(key: str, node: object) -> bool:
    """True for a directory key like ``0=my-key``: listed verbatim, addressed by ``0``."""
    return isinstance(node, Mapping) and _INDEXED.fullmatch(key) is not None


def _check_key(key: object, where: str) -> str:
    if not isinstance(key, str):
        raise TreeError(f"{where or '/'}: key {key!r} is not a string")
    if not key or "/" in key or key in (".", ".."):
        raise TreeError(f"{where or '/'}: invalid key {key!r} (empty, '.', '..' or contains '/')")
    return key


def copy_tree(tree: Mapping[str, object], _where: str = "") -> dict[str, Node]:
    """Deep-copy ``tree`` into plain dicts, checking every key and leaf.

    Raises :class:`TreeError` for a key that is not a non-empty string without ``/``, or a
    leaf that is neither ``str`` nor ``bytes``.
    """
    out: dict[str, Node] = {}
    for key, value in tree.items():
        name = _check_key(key, _where)
        path = f"{_where}/{name}"
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, (bytes, bytearray, memoryview)):
            out[name] = bytes(value)
        elif isinstance(value, Mapping):
            out[name] = copy_tree(value, path)
        else:
            raise TreeError(
                f"{path}: leaf must be str, bytes or a dict, not {type(value).__name__}"
            )
    return out


def validate_tree(tree: Mapping[str, object]) -> None:
    """Raise :class:`TreeError` if ``tree`` is not a valid tree (see :func:`copy_tree`)."""
    copy_tree(tree)


def tree_from_json(data: object, _where: str = "") -> dict[str, Node]:
    """Turn parsed JSON (the file form, or an ``ec2imds --tree`` dump) into a tree,
    decoding ``{"$base64": ...}`` leaves."""
    if not isinstance(data, dict):
        raise TreeError(f"{_where or '/'}: expected a JSON object, got {type(data).__name__}")
    out: dict[str, Node] = {}
    for key, value in data.items():
        name = _check_key(key, _where)
        path = f"{_where}/{name}"
        if value is None:  # a dump's absent path: not served
            continue
        out[name] = _node_from_json(value, path)
    return out


def _kind(path: str) -> str | None:
    """The catalog's kind of entry at ``path`` (``/meta-data/...``), or None if unknown."""
    from ec2imds import catalog  # standard library only; loaded when a file is

    found = catalog.match(path)
    return None if found is None else found[0].kind


def _node_from_json(value: object, path: str) -> Node:
    kind = _kind(path)
    if kind == "json" and isinstance(value, (dict, list)) and not _is_base64(value):
        # A document, as a dump holds it: served laid out as AWS lays documents out, so
        # that a dumped identity document is served byte for byte as it was signed.
        from ec2imds.simulator.identity import aws_json

        return aws_json(value)
    if kind == "bytes" and isinstance(value, str):
        return _user_data(value)
    if isinstance(value, list):
        if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
            raise TreeError(f"{path}: a list leaf holds only strings and numbers")
        return "\n".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        raise TreeError(f"{path}: leaf must be a string, a number or {{'$base64': ...}}")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        if _BASE64_KEY in value:
            encoded = value[_BASE64_KEY]
            if len(value) != 1 or not isinstance(encoded, str):
                raise TreeError(f"{path}: a bytes leaf is exactly {{'$base64': '<base64 text>'}}")
            try:
                return base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise TreeError(f"{path}: invalid base64: {exc}") from exc
        return tree_from_json(value, path)
    raise TreeError(f"{path}: leaf must be a string, a number or {{'$base64': ...}}")


def _is_base64(value: object) -> bool:
    return isinstance(value, dict) and _BASE64_KEY in value


def _user_data(text: str) -> bytes:
    """A dump's ``user-data`` string: base64 (``ec2imds --tree``), or else UTF-8 text."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8")
    return data if base64.b64encode(data).decode("ascii") == text else text.encode("utf-8")


def tree_to_json(tree: Mapping[str, Node]) -> dict[str, object]:
    """The JSON file form of ``tree``: bytes leaves become ``{"$base64": ...}``."""
    out: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, bytes):
            out[key] = {_BASE64_KEY: base64.b64encode(value).decode("ascii")}
        else:
            out[key] = tree_to_json(value)
    return out


def _read_json(path: str | os.PathLike[str]) -> object:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.loads(fh.read())
    except UnicodeDecodeError as exc:
        raise TreeError(f"{os.fspath(path)}: not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise TreeError(f"{os.fspath(path)}: not valid JSON: {exc}") from exc


def _as_dump(data: object) -> object:
    """A tree file as an ``ec2imds --tree`` dump: a ``{"$base64": ...}`` leaf becomes its
    base64 text, as a dump writes user data; the rest is the same already."""
    if isinstance(data, dict):
        encoded = data.get(_BASE64_KEY)
        if len(data) == 1 and isinstance(encoded, str):
            return encoded
        return {k: _as_dump(v) for k, v in data.items()}
    return data


def tree_file_errors(path: str | os.PathLike[str]) -> list[str]:
    """What in a tree file the models refuse, one ``POINTER: message`` per path (a JSON
    Pointer into the file, as ``ec2imds --validate`` reports): a value of the wrong type
    (``/meta-data/instance-id: 5 is not text``), a value EC2 serves on every instance
    that is missing. Empty when the models accept it. Keys the catalog does not know are
    not errors (IMDS adds categories). Raises as :func:`load_tree` does."""
    from ec2imds.schema import validate_dump  # the models: loaded only to check a file

    return [str(error) for error in validate_dump(_as_dump(_read_json(path)))]


def load_tree(path: str | os.PathLike[str]) -> dict[str, Node]:
    """Read a tree from a JSON file.

    Raises :class:`OSError` when the file cannot be read and :class:`TreeError` (a
    ``ValueError``) when it is not valid JSON or not a valid tree; messages name the file.
    """
    data = _read_json(path)
    try:
        return tree_from_json(data)
    except TreeError as exc:
        raise TreeError(f"{os.fspath(path)}: {exc}") from exc


def dump_tree(tree: Mapping[str, Node], path: str | os.PathLike[str]) -> None:
    """Write ``tree`` to ``path`` in the JSON file form (UTF-8, indented, key order kept)."""
    validate_tree(tree)
    text = json.dumps(tree_to_json(tree), indent=2, ensure_ascii=False)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
