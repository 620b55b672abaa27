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
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ec2imds import models
from ec2imds.models import IMDSModel, InstanceMetadata, dump

__all__ = [
    "DumpError",
    "dump",
    "model_schema",
    "schemas",
    "validate_dump",
    "validate_dump_file",
]

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


@dataclass(frozen=True, slots=True)
class DumpError:
    """One problem in a dump: where (a JSON Pointer), what, and the offending value."""

    pointer: str
    message: str
    value: object = None

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


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


def validate_dump(data: object) -> list[DumpError]:
    """Every problem in a parsed dump (``json.load`` output); an empty list means valid."""
    try:
        InstanceMetadata.model_validate(data)
    except ValidationError as exc:
        return [
            DumpError(_pointer(data, tuple(err["loc"])), err["msg"], err.get("input"))
            for err in exc.errors(include_url=False)
        ]
    return []


def validate_dump_file(path: str | os.PathLike[str]) -> list[DumpError]:
    """:func:`validate_dump` on a JSON file; unreadable or malformed JSON is one error."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return [DumpError("", f"cannot read a JSON dump: {exc}")]
    return validate_dump(data)
