"""The catalog: complete against IMDS.md §2 and consistent (the default instance built from
it is tested in ``tests/simulator/test_instance.py``, the path matching in
``tests/test_pathmatch.py``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ec2imds import catalog
from ec2imds._pathmatch import match
from ec2imds.catalog import ENTRIES, CatalogEntry
from ec2imds.models import InstanceMetadata
from ec2imds.simulator import METADATA_VERSIONS
from ec2imds.simulator.instance import default_tree

# Every path of IMDS.md §2 (placeholders written as the catalog writes them).
IMDS_MD_SECTION_2 = [
    "meta-data/ami-id",
    "meta-data/instance-id",
    "meta-data/instance-type",
    "meta-data/reservation-id",
    "meta-data/mac",
    "meta-data/ami-launch-index",
    "meta-data/ami-manifest-path",
    "meta-data/ancestor-ami-ids",
    "meta-data/product-codes",
    "meta-data/autoscaling/target-lifecycle-state",
    "meta-data/block-device-mapping/{device}",
    "meta-data/elastic-gpus/associations/{id}",
    "meta-data/elastic-inference/associations/{id}",
    "meta-data/events/maintenance/scheduled",
    "meta-data/events/maintenance/history",
    "meta-data/events/recommendations/rebalance",
    "meta-data/hostname",
    "meta-data/local-hostname",
    "meta-data/iam/info",
    "meta-data/iam/security-credentials/{role}",
    "meta-data/iam/security-credentials-extended/{role}",
    "meta-data/identity-credentials/ec2/info",
    "meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
    "meta-data/instance-action",
    "meta-data/instance-life-cycle",
    "meta-data/ipv6",
    "meta-data/kernel-id",
    "meta-data/ramdisk-id",
    "meta-data/local-ipv4",
    "meta-data/metrics/vhostmd",
    "meta-data/network/interfaces/macs/{mac}/device-number",
    "meta-data/network/interfaces/macs/{mac}/network-card-index",
    "meta-data/network/interfaces/macs/{mac}/interface-id",
    "meta-data/network/interfaces/macs/{mac}/mac",
    "meta-data/network/interfaces/macs/{mac}/owner-id",
    "meta-data/network/interfaces/macs/{mac}/local-hostname",
    "meta-data/network/interfaces/macs/{mac}/subnet-id",
    "meta-data/network/interfaces/macs/{mac}/vpc-id",
    "meta-data/network/interfaces/macs/{mac}/subnet-ipv4-cidr-block",
    "meta-data/network/interfaces/macs/{mac}/vpc-ipv4-cidr-block",
    "meta-data/network/interfaces/macs/{mac}/local-ipv4s",
    "meta-data/network/interfaces/macs/{mac}/public-ipv4s",
    "meta-data/network/interfaces/macs/{mac}/ipv6s",
    "meta-data/network/interfaces/macs/{mac}/security-groups",
    "meta-data/network/interfaces/macs/{mac}/security-group-ids",
    "meta-data/network/interfaces/macs/{mac}/subnet-ipv6-cidr-blocks",
    "meta-data/network/interfaces/macs/{mac}/vpc-ipv4-cidr-blocks",
    "meta-data/network/interfaces/macs/{mac}/vpc-ipv6-cidr-blocks",
    "meta-data/network/interfaces/macs/{mac}/ipv4-prefix",
    "meta-data/network/interfaces/macs/{mac}/ipv6-prefix",
    "meta-data/network/interfaces/macs/{mac}/ipv4-associations/{ip}",
    "meta-data/network/interfaces/macs/{mac}/public-hostname",
    "meta-data/public-hostname",
    "meta-data/public-ipv4",
    "meta-data/placement/availability-zone",
    "meta-data/placement/availability-zone-id",
    "meta-data/placement/region",
    "meta-data/placement/group-name",
    "meta-data/placement/partition-number",
    "meta-data/placement/host-id",
    "meta-data/public-keys/{index}/openssh-key",
    "meta-data/security-groups",
    "meta-data/services/domain",
    "meta-data/services/partition",
    "meta-data/spot/instance-action",
    "meta-data/spot/termination-time",
    "meta-data/tags/instance/{key}",
    "meta-data/profile",
    "meta-data/system",
    "dynamic/fws/instance-monitoring",
    "dynamic/instance-identity/document",
    "dynamic/instance-identity/pkcs7",
    "dynamic/instance-identity/signature",
    "dynamic/instance-identity/rsa2048",
    "user-data",
]

# What IMDS.md and DESIGN.md call volatile: re-read every time, never cached.
VOLATILE_LEAVES = {
    "meta-data/instance-action",
    "meta-data/security-groups",
    "meta-data/autoscaling/target-lifecycle-state",
    "meta-data/events/maintenance/scheduled",
    "meta-data/events/maintenance/history",
    "meta-data/events/recommendations/rebalance",
    "meta-data/iam/info",
    "meta-data/iam/security-credentials/{role}",
    "meta-data/iam/security-credentials-extended/{role}",
    "meta-data/identity-credentials/ec2/info",
    "meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
    "meta-data/network/interfaces/macs/{mac}/security-groups",
    "meta-data/network/interfaces/macs/{mac}/security-group-ids",
    "meta-data/spot/instance-action",
    "meta-data/spot/termination-time",
    "meta-data/tags/instance/{key}",
    # Addresses an Elastic IP, a secondary IP, an IPv6 address or a prefix changes.
    "meta-data/ipv6",
    "meta-data/public-hostname",
    "meta-data/public-ipv4",
    "meta-data/network/interfaces/macs/{mac}/ipv4-associations/{ip}",
    "meta-data/network/interfaces/macs/{mac}/ipv4-prefix",
    "meta-data/network/interfaces/macs/{mac}/ipv6-prefix",
    "meta-data/network/interfaces/macs/{mac}/ipv6s",
    "meta-data/network/interfaces/macs/{mac}/local-ipv4s",
    "meta-data/network/interfaces/macs/{mac}/public-hostname",
    "meta-data/network/interfaces/macs/{mac}/public-ipv4s",
}

SAMPLE_BINDINGS = {
    "mac": "0e:49:61:0f:c3:11",
    "ip": "54.210.1.23",
    "role": "my-app-role",
    "index": "0",
    "key": "Name",
    "device": "root",
    "id": "egpu-1",
}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_BINDINGS[m[1]], path)


def get(tree: Any, path: str) -> Any:
    node = tree
    for seg in path.split("/"):
        node = node[seg]
    return node


def model_field_for(path: str) -> tuple[type[Any], str]:
    """Walk the model classes from InstanceMetadata by IMDS key; return (model, field name)."""
    model: type[Any] = InstanceMetadata
    segs = path.split("/")
    i = 0
    while True:
        seg = segs[i]
        by_alias = {(f.alias or n): n for n, f in model.model_fields.items()}
        name = by_alias[seg]
        if i == len(segs) - 1:
            return model, name
        annotation = model.model_fields[name].annotation
        args: tuple[Any, ...] = getattr(annotation, "__args__", ())
        if getattr(annotation, "__origin__", None) is dict:
            i += 1  # skip the placeholder segment
            value = args[1]
            if i == len(segs) - 1:
                return model, name
            model = value
        else:
            model = next(a for a in (annotation, *args) if isinstance(a, type))
        i += 1


@pytest.mark.parametrize("path", IMDS_MD_SECTION_2)
def test_every_documented_category_is_in_the_catalog_and_a_model(path: str) -> None:
    hit = match(concrete(path))
    assert hit is not None, path
    assert hit[0].path == path
    model, name = model_field_for(path)
    assert name in model.model_fields
    assert model.model_fields[name].description


def test_entries_are_well_formed() -> None:
    paths = [e.path for e in ENTRIES]
    assert len(paths) == len(set(paths))
    by_path = {e.path: e for e in ENTRIES}
    for e in ENTRIES:
        assert e.kind in ("text", "int", "lines", "json", "bytes", "dir", "map"), e.path
        assert e.description.strip(), e.path
        assert e.since == "latest" or re.fullmatch(r"1\.0|\d{4}-\d{2}-\d{2}", e.since), e.path
        assert set(e.placeholders) <= set(SAMPLE_BINDINGS), e.path
        if e.path:
            assert e.parent in by_path, f"{e.path}: parent not in the catalog"
            assert by_path[e.parent].kind in ("dir", "map"), e.path
        if e.kind == "dir":
            assert e.model, e.path
            assert e.module, e.path
        if by_path.get(e.parent, e).kind == "map" and e.path:
            assert e.name.startswith("{"), f"{e.path}: a map's child is a placeholder"


def test_volatility_matches_the_design() -> None:
    volatile = {e.path for e in ENTRIES if e.volatile and e.is_leaf}
    assert volatile == VOLATILE_LEAVES


def test_placeholder_examples_are_keyed_by_binding() -> None:
    for e in ENTRIES:
        if e.example is None or not e.placeholders:
            continue
        assert isinstance(e.example, dict), e.path
        for binding in e.example:
            values = binding if isinstance(binding, tuple) else (binding,)
            assert len(values) == len(e.placeholders), e.path


def test_entry_lookup() -> None:
    assert catalog.entry("meta-data/placement").model == "Placement"
    with pytest.raises(KeyError):
        catalog.entry("meta-data/nope")


def test_entry_properties() -> None:
    e = catalog.entry("meta-data/network/interfaces/macs/{mac}/ipv4-associations/{ip}")
    assert isinstance(e, CatalogEntry)
    assert e.name == "{ip}"
    assert e.parent == "meta-data/network/interfaces/macs/{mac}/ipv4-associations"
    assert e.placeholders == ("mac", "ip")
    assert e.is_leaf
    assert not catalog.entry("meta-data").is_leaf


def test_catalog_import_is_standard_library_only() -> None:
    """The catalog imports no third-party package and nothing of ec2imds: not the
    simulator (which builds its default instance from the catalog), not the client."""
    code = (
        "import sys, ec2imds.catalog; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'httpx', 'ec2imds')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    assert out.strip() == "['ec2imds', 'ec2imds.catalog']"
    source = (Path(catalog.__file__)).read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from|import) ec2imds", source, re.MULTILINE)


# -- what EC2 serves on every instance (IMDS.md §1.7, "Categories and names") ------------
# The list of §1.7, as catalog paths (placement/ with availability-zone, services/ with
# domain, network/ down to the interfaces listing, the identity document).
ALWAYS_SERVED = {
    "meta-data",
    "meta-data/ami-id",
    "meta-data/ami-launch-index",
    "meta-data/ami-manifest-path",
    "meta-data/block-device-mapping",
    "meta-data/hostname",
    "meta-data/instance-action",
    "meta-data/instance-id",
    "meta-data/instance-type",
    "meta-data/local-hostname",
    "meta-data/mac",
    "meta-data/network",
    "meta-data/network/interfaces",
    "meta-data/network/interfaces/macs",
    "meta-data/placement",
    "meta-data/placement/availability-zone",
    "meta-data/reservation-id",
    "meta-data/security-groups",
    "meta-data/services",
    "meta-data/services/domain",
    "dynamic",
    "dynamic/instance-identity",
    "dynamic/instance-identity/document",
}
DOCUMENT_ALWAYS = {
    "region",
    "instanceId",
    "accountId",
    "availabilityZone",
    "imageId",
    "instanceType",
    "architecture",
    "pendingTime",
    "privateIp",
    "version",
}


def test_always_present_is_the_list_of_imds_md_with_evidence() -> None:
    assert set(catalog.always_present()) == ALWAYS_SERVED
    for e in ENTRIES:
        if e.present == "always":
            assert e.evidence.startswith("docs/imds.md, '"), e.path
            assert not e.absent, e.path
            assert not e.absent_by_default, e.path
        elif e.path:
            assert e.absent, f"{e.path}: say when it is absent, or give the evidence"
            assert not e.evidence, e.path
    (document,) = [s for s in catalog.JSON_SHAPES if s.name == "InstanceIdentityDocument"]
    assert {f.key for f in document.fields if f.present == "always"} == DOCUMENT_ALWAYS
    for shape in catalog.JSON_SHAPES:
        for f in shape.fields:
            assert (f.present == "always") == bool(f.evidence), (shape.name, f.key)


def test_newer_categories_may_be_absent_on_older_instances() -> None:
    for path in (
        "meta-data/placement/region",
        "meta-data/placement/availability-zone-id",
        "meta-data/instance-life-cycle",
        "meta-data/services/partition",
        "meta-data/events",
        "meta-data/identity-credentials",
    ):
        e = catalog.entry(path)
        assert e.present == "maybe", path
        assert "launched before" in e.absent, path


def test_catalog_corrections_of_imds_md_1_7() -> None:
    card = catalog.entry("meta-data/network/interfaces/macs/{mac}/network-card")
    index = catalog.entry("meta-data/network/interfaces/macs/{mac}/network-card-index")
    for e in (card, index):
        assert (e.kind, e.type, e.absent_by_default) == ("int", "int", True)
    hibernation = catalog.entry("meta-data/hibernation/configured")
    assert (hibernation.type, hibernation.absent_by_default) == ("bool", True)
    assert catalog.entry("meta-data/metrics/vhostmd").absent_by_default
    for path in ("meta-data/autoscaling", "meta-data/autoscaling/target-lifecycle-state"):
        assert catalog.entry(path).absent_by_default, path
    assert "autoscaling" not in default_tree()["meta-data"]
    assert "2021-07-15" in METADATA_VERSIONS
    assert METADATA_VERSIONS[-2:] == ("2021-07-15", "latest")


def test_hibernation_and_network_card_parse() -> None:
    from ec2imds.models import Hibernation, NetworkInterface, validate_raw

    assert validate_raw(Hibernation, {"configured": b"true\n"}, path="h").configured is True
    assert validate_raw(Hibernation, {"configured": b"false"}, path="h").configured is False
    eni = validate_raw(NetworkInterface, {"network-card": b"1"}, path="eni")
    assert (eni.network_card, eni.network_card_index) == (1, None)


@pytest.mark.parametrize("key", ["Name", "aws:autoscaling:groupName", "a+b-c=d.e,f_g:h@i", "9"])
def test_tag_keys_of_the_documented_character_set(key: str) -> None:
    from ec2imds.models import Tags, validate_raw

    assert list(validate_raw(Tags, {"instance": {key: b"v"}}, path="t").instance) == [key]


@pytest.mark.parametrize("key", ["has space", "a/b", ".", "..", "_index", "é", "x\n", ""])
def test_tag_keys_outside_it_are_refused(key: str) -> None:
    from ec2imds.errors import IMDSValidationError
    from ec2imds.models import Tags, validate_raw

    with pytest.raises(IMDSValidationError, match="not a tag key"):
        validate_raw(Tags, {"instance": {key: b"v"}}, path="meta-data/tags")
