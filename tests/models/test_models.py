"""The models: validating raw trees and dumps, leaf parsers, errors that name the IMDS path."""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime, timezone
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr, ValidationError

from ec2imds import catalog, models
from ec2imds.catalog import default_tree, match
from ec2imds.errors import IMDSValidationError
from ec2imds.models import (
    IamCredentials,
    IMDSModel,
    InstanceMetadata,
    MaintenanceEvent,
    NetworkInterface,
    Placement,
    dump,
    validate_raw,
    validate_value,
)
from ec2imds.models import _types as leaf
from ec2imds.models import _validation as validation
from tests.helpers import examples

UTC = timezone.utc  # datetime.UTC is 3.11+
MAC0 = "0e:49:61:0f:c3:11"
MAC1 = "0e:49:61:0f:c3:22"


def to_raw(node: Any) -> Any:
    """The simulator's tree → the raw tree a crawl produces (bytes leaves)."""
    if isinstance(node, dict):
        return {k: to_raw(v) for k, v in node.items()}
    return node if isinstance(node, bytes) else node.encode()


@pytest.fixture
def raw() -> Any:
    return to_raw(default_tree())


@pytest.fixture
def meta(raw: Any) -> InstanceMetadata:
    return validate_raw(InstanceMetadata, raw, path="")


def at(tree: Any, path: str) -> Any:
    for seg in path.split("/"):
        tree = tree[seg]
    return tree


def put(tree: Any, path: str, value: Any) -> None:
    *parents, last = path.split("/")
    for seg in parents:
        tree = tree[seg]
    tree[last] = value


# -- the default instance --------------------------------------------------------------
def test_default_tree_validates_into_typed_values(meta: InstanceMetadata) -> None:
    md = meta.meta_data
    assert md is not None
    assert md.instance_id == "i-0123456789abcdef0"
    assert md.ami_launch_index == 0
    assert md.local_ipv4 == IPv4Address("10.0.1.23")
    assert md.ipv6 == IPv6Address("2600:1f18:1234:5601::a1")
    assert md.security_groups == ["web", "default"]
    assert md.placement is not None
    assert md.placement.region == "us-east-1"
    assert md.placement.group_name is None
    eni = md.network.interfaces.macs[MAC0]
    assert eni.device_number == 0
    assert eni.local_ipv4s == [IPv4Address("10.0.1.23"), IPv4Address("10.0.1.24")]
    assert eni.ipv4_prefix == [IPv4Network("10.0.1.48/28")]
    assert eni.ipv6_prefix == [IPv6Network("2600:1f18:1234:5601:1::/80")]
    assert eni.subnet_ipv4_cidr_block == IPv4Network("10.0.1.0/24")
    assert eni.ipv4_associations == {IPv4Address("54.210.1.23"): [IPv4Address("10.0.1.23")]}
    eni1 = md.network.interfaces.macs[MAC1]
    assert eni1.device_number == 1
    assert eni1.public_ipv4s is None
    assert eni1.ipv4_associations == {}
    assert md.tags is not None
    assert md.tags.instance == {"Environment": "prod", "Name": "web-1", "Team": "platform"}
    assert md.public_keys[0].name == "my-key"
    assert md.public_keys[1].openssh_key is not None
    assert md.public_keys[1].openssh_key.startswith("ssh-ed25519")
    assert md.block_device_mapping["root"] == "/dev/xvda"
    assert md.spot is None
    assert md.kernel_id is None
    assert md.elastic_gpus is None


def test_default_tree_json_documents(meta: InstanceMetadata) -> None:
    md = meta.meta_data
    assert md is not None
    assert md.iam is not None
    creds = md.iam.security_credentials["my-app-role"]
    assert isinstance(creds, IamCredentials)
    assert creds.code == "Success"
    assert creds.expiration == datetime(2024, 5, 1, 18, tzinfo=UTC)
    assert isinstance(creds.secret_access_key, SecretStr)
    assert creds.token is not None
    assert creds.token.get_secret_value().startswith("IQoJ")
    assert md.iam.security_credentials_extended["my-app-role"].account_id == "123456789012"
    assert md.iam.info is not None
    assert md.iam.info.instance_profile_arn is not None
    assert md.identity_credentials is not None
    assert md.identity_credentials.ec2 is not None
    assert md.identity_credentials.ec2.info is not None
    assert md.identity_credentials.ec2.info.account_id == "123456789012"
    assert md.events is not None
    assert md.events.maintenance is not None
    assert md.events.maintenance.scheduled == []
    (event,) = md.events.maintenance.history or []
    assert event.not_before == datetime(2019, 1, 21, 9, 0, 43, tzinfo=UTC)
    assert event.not_before_deadline is None
    assert meta.dynamic is not None
    assert meta.dynamic.instance_identity is not None
    doc = meta.dynamic.instance_identity.document
    assert doc is not None
    assert doc.architecture == "x86_64"
    assert doc.kernel_id is None
    assert doc.pending_time == datetime(2024, 5, 1, 11, 58, 12, tzinfo=UTC)
    assert meta.user_data == default_tree()["user-data"]


def reference(node: Any, path: str) -> Any:
    """Parse a raw tree leaf by leaf from the catalog's kinds alone (not the models)."""
    if isinstance(node, dict):
        return {k: reference(v, f"{path}/{k}" if path else k) for k, v in node.items()}
    hit = match(path)
    if hit is None:
        return node.decode()
    entry = hit[0]
    text = node.decode() if entry.kind != "bytes" else ""
    if entry.kind == "bytes":
        return base64.b64encode(node).decode()
    if entry.kind == "int":
        return int(text)
    if entry.kind == "lines":
        return [s.strip() for s in text.splitlines() if s.strip()]
    if entry.kind == "json":
        return json.loads(text)
    return text if entry.exact else text.strip()


def test_dump_is_the_raw_tree_parsed_leaf_by_leaf(raw: Any, meta: InstanceMetadata) -> None:
    assert dump(meta, reveal_secrets=True) == reference(raw, "")


def test_unknown_paths_are_kept(raw: Any) -> None:
    put(raw, "meta-data/brand-new-leaf", b"hello\n")
    put(raw, "meta-data/placement/new-thing", b"x")
    put(raw, "meta-data/new-dir", {"a": b"1", "b": {"c": b"\xff\x00"}})
    document = json.loads(at(raw, "dynamic/instance-identity/document"))
    put(raw, "dynamic/instance-identity/document", json.dumps({**document, "newKey": [1]}).encode())
    meta = validate_raw(InstanceMetadata, raw, path="")
    out = dump(meta, reveal_secrets=True)
    assert out["meta-data"]["brand-new-leaf"] == "hello\n"
    assert out["meta-data"]["placement"]["new-thing"] == "x"
    assert out["meta-data"]["new-dir"]["a"] == "1"
    assert base64.urlsafe_b64decode(out["meta-data"]["new-dir"]["b"]["c"]) == b"\xff\x00"
    assert out["dynamic"]["instance-identity"]["document"]["newKey"] == [1]
    assert meta.meta_data is not None
    assert meta.meta_data.model_extra == {
        "brand-new-leaf": "hello\n",
        "new-dir": {"a": "1", "b": {"c": b"\xff\x00"}},
    }


def test_dump_round_trips_through_json(meta: InstanceMetadata) -> None:
    text = json.dumps(dump(meta, reveal_secrets=True))
    again = InstanceMetadata.model_validate(json.loads(text))
    assert again == meta
    assert dump(again, reveal_secrets=True) == dump(meta, reveal_secrets=True)


def test_absent_paths_are_none_or_empty(raw: Any) -> None:
    md = raw["meta-data"]
    for name in ("public-keys", "events", "iam", "tags"):
        del md[name]
    del md["placement"]["region"]
    del raw["user-data"]
    meta = validate_raw(InstanceMetadata, raw, path="")
    assert meta.meta_data.placement.region is None
    assert meta.meta_data.events is None
    assert meta.meta_data.public_keys == {}
    assert meta.meta_data.tags is None
    assert meta.user_data is None
    assert "public-keys" not in dump(meta)["meta-data"]
    assert validate_raw(NetworkInterface, {}, path="x").local_ipv4s is None


@pytest.mark.parametrize(
    "path",
    [
        "meta-data/instance-id",
        "meta-data/placement/availability-zone",
        "meta-data/block-device-mapping",
        "meta-data/network",
        "dynamic/instance-identity/document",
        "meta-data",
    ],
)
def test_a_missing_always_present_value_is_an_error_naming_it(raw: Any, path: str) -> None:
    *parents, name = path.split("/")
    del (at(raw, "/".join(parents)) if parents else raw)[name]
    with pytest.raises(IMDSValidationError) as info:
        validate_raw(InstanceMetadata, raw, path="")
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: missing, but EC2 serves it on every instance")
    assert info.value.value is None


def test_the_identity_documents_always_present_keys_are_required(raw: Any) -> None:
    document = json.loads(at(raw, "dynamic/instance-identity/document"))
    del document["region"]
    put(raw, "dynamic/instance-identity/document", json.dumps(document).encode())
    with pytest.raises(IMDSValidationError) as info:
        validate_raw(InstanceMetadata, raw, path="")
    assert info.value.path == "dynamic/instance-identity/document"
    assert "region: missing, but EC2 serves it on every instance" in str(info.value)
    del document["kernelId"]  # optional: may be null or absent
    document["region"] = "us-east-1"
    put(raw, "dynamic/instance-identity/document", json.dumps(document).encode())
    assert validate_raw(InstanceMetadata, raw, path="").dynamic.instance_identity.document.region


def test_iam_error_body_is_valid(raw: Any) -> None:
    body = b'{"Code": "AssumeRoleUnauthorizedAccess", "Message": "EC2 cannot assume the role"}'
    raw["meta-data"]["iam"]["security-credentials"] = {"r": body}
    meta = validate_raw(InstanceMetadata, raw, path="")
    creds = meta.meta_data.iam.security_credentials["r"]  # type: ignore[union-attr]
    assert creds.code == "AssumeRoleUnauthorizedAccess"
    assert creds.access_key_id is None
    assert creds.secret_access_key is None


# -- secrets ---------------------------------------------------------------------------
def test_secrets_are_never_printed(meta: InstanceMetadata) -> None:
    creds = meta.meta_data.iam.security_credentials["my-app-role"]  # type: ignore[union-attr]
    assert creds.secret_access_key is not None
    assert creds.token is not None
    secret = creds.secret_access_key.get_secret_value()
    token = creds.token.get_secret_value()
    for text in (
        repr(creds),
        str(creds),
        repr(meta),
        creds.model_dump_json(),
        meta.model_dump_json(),
        json.dumps(dump(meta)),
    ):
        assert secret not in text
        assert token not in text
    assert dump(creds, reveal_secrets=True)["SecretAccessKey"] == secret
    assert dump(creds)["SecretAccessKey"] == "**********"


# -- model conventions -----------------------------------------------------------------
def all_models() -> list[type[IMDSModel]]:
    found = [getattr(models, n) for n in models.__all__]
    return [
        m for m in found if isinstance(m, type) and issubclass(m, IMDSModel) and m is not IMDSModel
    ]


def test_every_model_carries_its_path_volatility_and_descriptions() -> None:
    shapes = {s.name: s for s in catalog.JSON_SHAPES}
    dirs = {e.model: e for e in catalog.ENTRIES if e.kind == "dir"}
    # Primary<Model>: the entry of a keyed directory a leaf names (meta-data/mac's interface)
    for key in (e for e in catalog.ENTRIES if e.primary):
        (item,) = (e for e in catalog.ENTRIES if e.parent == key.primary)
        dirs[f"Primary{item.model}"] = item
    assert {m.__name__ for m in all_models()} == set(shapes) | set(dirs)
    for model in all_models():
        source = dirs.get(model.__name__) or shapes[model.__name__]
        assert model.__imds_path__ == source.path
        assert isinstance(model.__imds_volatile__, bool)
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name}"
            if "_" in name or name != name.lower():
                assert info.alias, f"{model.__name__}.{name}"
    assert models.Spot.__imds_volatile__
    assert models.Tags.__imds_volatile__
    assert not Placement.__imds_volatile__
    assert models.MetaData.__imds_volatile__  # contains volatile parts


def test_models_are_frozen_and_accept_names_or_aliases() -> None:
    by_alias = Placement.model_validate({"availability-zone": b"us-east-1a"})
    by_name = Placement.model_validate({"availability_zone": "us-east-1a"})
    assert by_alias == by_name
    with pytest.raises(ValidationError):
        by_alias.region = "x"  # type: ignore[misc]


def test_architecture_is_a_closed_set() -> None:
    document = catalog.entry("dynamic/instance-identity/document").example
    assert isinstance(document, dict)
    with pytest.raises(IMDSValidationError, match="architecture"):
        validate_raw(
            models.InstanceIdentityDocument, {**document, "architecture": "sparc"}, path="doc"
        )
    assert (
        validate_raw(
            models.InstanceIdentityDocument, {**document, "architecture": "arm64"}, path="doc"
        )
    ).architecture == "arm64"


# -- leaf parsers ----------------------------------------------------------------------
GOOD: list[tuple[Any, object, object]] = [
    (leaf.Text, b"  us-east-1\n", "us-east-1"),
    (leaf.Text, "already", "already"),
    (leaf.ExactText, b" spaced \n", " spaced \n"),
    (leaf.Int, b"42\n", 42),
    (leaf.Int, b"-3", -3),
    (leaf.Int, 7, 7),
    (leaf.Lines, b"a\r\nb\n\n c \n", ["a", "b", "c"]),
    (leaf.Lines, b"", []),
    (leaf.Lines, ["x", "y"], ["x", "y"]),
    (leaf.IPv4, b"10.0.0.1", IPv4Address("10.0.0.1")),
    (leaf.IPv6, b"2600:1f18::1\n", IPv6Address("2600:1f18::1")),
    (leaf.IPv4Net, b"10.0.0.0/16", IPv4Network("10.0.0.0/16")),
    (leaf.IPv4Lines, b"10.0.0.1\n10.0.0.2\n", [IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2")]),
    (leaf.IPv4Lines, ["10.0.0.1"], [IPv4Address("10.0.0.1")]),
    (leaf.IPv6NetLines, b"2600::/56", [IPv6Network("2600::/56")]),
    (leaf.IPv4NetLines, b"10.0.1.48/28", [IPv4Network("10.0.1.48/28")]),
    (leaf.IPv6Lines, b"::1", [IPv6Address("::1")]),
    (leaf.MAC, b"0E:49:61:0f:c3:11", "0E:49:61:0f:c3:11"),
    (leaf.Timestamp, b"2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    (leaf.Timestamp, "2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    (leaf.IMDSTime, b"21 Jan 2019 09:00:43 GMT", datetime(2019, 1, 21, 9, 0, 43, tzinfo=UTC)),
    (leaf.IMDSTime, "2019-01-21T09:00:43Z", datetime(2019, 1, 21, 9, 0, 43, tzinfo=UTC)),
    (leaf.IMDSTime, "1 Feb 2020 00:00:00 GMT", datetime(2020, 2, 1, tzinfo=UTC)),
    (leaf.LenientTime, b"2024-05-01T14:32:00Z", datetime(2024, 5, 1, 14, 32, tzinfo=UTC)),
    (leaf.LenientTime, b"not-a-time", "not-a-time"),
    (leaf.Bytes, b"\x00\xff", b"\x00\xff"),
    (leaf.Bytes, "AP8=", b"\x00\xff"),
    (leaf.JsonObject, b'{"a": {"b": 1}}', {"a": {"b": 1}}),
    (leaf.JsonObject, {"a": 1}, {"a": 1}),
]


@pytest.mark.parametrize(("tp", "raw", "expected"), GOOD)
def test_leaf_parsers_accept_good_values(tp: object, raw: object, expected: object) -> None:
    assert validate_value(tp, raw, path="meta-data/x") == expected


def test_secret_parser() -> None:
    value = validate_value(leaf.Secret, b"s3cr3t\n", path="p")
    assert isinstance(value, SecretStr)
    assert value.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(value)


BAD: list[tuple[Any, object, str]] = [
    (leaf.Int, b"abc", "'abc' is not an integer"),
    (leaf.Int, b"1.5", "is not an integer"),
    (leaf.Int, b"1_000", "is not an integer"),
    (leaf.Int, b"", "is not an integer"),
    (leaf.Int, True, "is not text"),
    (leaf.Text, b"\xff\xfe", "is not valid UTF-8"),
    (leaf.Text, 12, "is not text"),
    (leaf.Lines, b"ok\n\xff", "is not valid UTF-8"),
    (leaf.IPv4, b"10.0.0.256", "is not an IPv4 address"),
    (leaf.IPv4, b"::1", "is not an IPv4 address"),
    (leaf.IPv6, b"10.0.0.1", "is not an IPv6 address"),
    (leaf.IPv4Net, b"10.0.0.1/16", "is not an IPv4 CIDR block"),
    (leaf.IPv4Lines, b"10.0.0.1\nnope", "'nope' is not an IPv4 address"),
    (leaf.MAC, b"0e:49:61:0f:c3", "is not a MAC address"),
    (leaf.MAC, b"zz:49:61:0f:c3:11", "is not a MAC address"),
    (leaf.Timestamp, b"yesterday", "is not an ISO 8601 time"),
    (leaf.IMDSTime, b"32 Jan 2019 09:00:43 GMT", "is not a time like"),
    (leaf.IMDSTime, b"21 Foo 2019 09:00:43 GMT", "is not a time like"),
    (leaf.Bytes, "not base64!", "is not base64"),
    (leaf.Bytes, 5, "is not bytes"),
    (leaf.JsonObject, b"{nope", "is not a JSON document"),
    (leaf.JsonObject, b"[1, 2]", "is not a JSON object"),
    (leaf.JsonObject, b"[" * 100_000, "is not a JSON document"),
]


@pytest.mark.parametrize(("tp", "raw", "message"), BAD)
def test_leaf_parsers_reject_bad_values(tp: object, raw: object, message: str) -> None:
    with pytest.raises(IMDSValidationError) as info:
        validate_value(tp, raw, path="meta-data/some/leaf")
    assert str(info.value).startswith("meta-data/some/leaf: ")
    assert message in str(info.value)
    assert info.value.path == "meta-data/some/leaf"
    assert info.value.value == raw
    assert isinstance(info.value.__cause__, ValidationError)


# -- errors name the IMDS path ---------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (f"meta-data/network/interfaces/macs/{MAC0}/device-number", b"abc",
         f"meta-data/network/interfaces/macs/{MAC0}/device-number: 'abc' is not an integer"),
        ("meta-data/placement/region", b"\xc3\x28", "meta-data/placement/region: b'\\xc3("),
        (f"meta-data/network/interfaces/macs/{MAC1}/ipv4-prefix", b"10.0.2.64/33",
         f"macs/{MAC1}/ipv4-prefix: '10.0.2.64/33' is not an IPv4 CIDR block"),
        ("meta-data/iam/info", b'{"LastUpdated": "soon"}',
         "meta-data/iam/info: LastUpdated: 'soon' is not an ISO 8601 time"),
        ("meta-data/events/maintenance/history", b'[{"NotBefore": "tomorrow"}]',
         "meta-data/events/maintenance/history: 0.NotBefore: 'tomorrow' is not a time like"),
        ("meta-data/public-keys/0=my-key/openssh-key", b"\xff",
         "meta-data/public-keys/0/openssh-key: b'\\xff' is not valid UTF-8"),
        ("meta-data/tags/instance/Name", b"\xff", "meta-data/tags/instance/Name: "),
        ("meta-data/placement", b"a leaf where a directory belongs",
         "meta-data/placement: Input should be"),
        ("user-data", "not base64?", "user-data: 'not base64?' is not base64"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_path(raw: Any, path: str, value: Any, message: str) -> None:
    put(raw, path, value)
    with pytest.raises(IMDSValidationError) as info:
        validate_raw(InstanceMetadata, raw, path="")
    assert message in str(info.value)
    assert str(info.value).startswith(info.value.path + ":")
    assert info.value.path == path.replace("0=my-key", "0")


def test_validate_raw_on_a_subtree_prefixes_its_path() -> None:
    with pytest.raises(IMDSValidationError) as info:
        validate_raw(Placement, {"partition-number": b"two"}, path="meta-data/placement")
    assert info.value.path == "meta-data/placement/partition-number"
    assert info.value.value == b"two"


def test_validate_raw_bad_map_key() -> None:
    raw: dict[str, Any] = {"network": {"interfaces": {"macs": {"not-a-mac": {}}}}}
    with pytest.raises(IMDSValidationError) as info:
        validate_raw(models.MetaData, raw, path="meta-data")
    assert info.value.path == "meta-data/network/interfaces/macs/not-a-mac"
    assert "'not-a-mac' is not a MAC address" in str(info.value)


def test_maintenance_time_is_written_back_as_imds_does() -> None:
    history = catalog.entry("meta-data/events/maintenance/history").example
    assert isinstance(history, list)
    event = validate_raw(MaintenanceEvent, history[0], path="e")
    assert dump(event) == history[0]
    assert dump(event)["NotBefore"] == "21 Jan 2019 09:00:43 GMT"
    assert event.not_before.tzinfo is UTC


# -- hypothesis: nothing but a value or IMDSValidationError ----------------------------
LEAF_TYPES = [
    leaf.Text, leaf.ExactText, leaf.Int, leaf.Lines, leaf.IPv4, leaf.IPv6, leaf.IPv4Net,
    leaf.IPv4Lines, leaf.IPv6Lines, leaf.IPv4NetLines, leaf.IPv6NetLines, leaf.MAC,
    leaf.Timestamp, leaf.IMDSTime, leaf.LenientTime, leaf.Secret, leaf.Bytes, leaf.JsonObject,
    *[validation.field_type(m, n) for m in all_models() for n in m.model_fields],
]  # fmt: skip

leaf_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.sampled_from([b"\x00", b"1" * 5000, b"[" * 5000, b"x" * 20_000, b"\r\n\r\n", b"null"]),
)


@settings(max_examples=examples(300), deadline=None)
@given(tp=st.sampled_from(LEAF_TYPES), data=leaf_bytes)
def test_any_bytes_into_any_leaf_parser(tp: object, data: bytes) -> None:
    error: IMDSValidationError | None = None
    try:
        validate_value(tp, data, path="meta-data/x")
    except IMDSValidationError as exc:
        error = exc
    if error is not None:
        assert error.path.startswith("meta-data/x")


def leaf_paths(node: Any, prefix: str = "") -> list[str]:
    if not isinstance(node, dict):
        return [prefix]
    return [p for k, c in node.items() for p in leaf_paths(c, f"{prefix}/{k}" if prefix else k)]


LEAVES = sorted(leaf_paths(default_tree()))


@pytest.mark.slow
@settings(max_examples=examples(300), deadline=None)
@given(leaf=st.sampled_from(LEAVES), data=leaf_bytes)
def test_any_bytes_at_any_leaf_names_that_leaf(leaf: str, data: bytes) -> None:
    raw = to_raw(default_tree())
    put(raw, leaf, data)
    error: IMDSValidationError | None = None
    try:
        validate_raw(InstanceMetadata, raw, path="")
    except IMDSValidationError as exc:
        error = exc
    if error is not None:
        assert error.path == leaf.replace("=my-key", "").replace("=other-key", "")
        found = catalog.match(error.path)
        holds_credentials = found is not None and found[0].type in validation._SECRET_DOCUMENTS
        assert error.value == (None if holds_credentials else data)  # credentials withheld


names = sorted({seg for e in catalog.ENTRIES for seg in e.path.split("/") if seg} | {MAC0})
raw_trees = st.recursive(
    leaf_bytes,
    lambda kids: st.dictionaries(st.sampled_from(names) | st.text(max_size=8), kids, max_size=6),
    max_leaves=25,
)


@pytest.mark.slow
@settings(max_examples=examples(300), deadline=None)
@given(tree=st.dictionaries(st.sampled_from(["meta-data", "dynamic", "user-data"]), raw_trees))
def test_any_raw_tree_validates_or_raises_imds_validation_error(tree: Any) -> None:
    snapshot = copy.deepcopy(tree)
    meta: InstanceMetadata | None = None
    error: IMDSValidationError | None = None
    try:
        meta = validate_raw(InstanceMetadata, tree, path="")
    except IMDSValidationError as exc:
        error = exc
    if error is not None:
        assert isinstance(error.__cause__, ValidationError)
    else:
        assert isinstance(meta, BaseModel)
        json.dumps(dump(meta, reveal_secrets=True))  # every valid tree can be dumped
    assert tree == snapshot  # validation never mutates the input
