"""Categories, the types the models give each path, and their JSON values.

A *category* is what ec2imds 0.0.3 called a directive and what the CLI prints: a catalog
leaf or map (a directory keyed by its listing) with no placeholder in its path and no map
above it, such as ``meta-data/placement/region`` or ``meta-data/network/interfaces/macs``.
The list is generated from the catalog into ``ec2imds/_categories.py`` (plain data, cheap
to import); types and values come from the models, imported on first use.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args, get_origin

from ec2imds._categories import ALWAYS, ALWAYS_EXAMPLES, CATEGORIES
from ec2imds.crawl import NAME, Entry, RawNode, Walk
from ec2imds.errors import Failures, IMDSValidationError, absent_error

if TYPE_CHECKING:
    from ec2imds.models._base import IMDSModel

M = TypeVar("M", bound="IMDSModel")

#: Errors by path, as a tolerant crawl or category listing collects them.

#: What a full crawl walks below ``/latest/`` (``/latest/`` lists these without slashes).
ROOTS = (
    Entry("meta-data", "meta-data", True),
    Entry("dynamic", "dynamic", True),
    Entry("user-data", "user-data", False),
)


def prepare_models() -> None:
    """Import the models and build the root validator now (they are built lazily)."""
    from ec2imds.models import InstanceMetadata

    InstanceMetadata.model_rebuild(force=True)


__all__ = [
    "CATEGORY_ALIASES",
    "ROOTS",
    "SIMPLE_LEAVES",
    "category_is_dir",
    "is_simple",
    "leaf_to_json",
    "model_at",
    "node_at",
    "resolve_category",
    "resolve_path",
    "to_json",
    "tree_json",
    "tree_to_json",
    "type_at",
    "validate_at",
    "validate_tree",
]

#: Paths ec2imds 0.0.3 used by mistake (these live under ``dynamic/``); still accepted.
CATEGORY_ALIASES = {
    "meta-data/fws/instance-monitoring": "dynamic/fws/instance-monitoring",
    "meta-data/instance-identity/document": "dynamic/instance-identity/document",
    "meta-data/instance-identity/pkcs7": "dynamic/instance-identity/pkcs7",
    "meta-data/instance-identity/signature": "dynamic/instance-identity/signature",
}


def category_is_dir(path: str) -> bool:
    """True for a map category or a directory below one (fetched as a subtree), False
    for a leaf."""
    if path in CATEGORIES:
        return CATEGORIES[path][0] == "map"
    from ec2imds._pathmatch import match

    found = match(path)
    return found is not None and not found[0].is_leaf


def resolve_category(path: str) -> str | None:
    """The category a user's path names (0.0.3's mistaken paths included), or None."""
    path = path.strip().strip("/")
    path = CATEGORY_ALIASES.get(path, path)
    return path if path in CATEGORIES else None


def resolve_path(path: str) -> str | None:
    """The category a user's path names, or a path below a map category that the
    catalog knows: one tag (``meta-data/tags/instance/Name``), one interface or one of
    its fields (``meta-data/network/interfaces/macs/<mac>/subnet-id``), one public key
    (``meta-data/public-keys/0/openssh-key``); None otherwise."""
    found = resolve_category(path)
    if found is not None:
        return found
    path = path.strip().strip("/")
    if not any(path.startswith(c + "/") for c, (kind, _) in CATEGORIES.items() if kind == "map"):
        return None
    if not all(NAME.fullmatch(s) and s not in (".", "..") for s in path.split("/")):
        return None
    from ec2imds._pathmatch import match

    return path if match(path) is not None else None


#: The origins of ``Union[X, Y]`` and of ``X | Y`` (a ``types.UnionType`` from Python 3.10).
if sys.version_info >= (3, 10):
    _UNIONS: tuple[object, ...] = (typing.Union, types.UnionType)
else:
    _UNIONS = (typing.Union,)


def _unwrap(tp: object) -> object:
    """Strip ``Annotated`` and ``| None`` to reach a model class or a ``dict[...]``."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in _UNIONS:
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


@cache
def type_at(path: str) -> object:
    """The type the models validate ``path`` with (a concrete or placeholder path).

    ``type_at("meta-data/placement/region")`` is ``Text | None``; below a map, any key
    works: ``type_at("meta-data/tags/instance/Name")``. ``KeyError`` for an unknown path.
    """
    from pydantic import BaseModel

    from ec2imds.models import InstanceMetadata
    from ec2imds.models._validation import field_type

    tp: object = InstanceMetadata
    for segment in path.strip("/").split("/"):
        inner = _unwrap(tp)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            name = next((n for n, f in inner.model_fields.items() if segment in (f.alias, n)), None)
            if name is None:
                raise KeyError(path)
            tp = field_type(inner, name)
        elif get_origin(inner) is dict:
            tp = get_args(inner)[1]
        else:
            raise KeyError(path)
    return tp


def validate_at(path: str, raw: object) -> Any:
    """Validate a raw body (or subtree) as the models do for ``path``."""
    from ec2imds.models._validation import validate_value

    return validate_value(type_at(path), raw, path=path)


def to_json(path: str, raw: object, *, reveal_secrets: bool = True) -> Any:
    """The JSON-compatible value of ``path`` from its raw body or subtree (None if absent).

    Validated by the models, then dumped by alias: addresses and times as strings, IAM
    secrets revealed (the caller asked for them) unless ``reveal_secrets=False``.
    """
    if raw is None:
        return None
    from ec2imds.models._validation import _adapter

    value = validate_at(path, raw)
    return _adapter(type_at(path)).dump_python(
        value,
        mode="json",
        by_alias=True,
        exclude_unset=True,
        context={"reveal_secrets": reveal_secrets},
    )


def tree_to_json(nodes: dict[str, Any], *, reveal_secrets: bool = True) -> dict[str, Any]:
    """:func:`to_json` of many categories at once (``{path: raw node or None}``).

    The nodes are put back in one tree, validated as :class:`InstanceMetadata` and dumped
    once: the same values as one :func:`to_json` per path, for a fraction of the cost.
    (The tree starts as :func:`_skeleton`, so that a few categories validate although the
    model requires what EC2 always serves; only the nodes given are read back.)
    Raises :class:`~ec2imds.errors.IMDSValidationError` for the first bad body.
    """
    from ec2imds import _plain

    tree: dict[str, Any] = _copy_dirs(_skeleton())
    for path, node in nodes.items():
        if node is None:
            continue
        *parents, name = path.split("/")
        parent = tree
        for segment in parents:
            parent = parent.setdefault(segment, {})
        parent[name] = node
    try:
        # Without pydantic when the plain dump can vouch for it (the same JSON), else the
        # models decide (and name the error).
        dumped = _plain.dump("InstanceMetadata", tree, reveal_secrets=reveal_secrets)
    except _plain.Unsure:
        from ec2imds.models import InstanceMetadata
        from ec2imds.models._base import dump
        from ec2imds.models._validation import validate_raw

        dumped = dump(validate_raw(InstanceMetadata, tree, path=""), reveal_secrets=reveal_secrets)
    out: dict[str, Any] = {}
    for path, node in nodes.items():
        value: Any = None if node is None else dumped
        for segment in path.split("/"):
            value = value.get(segment) if isinstance(value, dict) else None
        out[path] = value
    return out


@cache
def _skeleton() -> dict[str, Any]:
    """A raw tree of just the values the models require (what EC2 always serves), from
    the catalog's examples (generated into ``_categories``: no catalog import here): the
    frame :func:`tree_to_json` puts categories in."""
    tree: dict[str, Any] = {}
    for path in sorted(ALWAYS):
        *parents, name = path.split("/")
        parent = tree
        for segment in parents:
            parent = parent.setdefault(segment, {})
        if path in ALWAYS_EXAMPLES:
            parent[name] = ALWAYS_EXAMPLES[path].encode()
        elif CATEGORIES.get(path, ("",))[0] == "map":
            parent.setdefault(name, {})  # a map: present is enough
    return tree


def _copy_dirs(node: Any) -> Any:
    return {k: _copy_dirs(v) for k, v in node.items()} if isinstance(node, dict) else node


def _simple_parsers() -> dict[str, Callable[[object], Any]]:
    from ec2imds import _leaves

    return {
        "Text": _leaves.parse_text,
        "ExactText": _leaves.parse_exact_text,
        "Int": _leaves.parse_int,
        "Lines": _leaves.parse_lines,
        "MAC": _leaves.parse_mac,
        "IPv4": lambda v: str(_leaves.parse_ipv4(v)),
        "IPv6": lambda v: str(_leaves.parse_ipv6(v)),
    }


#: Leaf types whose JSON value needs no pydantic (the command line's fast path).
SIMPLE_LEAVES = frozenset({"Text", "ExactText", "Int", "Lines", "MAC", "IPv4", "IPv6"})


def is_simple(path: str) -> bool:
    """True for a category whose value :func:`leaf_to_json` can give without the models."""
    return path in CATEGORIES and CATEGORIES[path][0] in SIMPLE_LEAVES


def leaf_to_json(path: str, body: bytes | None) -> Any:
    """:func:`to_json` for a simple leaf, with the same parser but without pydantic.

    Raises :class:`~ec2imds.errors.IMDSValidationError` with the message the models give.
    """
    if body is None:
        if path in always():
            raise absent_error(path)  # EC2 serves it on every instance: never a silent null
        return None
    from ec2imds._leaves import LeafError

    parse = _simple_parsers()[CATEGORIES[path][0]]
    try:
        return parse(body)
    except LeafError as exc:
        raise IMDSValidationError(f"{path}: {exc}", path=path, value=body) from None


def category_walk(paths: list[str], *, listed: bool = False) -> Walk:
    """One walk that fetches these categories (leaves and maps) together.

    ``listed=False`` asks for each path directly (what naming a category asks for).
    ``listed=True`` walks from the root through the listings towards them, so a category its
    parent's listing does not name is absent and never requested (docs/imds.md, 'Directory
    listings': the listing is the truth), and a name listed as a directory is walked as one.
    """
    if listed:
        return Walk("", seed=list(ROOTS), only=paths)
    return Walk("", seed=[Entry(p, p, category_is_dir(p)) for p in paths])


def node_at(raw: RawNode | None, path: str) -> RawNode | None:
    """The node at ``path`` in a walk's result: a seeded path's own key (a direct
    :func:`category_walk`), else the nested directories (a walk from the root)."""
    if not isinstance(raw, dict):
        return None
    if path in raw:
        return raw[path]
    node: RawNode | None = raw
    for segment in path.split("/"):
        if not isinstance(node, dict):
            return None
        node = node.get(segment)
    return node


def category_values(
    paths: list[str], raw: RawNode | None, failures: Failures, *, reveal_secrets: bool = True
) -> dict[str, Any]:
    """Each category's JSON value from a :func:`category_walk` result; a category touched
    by a failure is left out and named in ``failures``. IAM and identity credentials'
    secrets are masked (``**********``) with ``reveal_secrets=False``.

    A failure inside a category (a leaf of a map) is recorded under the category too; a
    failure above it (its parent's listing) is recorded once, under the listing, and the
    categories below it are left out (they are not known to be absent).

    All categories are validated at once (:func:`tree_to_json`); only if that finds an
    error is each validated on its own, so that one bad body does not cost the others.
    Simple leaves are parsed without pydantic.
    """
    nodes: dict[str, RawNode | None] = {}
    for path in paths:
        if any(path.startswith(p + "/") for p in failures):
            continue
        failed = next(
            (e for p, e in failures.items() if p == path or p.startswith(path + "/")), None
        )
        if failed is not None:
            failures.setdefault(path, failed)
            continue
        node = node_at(raw, path)
        if node is None and path in always():  # never a silent null
            failures[path] = absent_error(path, "IMDS did not serve it: a 404, or not listed")
            continue
        nodes[path] = node
    if all(is_simple(p) for p in nodes):
        out: dict[str, Any] = {}
        for path, node in nodes.items():
            try:
                if isinstance(node, dict):
                    raise IMDSValidationError(
                        f"{path}: listed as a directory, not a value", path=path
                    )
                out[path] = leaf_to_json(path, node)
            except IMDSValidationError as exc:
                failures[path] = exc
        return out
    try:
        return tree_to_json(nodes, reveal_secrets=reveal_secrets)
    except IMDSValidationError:
        pass
    out = {}
    for path, node in nodes.items():
        try:
            out[path] = to_json(path, node, reveal_secrets=reveal_secrets)
        except IMDSValidationError as exc:
            failures[path] = exc
    return out


def always() -> frozenset[str]:
    """The catalog paths EC2 serves on every instance (see ``catalog.always_present``)."""
    return ALWAYS


def _below(path: str, directory: str) -> bool:
    return path.startswith(directory + "/")


def _category_of(path: str) -> str:
    """The category holding ``path`` (the longest category path it is or is below), or
    ``path`` itself when no category holds it."""
    best = ""
    for category in CATEGORIES:
        if (path == category or path.startswith(category + "/")) and len(category) > len(best):
            best = category
    return best or path


def _without(tree: dict[str, Any], parts: list[str]) -> dict[str, Any] | None:
    """A copy of ``tree`` without the node at ``parts`` (copying only the way down), or
    None when there is no such node."""
    head, *rest = parts
    if head not in tree:
        return None
    out = dict(tree)
    if not rest:
        del out[head]
        return out
    child = tree[head]
    if not isinstance(child, dict):
        return None
    inner = _without(child, rest)
    if inner is None:
        return None
    out[head] = inner
    return out


def validate_tree(
    model: type[M], raw: RawNode | None, *, path: str, failures: Failures | None
) -> M:
    """Validate a walk's result as ``model`` (the category at ``path``; ``""`` the root).

    Without ``failures``, the first bad body raises. With it, a category whose body does
    not validate is left out, its error recorded under the category's path, and the rest
    validated again: nothing valid is lost because something else is bad. A value the
    model requires cannot be left out: if one is bad or missing, its error is raised.
    """
    from ec2imds.models._validation import validate_raw

    tree: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if failures is None:
        return validate_raw(model, tree, path=path)
    prefix = f"{path}/" if path else ""
    while True:
        try:
            return validate_raw(model, tree, path=path)
        except IMDSValidationError as exc:
            victim = _category_of(exc.path)
            smaller = None
            if victim.startswith(prefix) and victim != path:
                smaller = _without(tree, victim[len(prefix) :].split("/"))
            if smaller is None:
                # A value the model requires is bad, or missing: missing because its
                # fetch (or its listing's) failed, that failure is the error to raise.
                cause = next(
                    (
                        e
                        for p, e in failures.items()
                        if exc.path == p or _below(exc.path, p) or _below(p, exc.path)
                    ),
                    None,
                )
                if cause is None:
                    raise
                raise cause from cause.__cause__  # the failure itself, its own cause kept
            failures[victim] = exc
            tree = smaller


def model_at(model: type[M], raw: RawNode | None, *, path: str, failures: Failures | None) -> M:
    """``get(Model)``'s result from a walk from the root: a directory's model validated as
    :func:`validate_tree` does; a JSON document's model (``IamInfo``, the identity
    document...) from its bytes. A document that is not there is an error naming it:
    there is no model to return (``value(path)`` gives ``None`` for it)."""
    from ec2imds._pathmatch import match

    node = node_at(raw, path)
    found = match(path)
    if found is None or not found[0].is_leaf:
        return validate_tree(model, node, path=path, failures=failures)
    if node is None:
        if path in always():
            raise absent_error(path)
        raise IMDSValidationError(
            f"{path}: absent on this instance (404); value({path!r}) gives None for it",
            path=path,
        )
    if isinstance(node, dict):
        raise IMDSValidationError(f"{path}: listed as a directory, not a document", path=path)
    document: M = validate_at(path, node)
    return document


def tree_json(
    raw: RawNode | None, failures: Failures, *, reveal_secrets: bool = True
) -> dict[str, Any]:
    """The ``--tree`` JSON of a walk's result when the tree as a whole does not validate
    (a value the models require is bad or missing): each category validated on its own
    and put back in its place, failures recorded, unknown paths kept as text (or base64
    when not UTF-8), user data as base64. Everything valid is there."""
    import base64

    out: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        *parents, name = path.split("/")
        node = out
        for segment in parents:
            node = node.setdefault(segment, {})
        node[name] = value

    present = [c for c in CATEGORIES if node_at(raw, c) is not None]
    for path, value in category_values(
        present, raw, failures, reveal_secrets=reveal_secrets
    ).items():
        if value is not None:
            put(path, value)
    user_data = node_at(raw, "user-data")
    if isinstance(user_data, bytes):
        put("user-data", base64.b64encode(user_data).decode("ascii"))

    def extra(node: RawNode) -> Any:
        if isinstance(node, dict):
            return {k: extra(v) for k, v in node.items()}
        try:
            return node.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(node).decode("ascii")

    for root in ("meta-data", "dynamic"):
        below = node_at(raw, root)
        if not isinstance(below, dict):
            continue
        for key, node in below.items():
            path = f"{root}/{key}"
            known = any(c == path or c.startswith(path + "/") for c in CATEGORIES)
            if not known and path not in failures:
                put(path, extra(node))
    return out
