"""JSON Schema export and validation of saved metadata dumps.

**Dump format.**  A dump is the JSON form of :class:`~ec2imds.models.InstanceMetadata`
as :func:`dump` writes it (``model_dump(mode="json", by_alias=True, exclude_unset=True)``):

* keys are IMDS's own (``meta-data``, ``availability-zone``, ``InstanceProfileArn``);
  a path IMDS did not serve is left out;
* leaves are parsed: ints are numbers, line lists are arrays, JSON documents are nested
  objects, times are written as IMDS wrote them (ISO ``...Z``; events as
  ``21 Jan 2019 09:00:43 GMT``);
* public keys stay in the listing form: ``{"0=my-key": {"openssh-key": "..."}}``;
* ``user-data`` is **base64** (standard alphabet, padded), since it is often binary;
* secrets (``SecretAccessKey``, ``Token``) are masked as ``**********`` unless the dump
  was made with ``reveal_secrets=True``;
* paths the catalog does not know are kept: text if UTF-8, else base64.

**Error paths** are JSON Pointers (RFC 6901) into the dump, e.g.
``/meta-data/placement/region`` or ``/meta-data/public-keys/0=my-key/openssh-key``
(``~`` is written ``~0`` and ``/`` is ``~1``; ``""`` is the whole document).

**What fails.**  A wrong type; a value EC2 serves on every instance that is missing (each
missing path is named: ``{}`` fails with ``/meta-data/instance-id``, ...); the flat
``ec2imds -a`` format (one error with a hint).  A key the catalog does not know is not an
error (IMDS grows, and a dump keeps what it served): :func:`unknown_keys` reports it, with
the closest known key ("did you mean"), and ``strict=True`` makes it an error.  The
exported schemas give the same verdicts to any Draft 2020-12 validator (``required``
lists the always-present values; unknown keys are allowed).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ec2imds import catalog, models
from ec2imds._compat import SLOTS
from ec2imds._values import _unwrap as unwrap_type
from ec2imds.errors import ALWAYS_PRESENT
from ec2imds.models import IMDSModel, InstanceMetadata, dump

__all__ = [
    "EMPTY_FILE",
    "FLAT_HINT",
    "ROOT_POINTER",
    "DumpError",
    "dump",
    "is_flat_dump",
    "model_schema",
    "schema_name",
    "schemas",
    "unknown_keys",
    "validate_dump",
    "validate_dump_file",
]

FLAT_HINT = (
    "this is the flat 'ec2imds -a' format (keys such as 'meta-data/instance-id'); "
    "--validate checks the nested --tree format: save one with 'ec2imds --tree > FILE'"
)

EMPTY_FILE = "empty file: a --tree dump is a JSON object ('ec2imds --tree > FILE' saves one)"

#: How an error about the whole document shows its (empty) JSON Pointer.
ROOT_POINTER = '""'

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a model (by alias: IMDS's keys), describing what validates."""
    schema = model.model_json_schema(by_alias=True)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def schemas() -> dict[str, dict[str, Any]]:
    """File name → schema for ``InstanceMetadata`` and every category model."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(models.__all__):
        obj = getattr(models, name)
        if isinstance(obj, type) and issubclass(obj, IMDSModel) and obj is not IMDSModel:
            out[f"{name}.json"] = model_schema(obj)
    return out


def _schema_paths(names: Collection[str]) -> dict[str, str]:
    """Catalog path -> the schema of what it holds: each directory's model, each JSON
    document's (``meta-data/iam/info``: ``IamInfo``) and each keyed directory's entries'
    (``meta-data/public-keys``: ``PublicKey``); ``""`` is the whole tree."""
    out: dict[str, str] = {}
    for e in catalog.ENTRIES:
        found = e.model if e.kind == "dir" else ""
        if e.kind in ("json", "map"):
            found = next((w for w in re.findall(r"\w+", e.type) if w in names), "")
        if found:
            out[e.path] = found
    return out


def _squash(text: str) -> str:
    return re.sub(r"[-_\s]", "", text).lower()


def schema_name(text: str) -> str:
    """The model whose schema ``--schema TEXT`` asks for: a model name (``Placement``,
    ``Placement.json``), a catalog path (``meta-data/placement``, trailing ``/`` and
    placeholders' values accepted: ``meta-data/network/interfaces/macs/0e:...``), or a
    name in any case, ``-`` and ``_`` ignored (``placement``, ``instance-identity``) when
    one model alone has it.  ``ValueError`` says why not, with the closest names."""
    names = {n.removesuffix(".json") for n in schemas()}
    given = text.strip()
    name = given.removesuffix(".json")
    if name in names:
        return name
    paths = _schema_paths(names)
    path = given.strip("/")
    found = catalog.match(path) if path else None
    if found is not None and found[0].path in paths:
        return paths[found[0].path]
    if found is not None:
        holder = next(
            (paths[p] for p in sorted(paths, key=len, reverse=True) if found[0].path.startswith(p)),
            "InstanceMetadata",
        )
        raise ValueError(f"{given!r} has no model of its own: it is part of {holder}")
    if not path and given:
        return "InstanceMetadata"
    # A name in any case: a model's, or a catalog directory's last segment.
    wanted = _squash(path)
    matches = {n for n in names if _squash(n) == wanted}
    matches |= {m for p, m in paths.items() if p and _squash(p.rsplit("/", 1)[-1]) == wanted}
    if len(matches) == 1:
        return matches.pop()
    if matches:
        raise ValueError(f"{given!r} is ambiguous: one of {', '.join(sorted(matches))}")
    choices = sorted(names) + sorted(p for p in paths if p and "{" not in p)
    close = difflib.get_close_matches(path, choices, n=3, cutoff=0.6)
    close += [n for n in sorted(names) if wanted and wanted in n.lower() and n not in close]
    hint = f"did you mean {', '.join(close[:3])}?" if close else "ec2imds -L lists the paths"
    raise ValueError(f"{given!r}: unknown model or catalog path ({hint})")


@dataclass(frozen=True, **SLOTS)
class DumpError:
    """One problem in a dump: where (a JSON Pointer), what, and the offending value."""

    pointer: str
    message: str
    value: object = None

    def __str__(self) -> str:
        # "" is the whole document (RFC 6901); "/" would be the key "" inside it.
        return f"{self.pointer or ROOT_POINTER}: {self.message}"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(data: object, loc: tuple[int | str, ...]) -> str:
    tokens: list[str] = []
    node: object = data
    for part in loc:
        if part == "[key]":
            continue
        token = str(part)
        if isinstance(node, Mapping):
            if token not in node:  # public keys: the model's 0 is the dump's "0=my-key"
                token = next(
                    (k for k in node if isinstance(k, str) and k.partition("=")[0] == token),
                    token,
                )
            node = node.get(token)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
        tokens.append(_escape(token))
    return "".join(f"/{t}" for t in tokens)


_JSON_KINDS = {list: "an array", str: "a string", bool: "a boolean", int: "a number"}


def _not_an_object(data: object) -> str:
    """Why a parsed JSON value that is not an object is no dump, in words."""
    if data is None:
        kind = "null"
    else:
        kind = next((k for t, k in _JSON_KINDS.items() if isinstance(data, t)), "a number")
        if isinstance(data, list) and not data:
            kind = "an empty array"
    return (
        f"not a --tree dump: the file holds {kind}, a dump is a JSON object "
        "('ec2imds --tree > FILE' saves one)"
    )


def is_flat_dump(data: object) -> bool:
    """True for the flat ``ec2imds -a`` output (``{"meta-data/instance-id": ...}``)."""
    return (
        isinstance(data, Mapping)
        and "meta-data" not in data
        and "dynamic" not in data
        and any(isinstance(k, str) and k.startswith(("meta-data/", "dynamic/")) for k in data)
    )


def _always_values() -> list[str]:
    """Paths EC2 serves on every instance that hold a value (not a directory of them)."""
    always = catalog.always_present()
    return [p for p in always if catalog.entry(p).kind != "dir"]


def _missing(pointer: str) -> list[DumpError]:
    """A missing required key, as every always-present value it stands for."""
    path = pointer.lstrip("/")
    below = [p for p in _always_values() if p == path or p.startswith(path + "/")]
    return [DumpError("/" + p, ALWAYS_PRESENT) for p in below or [path]]


def validate_dump(data: object, *, strict: bool = False) -> list[DumpError]:
    """Every problem in a parsed dump (``json.load`` output); an empty list means valid.

    With ``strict``, each key the catalog does not know is an error too (see
    :func:`unknown_keys`).
    """
    if is_flat_dump(data):
        return [DumpError("", FLAT_HINT)]
    if not isinstance(data, Mapping):
        return [DumpError("", _not_an_object(data), data)]
    errors: list[DumpError] = []
    try:
        InstanceMetadata.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            pointer = _pointer(data, tuple(err["loc"]))
            if err["type"] == "missing":
                errors += _missing(pointer)
            else:
                errors.append(DumpError(pointer, err["msg"], err.get("input")))
    if strict:
        errors += unknown_keys(data)
    return errors


def unknown_keys(data: object) -> list[DumpError]:
    """Keys of a dump that no model knows (a category IMDS added, or a misspelling), each
    with the closest known key when there is one (``did you mean 'availability-zone'?``).
    Not errors: a real dump keeps what IMDS served (``validate_dump(strict=True)``)."""
    found: list[DumpError] = []
    _unknown_in(InstanceMetadata, data, "", found)
    return found


def _unknown_in(tp: object, node: object, pointer: str, found: list[DumpError]) -> None:
    tp = unwrap_type(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(node, Mapping):
        fields = {info.alias or name: info for name, info in tp.model_fields.items()}
        names = {name: info for name, info in tp.model_fields.items()}
        for key, value in node.items():
            child = f"{pointer}/{_escape(str(key))}"
            info = fields.get(key) or names.get(key)
            if info is not None:
                _unknown_in(info.annotation, value, child, found)
                continue
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]!r}?" if close else " (kept: IMDS adds categories)"
            found.append(DumpError(child, f"unknown key{hint}", key))
    elif get_origin(tp) is dict and isinstance(node, Mapping):
        value_type = get_args(tp)[1]
        for key, value in node.items():
            _unknown_in(value_type, value, f"{pointer}/{_escape(str(key))}", found)
    elif get_origin(tp) is list and isinstance(node, list):
        (item_type,) = get_args(tp)
        for index, value in enumerate(node):
            _unknown_in(item_type, value, f"{pointer}/{index}", found)


def validate_dump_file(path: str | os.PathLike[str], *, strict: bool = False) -> list[DumpError]:
    """:func:`validate_dump` on a JSON file; unreadable or malformed JSON is one error."""
    try:
        with open(path, "rb") as fh:
            text = fh.read()
        if not text.strip():
            return [DumpError("", EMPTY_FILE)]
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [DumpError("", f"cannot read a JSON dump: {exc}")]
    return validate_dump(data, strict=strict)
