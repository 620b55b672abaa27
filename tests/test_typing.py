"""Types that carry weight: what EC2 always serves is typed (and enforced) as present,
``value()`` is typed by path, options are typed, and ``AsyncIMDS`` offers what ``IMDS``
offers.  mypy checks the ``assert_type`` lines and the snippets; pytest runs the rest
against the simulator."""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from ipaddress import IPv4Address
from pathlib import Path
from typing import Optional

import pytest
from pydantic import SecretStr

from ec2imds import IMDS, AsyncIMDS, catalog
from ec2imds.catalog import entry
from ec2imds.errors import IMDSValidationError
from ec2imds.models import (
    AsyncMapView,
    AsyncNetworkInterfaceView,
    AwsCredentials,
    InstanceIdentityDocument,
    NetworkInterface,
    Placement,
)
from ec2imds.simulator import IMDSSimulator
from tests.support.typecheck import mypy

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


MAC0 = "0e:49:61:0f:c3:11"
MAC1 = "0e:49:61:0f:c3:22"
IID = "/latest/meta-data/instance-id"


@pytest.fixture
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator(seed=7) as s:
        yield s


@pytest.fixture
def imds(sim: IMDSSimulator) -> Iterator[IMDS]:
    with IMDS(endpoints=[sim.endpoint]) as client:
        yield client


def document_with_region(region: str) -> str:
    example = entry("dynamic/instance-identity/document").example
    assert isinstance(example, dict)
    return json.dumps({**example, "region": region})


# -- present means present --------------------------------------------------------------
def test_always_present_values_are_typed_and_read_without_none_checks(imds: IMDS) -> None:
    md = imds.meta_data
    assert_type(md.instance_id, str)
    assert_type(md.instance_type, str)
    assert_type(md.ami_id, str)
    assert_type(md.ami_launch_index, int)
    assert_type(md.placement.availability_zone, str)
    assert_type(imds.dynamic.instance_identity.document, InstanceIdentityDocument)
    assert (md.instance_id, md.instance_type, md.ami_launch_index) == (
        "i-0123456789abcdef0",
        "m5.large",
        0,
    )
    everything = imds.all()
    eni = everything.meta_data.network.interfaces.macs[MAC0]  # no None check on the way
    assert_type(eni, NetworkInterface)
    assert eni.device_number == 0
    assert everything.dynamic.instance_identity.document.account_id == "123456789012"


@pytest.mark.parametrize("path", ["meta-data/instance-id", "meta-data/placement/availability-zone"])
def test_a_404_for_an_always_present_value_is_an_error_naming_it(
    sim: IMDSSimulator, imds: IMDS, path: str
) -> None:
    sim.delete(path)
    expected = f"{path}: missing, but EC2 serves it on every instance (IMDS answered 404)"
    view = imds.meta_data
    with pytest.raises(IMDSValidationError) as info:
        _ = view.instance_id if path.endswith("instance-id") else view.placement.availability_zone
    assert (info.value.path, str(info.value)) == (path, expected)
    with pytest.raises(IMDSValidationError) as info:
        imds.value(path)
    assert (info.value.path, str(info.value)) == (path, expected)
    with pytest.raises(IMDSValidationError) as info:
        imds.all()
    assert info.value.path == path


def test_a_404_for_a_value_that_may_be_absent_is_none(sim: IMDSSimulator, imds: IMDS) -> None:
    sim.delete("meta-data/placement/region")
    assert imds.meta_data.placement.region is None
    assert imds.value("meta-data/placement/region") is None
    assert imds.get(Placement).region is None
    assert imds.all().meta_data.placement.region is None


def test_get_of_a_category_missing_an_always_present_value(sim: IMDSSimulator, imds: IMDS) -> None:
    sim.delete("meta-data/placement/availability-zone")
    with pytest.raises(IMDSValidationError) as info:
        imds.get(Placement)
    assert info.value.path == "meta-data/placement/availability-zone"


def test_async_views_enforce_presence_too(sim: IMDSSimulator) -> None:
    sim.delete("meta-data/instance-id")

    async def main() -> None:
        async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:
            with pytest.raises(IMDSValidationError, match="meta-data/instance-id: missing"):
                await aimds.meta_data.instance_id
            with pytest.raises(IMDSValidationError, match="meta-data/instance-id: missing"):
                await aimds.value("meta-data/instance-id")
            assert await aimds.meta_data.kernel_id is None

    asyncio.run(main())


# -- region -----------------------------------------------------------------------------
def test_region_reads_placement_region(sim: IMDSSimulator, imds: IMDS) -> None:
    assert_type(imds.region, str)
    assert imds.region == "us-east-1"
    assert sim.stats.requests[("GET", "/latest/meta-data/placement/region")] == 1
    assert sim.stats.requests[("GET", "/latest/dynamic/instance-identity/document")] == 0


def test_region_falls_back_on_the_identity_document(sim: IMDSSimulator, imds: IMDS) -> None:
    sim.delete("meta-data/placement/region")  # an instance launched before it existed
    sim.set("dynamic/instance-identity/document", document_with_region("eu-west-3"))
    assert imds.region == "eu-west-3"

    async def main() -> str:
        async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:
            return await aimds.region

    assert asyncio.run(main()) == "eu-west-3"


def test_async_region_reads_placement_region(sim: IMDSSimulator) -> None:
    async def main() -> str:
        async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:
            region = await aimds.region
            assert_type(region, str)
            return region

    assert asyncio.run(main()) == "us-east-1"


# -- value() ------------------------------------------------------------------------------
def test_value_is_typed_by_path(imds: IMDS) -> None:
    launch_index = imds.value("meta-data/ami-launch-index")
    assert_type(launch_index, int)
    assert launch_index == 0
    local = imds.value("meta-data/local-ipv4")
    assert_type(local, Optional[IPv4Address])
    assert local == IPv4Address("10.0.1.23")
    macs = imds.value("meta-data/network/interfaces/macs")
    assert_type(macs, dict[str, NetworkInterface])
    assert sorted(macs) == [MAC0, MAC1]
    placement = imds.value("meta-data/placement")
    assert_type(placement, Placement)
    assert placement.availability_zone == "us-east-1a"
    name = imds.value("meta-data/tags/instance/Name")  # below a keyed directory: object
    assert_type(name, object)
    assert name == "web-1"
    with pytest.raises(KeyError):
        imds.value("meta-data/never-heard-of-it")


def test_every_catalog_path_has_its_overload() -> None:
    source = Path(catalog.__file__).with_name("_paths.py").read_text(encoding="utf-8")
    source = source.split("\nclass ", 1)[1]  # the two classes, not the module docstring
    for e in catalog.ENTRIES:
        if e.path and "{" not in e.path:
            assert source.count(f'"{e.path}"') == 2, e.path  # sync and async


# -- options ------------------------------------------------------------------------------
def test_a_misspelt_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"'timout' \(did you mean 'timeout'\?\)"):
        IMDS(timout=0.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'timout'"):
        AsyncIMDS(timout=0.5)  # type: ignore[call-arg]


def test_an_option_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="timeout must be a number, not str"):
        IMDS(timeout="0.5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="attempts must be an integer, not float"):
        AsyncIMDS(attempts=2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="token_ttl must be an integer, not bool"):
        IMDS(token_ttl=True)


def test_typed_options_still_configure_the_client(sim: IMDSSimulator) -> None:
    with IMDS(endpoints=[sim.endpoint], timeout=0.5, attempts=2, token_ttl=600) as imds:
        assert (imds.settings.timeout, imds.settings.attempts) == (0.5, 2)
        assert imds.settings.token_ttl == 600
        assert imds.meta_data.instance_id == "i-0123456789abcdef0"


# -- async parity -------------------------------------------------------------------------
SYNC_ONLY = {"close"}  # AsyncIMDS.aclose
NOT_AWAITED = {"clear_cache", "watch", "view", "meta_data", "dynamic", "settings", "transport"}


def public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def test_async_imds_offers_what_imds_offers() -> None:
    assert public(IMDS) - SYNC_ONLY <= public(AsyncIMDS)
    assert "aclose" in public(AsyncIMDS)
    for name in public(IMDS) - SYNC_ONLY - NOT_AWAITED:
        member = inspect.getattr_static(AsyncIMDS, name)
        if isinstance(member, property):
            assert member.fget is not None
            assert "Awaitable" in str(inspect.signature(member.fget).return_annotation), name
        else:
            assert inspect.iscoroutinefunction(member), name


def test_async_views_cost_what_sync_views_cost(sim: IMDSSimulator) -> None:
    async def main() -> None:
        async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:
            for _ in range(2):
                instance_id = await aimds.meta_data.instance_id
                assert_type(instance_id, str)
                assert instance_id == "i-0123456789abcdef0"
            assert sim.stats.requests[("GET", IID)] == 1  # cached, as in IMDS
            macs = aimds.meta_data.network.interfaces.macs
            assert_type(macs, AsyncMapView[str, AsyncNetworkInterfaceView])
            assert await macs.keys() == [MAC0, MAC1]
            eni = await macs[MAC1]
            assert await eni.device_number == 1
            assert [mac async for mac in macs] == [MAC0, MAC1]
            assert (await eni.load()).device_number == 1
            tags = await aimds.meta_data.tags.instance.load()
            assert tags == {"Environment": "prod", "Name": "web-1", "Team": "platform"}
            key = await aimds.meta_data.public_keys.get(0)
            assert key.name == "my-key"
            assert (await key.openssh_key or "").startswith("ssh-rsa ")
            placement = await aimds.meta_data.placement.load()
            assert placement == await aimds.get(Placement)
            ud = await aimds.open_user_data()
            assert ud is not None
            assert ud.read() == sim.get("user-data")
            assert await aimds.value("meta-data/ami-launch-index") == 0

    asyncio.run(main())


# -- the same checks as a user's mypy run sees them ---------------------------------------
SNIPPET = """\
from ec2imds import IMDS, AsyncIMDS

async def main(aimds: AsyncIMDS) -> None:
    reveal_type(await aimds.value("meta-data/instance-id"))
    reveal_type(await aimds.meta_data.placement.availability_zone)
    reveal_type(await aimds.region)

with IMDS() as imds:
    reveal_type(imds.value("meta-data/instance-id"))
    reveal_type(imds.value("meta-data/placement/region"))
    reveal_type(imds.value("meta-data/tags/instance/Name"))
    n: int = imds.value("meta-data/tags/instance/Name")
    reveal_type(imds.meta_data.instance_id)
    reveal_type(imds.region)
    reveal_type(imds.all().meta_data.network.interfaces.macs)
IMDS(timout=0.5)
IMDS(timeout="0.5")
"""


# The typed application: no None check for what EC2 always serves.
TYPED_APP = """\
from ec2imds import IMDS, AsyncIMDS
from ec2imds.models import NetworkInterface


def describe(imds: IMDS) -> list[str]:
    instance_id: str = imds.meta_data.instance_id
    instance_type: str = imds.value("meta-data/instance-type")
    ami: str = imds.meta_data.ami_id
    region: str = imds.region
    secret: str = (
        imds.meta_data.iam.security_credentials["my-app-role"]
        .require()
        .secret_access_key.get_secret_value()
    )
    enis: dict[str, NetworkInterface] = imds.all().meta_data.network.interfaces.macs
    subnets = [str(eni.subnet_id) for eni in enis.values()]
    return [instance_id, instance_type, ami, region, secret[:0], *subnets]


async def adescribe(aimds: AsyncIMDS) -> list[str]:
    instance_id: str = await aimds.meta_data.instance_id
    az: str = await aimds.value("meta-data/placement/availability-zone")
    region: str = await aimds.region
    macs: list[str] = await aimds.meta_data.network.interfaces.macs.keys()
    return [instance_id, az, region, *macs]
"""


def test_a_typed_application_needs_no_none_checks(tmp_path: Path) -> None:
    assert mypy({"typed_app": TYPED_APP}, tmp_path) == {"typed_app": []}


def test_mypy_sees_the_types(tmp_path: Path) -> None:
    lines = mypy({"types_snippet": SNIPPET}, tmp_path)["types_snippet"]
    assert lines == [
        '4: note: Revealed type is "str"',
        '5: note: Revealed type is "str"',
        '6: note: Revealed type is "str"',
        '9: note: Revealed type is "str"',
        '10: note: Revealed type is "str | None"',
        '11: note: Revealed type is "object"',
        '12: error: Incompatible types in assignment (expression has type "object", variable '
        'has type "int")  [assignment]',
        '13: note: Revealed type is "str"',
        '14: note: Revealed type is "str"',
        '15: note: Revealed type is "dict[str, ec2imds.models.network.NetworkInterface]"',
        '16: error: Unexpected keyword argument "timout" for "IMDS"; did you mean "timeout"?  '
        "[call-arg]",
        '17: error: Argument "timeout" to "IMDS" has incompatible type "str"; expected '
        '"float | None"  [arg-type]',
    ]


# -- IAM credentials, typed -------------------------------------------------------------
def test_credentials_require_gives_them_without_none(imds: IMDS) -> None:
    creds = imds.meta_data.iam.security_credentials["my-app-role"].require()
    assert_type(creds, AwsCredentials)
    assert_type(creds.secret_access_key, SecretStr)
    assert_type(creds.expiration, datetime)
    assert creds.access_key_id == "ASIAEXAMPLEKEYID0001"
    assert creds.secret_access_key.get_secret_value().startswith("wJalr")
    identity = imds.meta_data.identity_credentials.ec2.security_credentials.ec2_instance
    assert identity is not None
    assert identity.require().access_key_id == "ASIAEXAMPLEIDENTITY01"


def test_credentials_require_raises_on_an_error_body(sim: IMDSSimulator, imds: IMDS) -> None:
    body = {"Code": "AssumeRoleUnauthorizedAccess", "Message": "EC2 cannot assume the role"}
    sim.set("meta-data/iam/security-credentials/my-app-role", json.dumps(body))
    creds = imds.meta_data.iam.security_credentials["my-app-role"]
    with pytest.raises(IMDSValidationError) as info:
        creds.require()
    assert str(info.value) == (
        "meta-data/iam/security-credentials/{role}: no usable credentials (Code "
        "'AssumeRoleUnauthorizedAccess': EC2 cannot assume the role; missing access_key_id, "
        "secret_access_key, token, expiration)"
    )
    partial = {**catalog_credentials(), "Token": None}
    sim.set("meta-data/iam/security-credentials/my-app-role", json.dumps(partial))
    with pytest.raises(IMDSValidationError, match="missing token") as info:
        imds.meta_data.iam.security_credentials["my-app-role"].require()
    assert str(partial["SecretAccessKey"]) not in str(info.value)


def catalog_credentials() -> dict[str, object]:
    example = entry("meta-data/iam/security-credentials/{role}").example
    assert isinstance(example, dict)
    creds = example["my-app-role"]
    assert isinstance(creds, dict)
    return dict(creds)


# -- many categories at once: one validation, even of a few -----------------------------
def test_tree_to_json_of_a_few_categories_reads_back_only_them() -> None:
    from ec2imds._category_json import tree_to_json

    out = tree_to_json(
        {
            "meta-data/placement/region": b"eu-west-3",
            "meta-data/tags/instance": {"Name": b"web-9"},
            "meta-data/instance-id": None,  # absent: null, never the frame's example
        }
    )
    assert out == {
        "meta-data/placement/region": "eu-west-3",
        "meta-data/tags/instance": {"Name": "web-9"},
        "meta-data/instance-id": None,
    }
    with pytest.raises(IMDSValidationError) as info:
        tree_to_json({"meta-data/ami-launch-index": b"zero"})
    assert info.value.path == "meta-data/ami-launch-index"
