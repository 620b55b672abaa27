"""The typed client: laziness and caching counted on the simulator, typed views, get(), all()."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from ipaddress import IPv4Address
from typing import Optional

import pytest

from ec2imds.client import IMDS, AsyncIMDS, cacheable
from ec2imds.errors import IMDSHTTPError, IMDSValidationError
from ec2imds.models import InstanceMetadata, Placement, Spot, SpotInstanceAction
from ec2imds.models._base import dump
from ec2imds.simulator import IMDSSimulator

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


IID_PATH = "/latest/meta-data/instance-id"
SG_PATH = "/latest/meta-data/security-groups"


@pytest.fixture
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator(seed=3) as s:
        yield s


@pytest.fixture
def imds(sim: IMDSSimulator) -> Iterator[IMDS]:
    with IMDS(endpoints=[sim.endpoint]) as client:
        yield client


def test_one_leaf_costs_one_get_and_one_put(sim: IMDSSimulator, imds: IMDS) -> None:
    assert imds.meta_data.instance_id == "i-0123456789abcdef0"
    assert (sim.stats.gets, sim.stats.puts) == (1, 1)


def test_cached_leaf_costs_nothing_the_second_time(sim: IMDSSimulator, imds: IMDS) -> None:
    for _ in range(3):
        assert imds.meta_data.instance_id == "i-0123456789abcdef0"
    assert sim.stats.requests[("GET", IID_PATH)] == 1
    imds.clear_cache()
    assert imds.meta_data.instance_id == "i-0123456789abcdef0"
    assert sim.stats.requests[("GET", IID_PATH)] == 2


def test_volatile_leaf_is_fetched_every_time(sim: IMDSSimulator, imds: IMDS) -> None:
    assert imds.meta_data.security_groups == ["web", "default"]
    sim.set("meta-data/security-groups", "web\ndefault\nnew")
    assert imds.meta_data.security_groups == ["web", "default", "new"]
    assert sim.stats.requests[("GET", SG_PATH)] == 2
    assert sim.stats.puts == 1


def test_groups_cost_no_request(sim: IMDSSimulator, imds: IMDS) -> None:
    placement = imds.meta_data.placement
    network = imds.meta_data.network.interfaces
    assert placement is not None
    assert network is not None
    assert sim.stats.total == 0


def test_view_types_are_real(imds: IMDS) -> None:
    region = imds.meta_data.placement.region
    assert_type(region, Optional[str])
    assert region == "us-east-1"
    ip = imds.meta_data.local_ipv4
    assert_type(ip, Optional[IPv4Address])
    assert ip == IPv4Address("10.0.1.23")
    assert imds.meta_data.ami_launch_index == 0


def test_get_fetches_one_category(sim: IMDSSimulator, imds: IMDS) -> None:
    placement = imds.get(Placement)
    assert_type(placement, Placement)
    assert placement.region == "us-east-1"
    assert placement.availability_zone_id == "use1-az4"
    # Only the placement subtree was read, and the listing that names it (the listing
    # is the truth: a category meta-data/ does not list is absent, never requested).
    assert all(
        path.startswith("/latest/meta-data/placement/") or path == "/latest/meta-data/"
        for _, path in sim.stats.requests
        if _ == "GET"
    )
    imds.get(Placement)
    assert sim.stats.requests[("GET", "/latest/meta-data/placement/")] == 1  # cached
    # meta-data/ can gain a category (spot/ when an interruption is announced): re-read.
    assert sim.stats.requests[("GET", "/latest/meta-data/")] == 2


def test_get_of_a_volatile_category_reads_it_again(sim: IMDSSimulator, imds: IMDS) -> None:
    assert imds.get(Spot).instance_action is None
    sim.inject_spot_interruption(action="stop")
    action = imds.get(Spot).instance_action
    assert isinstance(action, SpotInstanceAction)
    assert action.action == "stop"


def test_get_rejects_a_per_key_model(imds: IMDS) -> None:
    from ec2imds.models import NetworkInterface

    with pytest.raises(TypeError, match="not one category"):
        imds.get(NetworkInterface)


def test_value_by_path(imds: IMDS) -> None:
    assert imds.value("meta-data/placement/region") == "us-east-1"
    assert imds.value("meta-data/tags/instance/Name") == "web-1"
    assert imds.value("meta-data/spot/instance-action") is None


def test_all_round_trip_and_request_counts(sim: IMDSSimulator, imds: IMDS) -> None:
    tree = imds.all()
    assert_type(tree, InstanceMetadata)
    assert tree.meta_data is not None
    assert tree.meta_data.placement is not None
    assert tree.meta_data.placement.region == "us-east-1"
    assert tree.user_data == sim.get("user-data")
    assert max(sim.stats.requests.values()) == 1
    assert sim.stats.puts == 1
    # The dump validates back into the same model: nothing lost on the way.
    again = InstanceMetadata.model_validate(dump(tree, reveal_secrets=True))
    assert dump(again, reveal_secrets=True) == dump(tree, reveal_secrets=True)


def test_unknown_paths_are_kept(sim: IMDSSimulator, imds: IMDS) -> None:
    sim.set("meta-data/brand-new/thing", "hello")
    tree = imds.all()
    assert tree.meta_data is not None
    assert dump(tree)["meta-data"]["brand-new"] == {"thing": "hello"}


def test_bad_leaf_names_its_path(sim: IMDSSimulator, imds: IMDS) -> None:
    sim.set("meta-data/ami-launch-index", "zero")
    with pytest.raises(IMDSValidationError, match="meta-data/ami-launch-index") as info:
        _ = imds.meta_data.ami_launch_index
    assert info.value.value == b"zero"  # the raw body, as served


def test_values_keeps_the_rest_when_one_category_fails(sim: IMDSSimulator) -> None:
    with IMDS(endpoints=[sim.endpoint], attempts=2, backoff_base=0.001) as imds:
        sim.faults.burst(500, 2, path="/latest/meta-data/placement/region")
        sim.set("meta-data/ami-launch-index", "zero")
        failures: dict[str, Exception] = {}
        values = imds.values(
            ["meta-data/instance-id", "meta-data/placement/region", "meta-data/ami-launch-index"],
            failures,  # type: ignore[arg-type]
        )
    assert values == {"meta-data/instance-id": "i-0123456789abcdef0"}
    assert isinstance(failures["meta-data/placement/region"], IMDSHTTPError)
    assert isinstance(failures["meta-data/ami-launch-index"], IMDSValidationError)


def test_values_raises_without_a_failures_dict(sim: IMDSSimulator, imds: IMDS) -> None:
    sim.faults.burst(404, 1, path="/latest/meta-data/placement/region")
    assert imds.values(["meta-data/placement/region"]) == {"meta-data/placement/region": None}
    sim.set("meta-data/ami-launch-index", "zero")
    with pytest.raises(IMDSValidationError):
        imds.values(["meta-data/ami-launch-index"])


def test_user_data_and_stream(sim: IMDSSimulator, imds: IMDS) -> None:
    expected = sim.get("user-data")
    assert isinstance(expected, bytes)
    assert imds.user_data() == expected
    stream = imds.open_user_data()
    assert stream is not None
    chunks = []
    while chunk := stream.read(7):
        chunks.append(chunk)
    assert b"".join(chunks) == expected


def test_cacheable_rules() -> None:
    assert cacheable("meta-data/instance-id")
    assert cacheable("meta-data/placement/")
    assert not cacheable("meta-data/")  # spot/ and events can appear in it
    assert not cacheable("meta-data/security-groups")
    assert not cacheable("meta-data/tags/instance/Name")
    assert not cacheable("meta-data/never-heard-of-it")


def test_async_client() -> None:
    async def main() -> None:
        with IMDSSimulator() as sim:
            async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:
                placement = await aimds.get(Placement)
                assert_type(placement, Placement)
                assert placement.region == "us-east-1"
                tree = await aimds.all()
                assert tree.meta_data is not None
                values = await aimds.values(["meta-data/instance-id"])
                assert values == {"meta-data/instance-id": "i-0123456789abcdef0"}
                assert await aimds.user_data() == sim.get("user-data")
            assert sim.stats.puts == 1

    asyncio.run(main())


@pytest.mark.slow
def test_1000_clients_leak_no_sockets(sim: IMDSSimulator) -> None:
    import os

    before = len(os.listdir("/proc/self/fd"))
    for _ in range(1000):
        with IMDS(endpoints=[sim.endpoint]) as imds:
            imds.fetch("meta-data/instance-id")
    after = len(os.listdir("/proc/self/fd"))
    assert after - before < 5


def test_a_hot_attached_interface_is_seen_without_clearing_the_cache(
    sim: IMDSSimulator, imds: IMDS
) -> None:
    before = set(imds.meta_data.network.interfaces.macs)
    sim.set("meta-data/network/interfaces/macs/0e:00:00:00:00:99/device-number", "2")
    after = set(imds.meta_data.network.interfaces.macs)
    assert after == before | {"0e:00:00:00:00:99"}
