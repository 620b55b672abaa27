"""The plain dump (``ec2imds._plain``, what ``ec2imds -a`` prints without pydantic) against
the models: the same JSON whenever it answers, and ``Unsure`` whenever the models refuse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ec2imds import IMDS, _plain, catalog
from ec2imds._categories import SHAPES
from ec2imds.errors import IMDSValidationError
from ec2imds.models import InstanceMetadata, dump, validate_raw
from ec2imds.simulator import IMDSSimulator
from tests.support.properties import examples

REFUSED = object()
UNSURE = object()


def by_models(raw: Any, *, reveal: bool = True) -> Any:
    try:
        return dump(validate_raw(InstanceMetadata, raw, path=""), reveal_secrets=reveal)
    except IMDSValidationError:
        return REFUSED


def plainly(raw: Any, *, reveal: bool = True) -> Any:
    try:
        return _plain.dump("InstanceMetadata", raw, reveal_secrets=reveal)
    except _plain.Unsure:
        return UNSURE


def agree(raw: Any) -> Any:
    """The plain dump, checked: the models' own dump, or ``Unsure`` (never a value the
    models would refuse or dump differently); with secrets revealed and masked."""
    plain = plainly(raw)
    for reveal in (True, False):
        got = plainly(raw, reveal=reveal)
        assert (got is UNSURE) == (plain is UNSURE)
        if got is not UNSURE:
            assert got == by_models(raw, reveal=reveal)
            # the same key order too: the printed JSON is byte for byte the same
            assert json.dumps(got) == json.dumps(by_models(raw, reveal=reveal))
    return plain


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    with IMDSSimulator() as sim, IMDS(endpoints=[sim.endpoint]) as imds:
        raw = imds.raw_tree()
    assert isinstance(raw, dict)
    return raw


def test_the_default_instance_is_dumped_plainly_and_exactly(served: dict[str, Any]) -> None:
    assert agree(served) is not UNSURE


def _copy(node: Any) -> Any:
    return {k: _copy(v) for k, v in node.items()} if isinstance(node, dict) else node


def _put(tree: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``tree`` with ``value`` at ``path`` (unless a leaf is in the way)."""
    out: dict[str, Any] = _copy(tree)
    *parents, name = path.split("/")
    node = out
    for segment in parents:
        node = node.setdefault(segment, {})
        if not isinstance(node, dict):
            return out
    node[name] = value
    return out


def test_every_json_document_in_the_catalog_example_is_dumped_exactly(
    served: dict[str, Any],
) -> None:
    """Documents the default instance does not serve (spot, events, rebalance...)."""
    for entry in catalog.ENTRIES:
        if entry.kind != "json" or "{" in entry.path or entry.example is None:
            continue
        body = json.dumps(entry.example).encode()
        assert agree(_put(served, entry.path, body)) is not UNSURE, entry.path


def _identity_document() -> dict[str, Any]:
    """A copy of the catalog's example identity document (every key it requires)."""
    example = catalog.entry("dynamic/instance-identity/document").example
    assert isinstance(example, dict)
    return dict(example)


def test_a_field_given_by_its_python_name_is_left_to_the_models(served: dict[str, Any]) -> None:
    # A whole document (its keys are required), with one key given by its Python name.
    document = _identity_document()
    document["account_id"] = document.pop("accountId")
    raw = _put(served, "dynamic/instance-identity/document", json.dumps(document).encode())
    assert agree(raw) is UNSURE
    assert by_models(raw) is not REFUSED  # the models read it by name


def test_bad_values_are_left_to_the_models_which_name_them(served: dict[str, Any]) -> None:
    for path, body in [
        ("meta-data/ami-launch-index", b"one"),
        ("meta-data/local-ipv4", b"10.0.0.300"),
        ("meta-data/mac", b"\xff"),
        ("dynamic/instance-identity/document", b"{not json"),
        ("dynamic/instance-identity/document", b'{"architecture": "mips"}'),
        ("meta-data/iam/info", b'{"LastUpdated": "yesterday"}'),
        ("meta-data/iam/info", b'{"Code": 1}'),
    ]:
        raw = _put(served, path, body)
        assert agree(raw) is UNSURE, path
        assert by_models(raw) is REFUSED, path


def _without(tree: dict[str, Any], path: str) -> dict[str, Any]:
    """A copy of ``tree`` without the node at ``path``."""
    out: dict[str, Any] = _copy(tree)
    *parents, name = path.split("/")
    node = out
    for segment in parents:
        node = node[segment]
    del node[name]
    return out


def test_what_ec2_always_serves_and_tag_keys_are_left_to_the_models(
    served: dict[str, Any],
) -> None:
    """Values EC2 serves on every instance that are not there, and tag keys IMDS cannot
    list: the models refuse them (and name them), so the plain dump never vouches."""
    document = _identity_document()
    del document["accountId"]
    for raw in [
        _without(served, "meta-data/instance-id"),
        _without(served, "meta-data/placement/availability-zone"),
        _put(served, "dynamic/instance-identity/document", json.dumps(document).encode()),
        _put(served, "meta-data/tags/instance", {"bad key": b"v"}),
        _put(served, "meta-data/tags/instance", {"..": b"v"}),
        _put(served, "meta-data/tags/instance", {"a/b": b"v"}),
    ]:
        assert agree(raw) is UNSURE
        assert by_models(raw) is REFUSED


def test_secrets_are_masked_unless_revealed_as_the_models_do(served: dict[str, Any]) -> None:
    masked = json.dumps(agree(served) and plainly(served, reveal=False))
    revealed = json.dumps(plainly(served))
    secret = json.loads(served["meta-data"]["iam"]["security-credentials"]["my-app-role"])
    for key in ("SecretAccessKey", "Token"):
        assert secret[key] in revealed
        assert secret[key] not in masked
    assert '"SecretAccessKey": "**********"' in masked
    assert secret["AccessKeyId"] in masked  # not a secret


NAMES = sorted({s for e in catalog.ENTRIES for s in e.path.split("/") if s and "{" not in s})
JSON_KEYS = sorted({k for fields in SHAPES.values() for f in fields for k in f[:2]})
LEAVES = sorted(e.path for e in catalog.ENTRIES if e.is_leaf and "{" not in e.path)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(
        ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.5+02:00", "21 Jan 2019 09:00:43 GMT",
         " x ", "x86_64", "i386", "", "0001-01-01T00:00:00+01:00", "Success"]
    )
    | st.text(max_size=10),
    lambda kids: st.lists(kids, max_size=3)
    | st.dictionaries(st.sampled_from(JSON_KEYS) | st.text(max_size=5), kids, max_size=4),
    max_leaves=12,
)  # fmt: skip
documents = st.dictionaries(st.sampled_from(JSON_KEYS), json_values, max_size=6).map(
    lambda d: json.dumps(d).encode()
) | st.lists(st.dictionaries(st.sampled_from(JSON_KEYS), json_values, max_size=4)).map(
    lambda d: json.dumps(d).encode()
)
bodies = (
    st.binary(max_size=40)
    | st.sampled_from(
        [b" i-1 ", b"a\r\nb\r\n", b"10.0.0.1\n10.0.0.2", b"10.0.0.0/24", b"2600::1", b"12",
         b"+3", b"0e:49:61:0f:c3:11", b"2024-05-01T12:00:00Z", b"soon", b"\xff\xfe"]
    )
    | documents
)  # fmt: skip
raw_key = st.sampled_from(NAMES) | st.sampled_from(
    ["0=my-key", "0", "00", "1=k", "0e:49:61:0f:c3:11", "0E:49:61:0F:C3:11", "10.0.0.1", "x"]
)
subtrees = st.recursive(
    bodies, lambda kids: st.dictionaries(raw_key, kids, max_size=4), max_leaves=10
)


@settings(
    max_examples=examples(400),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(LEAVES) | st.sampled_from(NAMES), subtrees), max_size=4
    )
)
def test_changed_trees_dump_as_the_models_do_or_are_left_to_them(
    served: dict[str, Any], changes: list[tuple[str, Any]]
) -> None:
    raw = served
    for path, value in changes:
        raw = _put(raw, path, value)
    agree(raw)


@settings(max_examples=examples(200), deadline=None)
@given(raw=st.dictionaries(st.sampled_from(["meta-data", "dynamic", "x"]), subtrees, max_size=3))
def test_arbitrary_trees_dump_as_the_models_do_or_are_left_to_them(raw: dict[str, Any]) -> None:
    agree(raw)


def test_dash_a_imports_no_pydantic(tmp_path: Path) -> None:
    with IMDSSimulator() as sim:
        code = (
            "import sys, io, contextlib\n"
            "from ec2imds.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            f"    rc = main(['-a', '--imds={sim.host}:{sim.port}', '-t', {str(tmp_path)!r}])\n"
            "assert rc == 0, rc\n"
            "assert 'i-0123456789abcdef0' in out.getvalue()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'httpx')))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
