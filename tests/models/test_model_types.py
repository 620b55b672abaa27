"""Lazy views over a TreeSource: the requests they make, and the types mypy infers.

mypy checks the ``assert_type`` lines in the test command; pytest runs them against an
in-memory source that counts every call.
"""

from __future__ import annotations

import sys
from datetime import datetime
from ipaddress import IPv4Address, IPv6Network
from typing import Any, Literal, Optional, Union

import pytest
from pydantic import SecretStr

from ec2imds import models
from ec2imds.errors import IMDSValidationError
from ec2imds.models import (
    IamCredentials,
    IamInfo,
    InstanceIdentityDocument,
    InstanceMetadata,
    InstanceMetadataView,
    MaintenanceEvent,
    MapView,
    MetaData,
    NetworkInterface,
    NetworkInterfaceView,
    Placement,
    PlacementView,
    PublicKeyView,
    RawNode,
    Spot,
    TreeSource,
    View,
    validate_raw,
)
from ec2imds.simulator.instance import default_tree

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


MAC0 = "0e:49:61:0f:c3:11"
MAC1 = "0e:49:61:0f:c3:22"
ENI0 = f"meta-data/network/interfaces/macs/{MAC0}"


def to_raw(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: to_raw(v) for k, v in node.items()}
    return node if isinstance(node, bytes) else node.encode()


class FakeSource:
    """A dict-backed TreeSource that records every call as (method, path, volatile)."""

    def __init__(self, tree: Any = None) -> None:
        self.tree: Any = to_raw(default_tree() if tree is None else tree)
        self.calls: list[tuple[str, str, bool]] = []

    def _node(self, path: str) -> Any:
        node = self.tree
        for seg in path.split("/") if path else []:
            if not isinstance(node, dict):
                return None
            key = seg if seg in node else next((k for k in node if k.startswith(seg + "=")), None)
            if key is None:
                return None
            node = node[key]
        return node

    def leaf(self, path: str, *, volatile: bool) -> bytes | None:
        self.calls.append(("leaf", path, volatile))
        node = self._node(path)
        return node if isinstance(node, bytes) else None

    def listing(self, path: str, *, volatile: bool) -> list[str] | None:
        self.calls.append(("listing", path, volatile))
        node = self._node(path)
        if not isinstance(node, dict):
            return None
        # As IMDS lists: subdirectories end in "/", except public keys ("0=my-key").
        return [k if "=" in k or not isinstance(v, dict) else k + "/" for k, v in node.items()]

    def subtree(self, path: str, *, volatile: bool) -> RawNode | None:
        self.calls.append(("subtree", path, volatile))
        node: RawNode | None = self._node(path)
        return node


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def view(source: FakeSource) -> InstanceMetadataView:
    typed: TreeSource = source  # FakeSource satisfies the protocol (checked by mypy)
    return InstanceMetadataView(typed)


def test_a_leaf_is_one_get_with_its_path_and_volatility(
    source: FakeSource, view: InstanceMetadataView
) -> None:
    assert view.meta_data.placement.region == "us-east-1"
    assert source.calls == [("leaf", "meta-data/placement/region", False)]
    source.calls.clear()
    assert view.meta_data.security_groups == ["web", "default"]
    assert view.meta_data.instance_action == "none"
    assert source.calls == [
        ("leaf", "meta-data/security-groups", True),
        ("leaf", "meta-data/instance-action", True),
    ]


def test_group_access_makes_no_request(source: FakeSource, view: InstanceMetadataView) -> None:
    group = view.meta_data.network.interfaces
    _ = view.dynamic.instance_identity
    _ = view.meta_data.identity_credentials.ec2.security_credentials
    assert source.calls == []
    assert group.path == "meta-data/network/interfaces"
    assert "meta-data/network/interfaces" in repr(group)


def test_a_leaf_is_read_again_each_time(source: FakeSource, view: InstanceMetadataView) -> None:
    placement = view.meta_data.placement
    assert placement.region == placement.region
    assert len(source.calls) == 2  # caching is the source's business, not the view's


def test_views_parse_like_the_model(source: FakeSource, view: InstanceMetadataView) -> None:
    model = validate_raw(InstanceMetadata, source.tree, path="")
    assert model.meta_data is not None
    assert model.meta_data.network is not None
    assert model.meta_data.network.interfaces is not None
    eni = model.meta_data.network.interfaces.macs[MAC0]
    eni_view = view.meta_data.network.interfaces.macs[MAC0]
    for name in NetworkInterface.model_fields:
        if name != "ipv4_associations":
            assert getattr(eni_view, name) == getattr(eni, name), name
    assert dict(eni_view.ipv4_associations) == eni.ipv4_associations
    assert view.dynamic.instance_identity.document == model.dynamic.instance_identity.document
    assert view.user_data == model.user_data


def test_dir_map_lists_once_and_children_lazily(
    source: FakeSource, view: InstanceMetadataView
) -> None:
    macs = view.meta_data.network.interfaces.macs
    assert source.calls == []
    assert list(macs) == [MAC0, MAC1]
    assert len(macs) == 2
    assert MAC1 in macs
    assert "0e:00:00:00:00:00" not in macs
    eni = macs[MAC1]
    assert isinstance(eni, NetworkInterfaceView)
    assert eni.path == f"meta-data/network/interfaces/macs/{MAC1}"
    # ENIs can be attached and detached at run time: the listing is never cached.
    assert source.calls == [("listing", "meta-data/network/interfaces/macs", True)]
    source.calls.clear()
    assert eni.device_number == 1
    assert eni.security_group_ids == ["sg-0a1b2c3d4e5f60003"]
    assert source.calls == [
        ("leaf", f"meta-data/network/interfaces/macs/{MAC1}/device-number", False),
        ("leaf", f"meta-data/network/interfaces/macs/{MAC1}/security-group-ids", True),
    ]
    with pytest.raises(KeyError):
        macs["0e:00:00:00:00:00"]


def test_leaf_map_fetches_values_lazily(source: FakeSource, view: InstanceMetadataView) -> None:
    tags = view.meta_data.tags.instance
    assert sorted(tags) == ["Environment", "Name", "Team"]
    assert source.calls == [("listing", "meta-data/tags/instance", True)]
    source.calls.clear()
    assert tags["Name"] == "web-1"
    assert source.calls == [("leaf", "meta-data/tags/instance/Name", True)]
    assert dict(tags) == {"Environment": "prod", "Name": "web-1", "Team": "platform"}
    assocs = view.meta_data.network.interfaces.macs[MAC0].ipv4_associations
    assert dict(assocs) == {IPv4Address("54.210.1.23"): [IPv4Address("10.0.1.23")]}
    assert view.meta_data.block_device_mapping["ephemeral0"] == "sdb"


def test_public_keys_by_index_with_names_from_the_listing(
    source: FakeSource, view: InstanceMetadataView
) -> None:
    keys = view.meta_data.public_keys
    assert list(keys) == [0, 1]
    first = keys[0]
    assert isinstance(first, PublicKeyView)
    assert first.name == "my-key"
    assert keys[1].name == "other-key"
    assert source.calls == [("listing", "meta-data/public-keys", False)]
    source.calls.clear()
    key = first.openssh_key
    assert key is not None
    assert key.startswith("ssh-rsa ")
    assert source.calls == [("leaf", "meta-data/public-keys/0/openssh-key", False)]
    source.calls.clear()
    loaded = first.load()
    assert loaded.name == "my-key"  # from the listing, not the subtree
    assert loaded.openssh_key == key
    assert source.calls == [("subtree", "meta-data/public-keys/0", False)]


def test_credentials_map(source: FakeSource, view: InstanceMetadataView) -> None:
    creds = view.meta_data.iam.security_credentials["my-app-role"]
    assert isinstance(creds, IamCredentials)
    assert isinstance(creds.token, SecretStr)
    assert source.calls == [
        ("listing", "meta-data/iam/security-credentials", True),
        ("leaf", "meta-data/iam/security-credentials/my-app-role", True),
    ]


def test_absent_is_none_or_empty(source: FakeSource, view: InstanceMetadataView) -> None:
    assert view.meta_data.spot.instance_action is None
    assert view.meta_data.spot.termination_time is None
    assert view.meta_data.placement.group_name is None
    assert len(view.meta_data.elastic_gpus.associations) == 0
    assert dict(view.meta_data.network.interfaces.macs[MAC1].ipv4_associations) == {}
    assert view.meta_data.spot.load() == Spot()


def test_a_listed_leaf_that_vanished_is_a_key_error(source: FakeSource) -> None:
    tags = InstanceMetadataView(source).meta_data.tags.instance
    assert "Team" in tags
    del source.tree["meta-data"]["tags"]["instance"]["Team"]
    with pytest.raises(KeyError):
        tags["Team"]


def test_bad_leaf_names_its_path(source: FakeSource, view: InstanceMetadataView) -> None:
    source.tree["meta-data"]["network"]["interfaces"]["macs"][MAC0]["device-number"] = b"zero"
    with pytest.raises(IMDSValidationError) as info:
        _ = view.meta_data.network.interfaces.macs[MAC0].device_number
    assert info.value.path == f"{ENI0}/device-number"
    assert str(info.value) == f"{ENI0}/device-number: 'zero' is not an integer"


def test_bad_map_key_names_its_path(source: FakeSource, view: InstanceMetadataView) -> None:
    macs = source.tree["meta-data"]["network"]["interfaces"]["macs"]
    macs["garbage"] = {}
    with pytest.raises(IMDSValidationError) as info:
        list(view.meta_data.network.interfaces.macs)
    assert info.value.path == "meta-data/network/interfaces/macs/garbage"


def test_load_fetches_the_subtree_once(source: FakeSource, view: InstanceMetadataView) -> None:
    placement = view.meta_data.placement.load()
    assert placement == Placement.model_validate(
        {
            "availability-zone": "us-east-1a",
            "availability-zone-id": "use1-az4",
            "region": "us-east-1",
        }
    )
    assert source.calls == [("subtree", "meta-data/placement", False)]
    source.calls.clear()
    meta = view.meta_data.load()
    assert source.calls == [("subtree", "meta-data", True)]  # holds volatile parts
    assert meta == validate_raw(MetaData, source.tree["meta-data"], path="meta-data")
    eni = view.meta_data.network.interfaces.macs[MAC1].load()
    assert eni.device_number == 1
    assert view.load() == validate_raw(InstanceMetadata, source.tree, path="")


def test_load_of_a_bad_subtree_names_the_leaf(source: FakeSource) -> None:
    source.tree["meta-data"]["placement"]["partition-number"] = b"x"
    with pytest.raises(IMDSValidationError) as info:
        InstanceMetadataView(source).meta_data.placement.load()
    assert info.value.path == "meta-data/placement/partition-number"


def test_every_model_field_has_a_view_property() -> None:
    for name in models.__all__:
        cls = getattr(models, name)
        if isinstance(cls, type) and issubclass(cls, View) and cls is not View:
            for field in cls.__model__.model_fields:
                assert isinstance(getattr(cls, field), property), f"{name}.{field}"
            assert isinstance(cls.__dict__["load"], object)


def test_default_paths(source: FakeSource) -> None:
    assert InstanceMetadataView(source).path == ""
    assert PlacementView(source).path == "meta-data/placement"
    assert PlacementView(source, "elsewhere").path == "elsewhere"


def test_inferred_types(view: InstanceMetadataView) -> None:
    md = view.meta_data
    eni = md.network.interfaces.macs[MAC0]
    assert_type(md.placement.region, Optional[str])
    assert_type(md.ami_launch_index, int)
    assert_type(md.instance_id, str)
    assert_type(md.instance_type, str)
    assert_type(md.ami_id, str)
    assert_type(md.placement.availability_zone, str)
    assert_type(md.local_ipv4, Optional[IPv4Address])
    assert_type(md.security_groups, list[str])
    assert_type(md.network.interfaces.macs, MapView[str, NetworkInterfaceView])
    assert_type(eni, NetworkInterfaceView)
    assert_type(eni.device_number, Optional[int])
    assert_type(eni.ipv6_prefix, Optional[list[IPv6Network]])
    assert_type(eni.ipv4_associations, MapView[IPv4Address, list[IPv4Address]])
    assert_type(md.iam.info, Optional[IamInfo])
    assert_type(md.iam.security_credentials["my-app-role"], IamCredentials)
    assert_type(md.iam.security_credentials["my-app-role"].token, Optional[SecretStr])
    assert_type(md.tags.instance["Name"], str)
    assert_type(md.public_keys[0], PublicKeyView)
    assert_type(md.public_keys[0].name, Optional[str])
    assert_type(md.events.maintenance.history, Optional[list[MaintenanceEvent]])
    assert_type(md.spot.termination_time, Union[datetime, str, None])
    assert_type(view.dynamic.instance_identity.document, InstanceIdentityDocument)
    assert_type(view.user_data, Optional[bytes])
    assert_type(md.placement.load(), Placement)
    loaded = view.load()
    assert_type(loaded, InstanceMetadata)
    assert_type(loaded.meta_data, MetaData)
    assert eni.device_number == 0
    assert_type(loaded.meta_data.public_keys, dict[int, models.PublicKey])
    assert_type(loaded.meta_data.network, models.Network)
    # Reaching an ENI through the loaded model takes no None check: EC2 always serves it.
    assert_type(loaded.meta_data.network.interfaces.macs[MAC0], NetworkInterface)
    doc = view.dynamic.instance_identity.document
    assert_type(doc.architecture, Literal["i386", "x86_64", "arm64"])
    assert_type(doc.pending_time, datetime)
    assert_type(doc.region, str)
    assert_type(doc.kernel_id, Optional[str])
