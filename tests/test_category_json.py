"""Categories and their values: the fast (no pydantic) leaf path equals the model path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ec2imds import _category_json
from ec2imds._categories import CATEGORIES
from ec2imds.errors import IMDSValidationError
from ec2imds.simulator.instance import default_tree

SIMPLE = [p for p in CATEGORIES if _category_json.is_simple(p)]
ODD_BODIES = [
    b"",
    b"  padded \n",
    b"\xff\xfe",
    b"zero",
    b"-5",
    b"1\n2\r\n\n3\n",
    b"10.0.1.23",
    b"2600:1f18::a1",
    b"0e:49:61:0f:c3:11",
    b"x" * 5000,
    b"a\x00b",
]


def _outcome(fn: object, path: str, body: bytes) -> tuple[str, object]:
    assert callable(fn)
    try:
        return "ok", fn(path, body)
    except IMDSValidationError as exc:
        return "error", str(exc)


def _default_body(path: str) -> bytes | None:
    node: object = default_tree()
    for segment in path.split("/"):
        node = node.get(segment) if isinstance(node, dict) else None
    if node is None:
        return None
    assert isinstance(node, (str, bytes))
    return node.encode() if isinstance(node, str) else node


def test_categories_are_sorted_unique_and_concrete() -> None:
    cats = list(CATEGORIES)
    assert cats == sorted(set(cats))
    assert not any("{" in c for c in cats)
    assert "user-data" not in cats
    assert len(SIMPLE) > 30  # most categories take the fast path


def test_aliases_of_0_0_3_resolve_to_dynamic() -> None:
    assert _category_json.resolve_category("meta-data/instance-identity/document") == (
        "dynamic/instance-identity/document"
    )
    assert _category_json.resolve_category("/meta-data/ami-id/") == "meta-data/ami-id"
    assert _category_json.resolve_category("meta-data/nope") is None


@pytest.mark.parametrize("path", SIMPLE)
def test_fast_leaf_equals_model_on_the_default_instance(path: str) -> None:
    body = _default_body(path)
    assert _category_json.leaf_to_json(path, body) == _category_json.to_json(path, body)


@pytest.mark.parametrize("body", ODD_BODIES)
@pytest.mark.parametrize("path", SIMPLE)
def test_fast_leaf_equals_model_on_odd_bodies(path: str, body: bytes) -> None:
    assert _outcome(_category_json.leaf_to_json, path, body) == _outcome(
        _category_json.to_json, path, body
    )


@given(st.sampled_from(SIMPLE), st.binary(max_size=200))
def test_fast_leaf_equals_model_on_any_bytes(path: str, body: bytes) -> None:
    assert _outcome(_category_json.leaf_to_json, path, body) == _outcome(
        _category_json.to_json, path, body
    )


def _raw(node: object) -> object:
    if isinstance(node, dict):
        return {k: _raw(v) for k, v in node.items()}
    assert isinstance(node, (str, bytes))
    return node.encode() if isinstance(node, str) else node


def test_all_at_once_equals_one_by_one_on_the_default_instance() -> None:
    tree = _raw(default_tree())
    nodes = {}
    for path in CATEGORIES:
        node: object = tree
        for segment in path.split("/"):
            node = node.get(segment) if isinstance(node, dict) else None
        nodes[path] = node
    assert any(v is None for v in nodes.values())  # absent categories are part of the test
    at_once = _category_json.tree_to_json(nodes)
    assert at_once == {p: _category_json.to_json(p, n) for p, n in nodes.items()}


def test_all_at_once_raises_on_a_bad_body() -> None:
    with pytest.raises(IMDSValidationError, match="meta-data/ami-launch-index"):
        _category_json.tree_to_json(
            {"meta-data/ami-launch-index": b"zero", "meta-data/ami-id": b"ami-1"}
        )
