"""Validation with IMDS's words: a model, a leaf type or a field validates a raw (or
dumped) value, and any pydantic error becomes one
:class:`~ec2imds.errors.IMDSValidationError` naming the IMDS path and the value.

Credential documents are masked on the way: neither the error nor the pydantic error it
is chained to quotes a value from one (a logged traceback shows causes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from ec2imds import catalog
from ec2imds._leaves import _show
from ec2imds.errors import ALWAYS_PRESENT, IMDSValidationError, absent_error

__all__ = ["field_type", "primary_entry", "validate_raw", "validate_value"]

M = TypeVar("M", bound=BaseModel)


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
                for e, hide in zip(errors, hidden)  # hidden: one per error
            ],
            hide_input=True,
        )
    error.__cause__ = cause
    return error


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
        args = (info.annotation, *info.metadata)  # mypy takes Annotated[(a, *b)] for 3.11 syntax
        return Annotated[args]
    return info.annotation


def primary_entry(entries: Mapping[Any, BaseModel], key: object, model: type[M], *, path: str) -> M:
    """The entry ``key`` names in the keyed directory ``path`` (``meta-data/mac`` in
    ``meta-data/network/interfaces/macs``: the interface the instance launched with),
    validated as ``model``, which types what EC2 always serves for it without ``None``.
    :class:`~ec2imds.errors.IMDSValidationError` naming the path when the entry, or one of
    those values, is missing."""
    full = _join(path, str(key))
    entry = entries.get(key)
    if entry is None:
        raise absent_error(full, "not in its directory's listing")
    if isinstance(entry, model):
        return entry
    data = entry.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return validate_raw(model, data, path=full)
