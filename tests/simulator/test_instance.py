"""The simulator's default instance (``ec2imds/simulator/instance.py``): built from the
catalog's examples, complete, consistent, sorted as IMDS lists, and signed."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from ec2imds._pathmatch import match
from ec2imds.catalog import ENTRIES, Node
from ec2imds.simulator.instance import default_tree


def get(tree: Any, path: str) -> Any:
    node = tree
    for seg in path.split("/"):
        node = node[seg]
    return node


def leaf_paths(tree: Node, prefix: str = "") -> dict[str, Node]:
    out: dict[str, Node] = {}
    if isinstance(tree, dict):
        for key, child in tree.items():
            out |= leaf_paths(child, f"{prefix}/{key}" if prefix else key)
    else:
        out[prefix] = tree
    return out


def test_every_entry_is_in_the_default_tree_or_flagged_absent_with_an_example() -> None:
    tree = default_tree()
    served = {match(p)[0].path for p in leaf_paths(tree)}  # type: ignore[index]
    for e in ENTRIES:
        if not e.is_leaf:
            continue
        if e.absent_by_default:
            assert e.example is not None, f"{e.path}: absent by default needs an example"
            assert e.path not in served, e.path
        else:
            assert e.path in served, f"{e.path}: no example in the default tree"


def test_every_default_leaf_is_a_catalog_entry() -> None:
    for path in leaf_paths(default_tree()):
        hit = match(path)
        assert hit is not None, path
        assert hit[0].is_leaf, path


def test_default_tree_format() -> None:
    tree = default_tree()
    assert list(tree) == ["dynamic", "meta-data", "user-data"]
    assert isinstance(tree["user-data"], bytes)
    for path, value in leaf_paths(tree).items():
        if path != "user-data":
            assert isinstance(value, str), path

    def check_sorted(node: Node) -> None:
        if isinstance(node, dict):
            assert list(node) == sorted(node)
            for child in node.values():
                check_sorted(child)

    check_sorted(tree)
    keys = get(tree, "meta-data/public-keys")
    assert list(keys) == ["0=my-key", "1=other-key"]
    assert keys["0=my-key"]["openssh-key"].startswith("ssh-rsa ")
    assert keys["1=other-key"]["openssh-key"].startswith("ssh-ed25519 ")


def test_default_tree_is_a_fresh_copy() -> None:
    first = default_tree()
    placement = get(first, "meta-data/placement")
    placement["region"] = "changed"
    assert get(default_tree(), "meta-data/placement/region") == "us-east-1"


def test_default_instance_is_consistent() -> None:
    tree = default_tree()
    md = tree["meta-data"]
    doc = json.loads(get(tree, "dynamic/instance-identity/document"))
    macs = get(md, "network/interfaces/macs")
    assert len(macs) == 2
    eni0 = macs[get(md, "mac")]
    assert doc["instanceId"] == get(md, "instance-id")
    assert doc["region"] == get(md, "placement/region")
    assert doc["availabilityZone"] == get(md, "placement/availability-zone")
    assert doc["availabilityZone"].startswith(doc["region"])
    assert doc["imageId"] == get(md, "ami-id")
    assert doc["instanceType"] == get(md, "instance-type")
    assert doc["privateIp"] == get(md, "local-ipv4") == eni0["local-ipv4s"].splitlines()[0]
    assert doc["accountId"] == eni0["owner-id"]
    assert doc["architecture"] in ("i386", "x86_64", "arm64")
    assert eni0["device-number"] == "0"
    assert get(md, "ipv6") == eni0["ipv6s"].splitlines()[0]
    assert get(md, "public-ipv4") == eni0["public-ipv4s"]
    assert eni0["ipv4-associations"] == {get(md, "public-ipv4"): get(md, "local-ipv4")}
    assert get(md, "security-groups") == eni0["security-groups"]
    for mac, eni in macs.items():
        assert eni["mac"] == mac
        for key in ("ipv4-prefix", "ipv6-prefix", "ipv6s", "security-group-ids"):
            assert eni[key], (mac, key)
    assert len({eni["device-number"] for eni in macs.values()}) == 2
    assert len({eni["interface-id"] for eni in macs.values()}) == 2
    creds = json.loads(get(md, "iam/security-credentials-extended/my-app-role"))
    assert creds["AccountId"] == doc["accountId"]
    assert list(get(md, "iam/security-credentials")) == ["my-app-role"]
    info = json.loads(get(md, "iam/info"))
    assert info["InstanceProfileArn"].split(":")[4] == doc["accountId"]
    ident = json.loads(get(md, "identity-credentials/ec2/info"))
    assert ident["AccountId"] == doc["accountId"]
    assert 2 <= len(get(md, "tags/instance")) <= 3
    assert {"ami", "root", "ephemeral0"} <= set(get(md, "block-device-mapping"))


def test_default_events_and_absent_volatile_categories() -> None:
    md = default_tree()["meta-data"]
    assert isinstance(md, dict)
    assert json.loads(get(md, "events/maintenance/scheduled")) == []
    history = json.loads(get(md, "events/maintenance/history"))
    assert len(history) == 1
    assert history[0]["State"] == "completed"
    assert re.fullmatch(r"\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", history[0]["NotBefore"])
    assert "spot" not in md
    assert "recommendations" not in get(md, "events")
    for absent in ("kernel-id", "ramdisk-id", "product-codes", "ancestor-ami-ids", "metrics"):
        assert absent not in md


def test_default_user_data_is_binary_gzip() -> None:
    data = default_tree()["user-data"]
    assert isinstance(data, bytes)
    assert b"\x00" in data
    assert gzip.decompress(data).startswith(b"#cloud-config\n")


def test_identity_blobs_are_base64() -> None:
    import base64

    ident = get(default_tree(), "dynamic/instance-identity")
    for name in ("pkcs7", "signature", "rsa2048"):
        assert base64.b64decode("".join(ident[name].split()), validate=True)
