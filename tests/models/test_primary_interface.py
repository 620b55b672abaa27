"""The interface the instance launched with (device 0, whose MAC is ``meta-data/mac``):
``meta_data.primary_interface`` on the models and the sync and async views, its
identifiers typed present; hot-plugged interfaces keep their ``None``s."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds import IMDS, AsyncIMDS
from ec2imds.catalog import MAC0, MAC1
from ec2imds.errors import IMDSValidationError
from ec2imds.models import PrimaryNetworkInterface
from ec2imds.simulator import IMDSSimulator
from tests.helpers import mypy

ENI = "meta-data/network/interfaces/macs"
PRIMARY = {
    "device_number": 0,
    "interface_id": "eni-0a1b2c3d4e5f60001",
    "mac": MAC0,
    "owner_id": "123456789012",
    "subnet_id": "subnet-0a1b2c3d4e5f60101",
    "vpc_id": "vpc-0a1b2c3d4e5f60700",
}


@pytest.fixture
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator() as simulator:
        yield simulator


def endpoint(sim: IMDSSimulator) -> str:
    return f"127.0.0.1:{sim.port}"


def test_the_lazy_view_reads_device_0_s_ids(sim: IMDSSimulator) -> None:
    with IMDS(endpoints=endpoint(sim)) as imds:
        primary = imds.meta_data.primary_interface
        assert primary.path == f"{ENI}/{MAC0}"
        assert {name: getattr(primary, name) for name in PRIMARY} == PRIMARY
        again = imds.meta_data.primary_interface.subnet_id
    assert again == PRIMARY["subnet_id"]
    assert sim.stats.count("/latest/meta-data/mac") == 1  # never changes: cached


def test_the_async_view_reads_device_0_s_ids(sim: IMDSSimulator) -> None:
    async def read() -> dict[str, object]:
        async with AsyncIMDS(endpoints=endpoint(sim)) as aimds:
            primary = await aimds.meta_data.primary_interface
            return {name: await getattr(primary, name) for name in PRIMARY}

    assert asyncio.run(read()) == PRIMARY


def test_the_models_and_load_give_a_primary_network_interface(sim: IMDSSimulator) -> None:
    with IMDS(endpoints=endpoint(sim)) as imds:
        everything = imds.all()
        loaded = imds.meta_data.primary_interface.load()
    eager = everything.meta_data.primary_interface
    for primary in (eager, loaded):
        assert isinstance(primary, PrimaryNetworkInterface)
        assert {name: getattr(primary, name) for name in PRIMARY} == PRIMARY
    # The same interface as the map's entry, with every other field kept.
    assert eager.model_dump() == everything.meta_data.network.interfaces.macs[MAC0].model_dump()


def test_a_404_for_one_of_device_0_s_ids_is_an_error_naming_the_path(
    sim: IMDSSimulator,
) -> None:
    path = f"{ENI}/{MAC0}/subnet-id"
    sim.delete(path)
    with IMDS(endpoints=endpoint(sim)) as imds:
        with pytest.raises(IMDSValidationError) as lazy:
            imds.meta_data.primary_interface.subnet_id  # noqa: B018 - the read is the test
        with pytest.raises(IMDSValidationError) as load:
            imds.meta_data.primary_interface.load()
        everything = imds.all()  # the tree itself is valid: a model's field may be absent
        assert everything.meta_data.network.interfaces.macs[MAC0].subnet_id is None
        with pytest.raises(IMDSValidationError) as eager:
            everything.meta_data.primary_interface  # noqa: B018
    for info in (lazy, load, eager):
        assert info.value.path == path
        assert str(info.value).startswith(f"{path}: missing, but EC2 serves it")

    async def aread() -> object:
        async with AsyncIMDS(endpoints=endpoint(sim)) as aimds:
            return await (await aimds.meta_data.primary_interface).subnet_id

    with pytest.raises(IMDSValidationError) as awaited:
        asyncio.run(aread())
    assert awaited.value.path == path


def test_a_hot_plugged_interface_keeps_its_nones(sim: IMDSSimulator) -> None:
    sim.delete(f"{ENI}/{MAC1}/subnet-id")  # just attached: not there yet
    with IMDS(endpoints=endpoint(sim)) as imds:
        assert imds.meta_data.network.interfaces.macs[MAC1].subnet_id is None
        assert imds.all().meta_data.network.interfaces.macs[MAC1].subnet_id is None
        assert imds.meta_data.primary_interface.subnet_id == PRIMARY["subnet_id"]


def test_device_0_missing_from_the_listing_is_an_error_naming_it(sim: IMDSSimulator) -> None:
    sim.delete(f"{ENI}/{MAC0}")
    with IMDS(endpoints=endpoint(sim)) as imds:
        everything = imds.all()
        with pytest.raises(IMDSValidationError) as eager:
            everything.meta_data.primary_interface  # noqa: B018
        with pytest.raises(IMDSValidationError) as lazy:
            imds.meta_data.primary_interface.vpc_id  # noqa: B018
    assert str(eager.value) == (
        f"{ENI}/{MAC0}: missing, but EC2 serves it on every instance "
        "(not in its directory's listing)"
    )
    assert lazy.value.path == f"{ENI}/{MAC0}/vpc-id"


TYPED = """\
from ec2imds import IMDS, AsyncIMDS

def ids(imds: IMDS) -> list[str]:
    subnet: str = imds.meta_data.primary_interface.subnet_id
    reveal_type(imds.meta_data.primary_interface.vpc_id)
    reveal_type(imds.meta_data.primary_interface.device_number)
    reveal_type(imds.all().meta_data.primary_interface.subnet_id)
    reveal_type(imds.meta_data.network.interfaces.macs["0e:49:61:0f:c3:11"].subnet_id)
    return [subnet]

async def aids(aimds: AsyncIMDS) -> str:
    primary = await aimds.meta_data.primary_interface
    reveal_type(await primary.subnet_id)
    return await primary.interface_id
"""


def test_mypy_strict_reads_the_primary_subnet_id_as_str(tmp_path: Path) -> None:
    assert mypy({"primary_app": TYPED}, tmp_path)["primary_app"] == [
        '5: note: Revealed type is "str"',
        '6: note: Revealed type is "int"',
        '7: note: Revealed type is "str"',
        '8: note: Revealed type is "str | None"',  # a hot-plugged one: can be 404 a moment
        '13: note: Revealed type is "str"',
    ]
