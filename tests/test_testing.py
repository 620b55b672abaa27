"""``FakeIMDS`` (and any httpx transport that answers with loaded bodies) behind the
library clients: ``IMDS``/``AsyncIMDS(http_transport=fake.transport)``, as docs/simulator.md
shows. No httpx exception may reach the caller, whatever the transport answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from ec2imds import IMDS, AsyncIMDS
from ec2imds.errors import IMDSError, IMDSHTTPError, IMDSUnavailable
from ec2imds.models import InstanceMetadata, Placement
from ec2imds.testing import FakeIMDS

FAKE_ENDPOINT = [("169.254.169.254", 80)]  # never connected to: the fake is in-process


def test_fake_imds_with_the_sync_client() -> None:
    fake = FakeIMDS()
    with IMDS(endpoints=FAKE_ENDPOINT, http_transport=fake.transport) as imds:
        assert imds.meta_data.placement.region == "us-east-1"
        assert imds.get(Placement).availability_zone == "us-east-1a"
        everything = imds.all()
    assert isinstance(everything, InstanceMetadata)
    meta_data = everything.meta_data
    assert meta_data is not None
    assert meta_data.instance_id == "i-0123456789abcdef0"
    assert fake.stats.puts == 1


def test_fake_imds_with_the_async_client() -> None:
    fake = FakeIMDS()

    async def main() -> tuple[str | None, InstanceMetadata]:
        async with AsyncIMDS(endpoints=FAKE_ENDPOINT, http_transport=fake.transport) as aimds:
            return (await aimds.get(Placement)).region, await aimds.all()

    region, everything = asyncio.run(main())
    assert region == "us-east-1"
    meta_data = everything.meta_data
    assert meta_data is not None
    assert meta_data.placement is not None
    assert meta_data.placement.availability_zone_id == "use1-az4"


def test_fake_faults_reach_the_client_as_imds_errors() -> None:
    fake = FakeIMDS()
    with IMDS(endpoints=FAKE_ENDPOINT, http_transport=fake.transport, attempts=3) as imds:
        fake.faults.burst(503, 2, path="meta-data/instance-id")
        assert imds.meta_data.instance_id == "i-0123456789abcdef0"  # retried through
        fake.faults.reset_mid_body_next(3, path="meta-data/ami-id")
        with pytest.raises(IMDSUnavailable, match="meta-data/ami-id"):
            _ = imds.meta_data.ami_id
        fake.faults.burst(500, 3, path="meta-data/hostname")
        with pytest.raises(IMDSHTTPError) as info:
            _ = imds.meta_data.hostname
    assert info.value.status == 500


def _loaded(request: httpx.Request) -> httpx.Response:
    """A handler as respx or a hand-written mock writes it: the body given as content."""
    if request.method == "PUT":
        return httpx.Response(
            200, content=b"TOKEN-abc", headers={"x-aws-ec2-metadata-token-ttl-seconds": "60"}
        )
    if request.url.path == "/latest/meta-data/instance-id":
        return httpx.Response(200, content=b"i-0abc")
    return httpx.Response(404, content=b"")


def test_any_mock_transport_with_loaded_bodies() -> None:
    with IMDS(endpoints=FAKE_ENDPOINT, http_transport=httpx.MockTransport(_loaded)) as imds:
        assert imds.meta_data.instance_id == "i-0abc"
        assert imds.meta_data.public_ipv4 is None  # 404: absent (EC2 may lack it)

    async def main() -> tuple[bytes | None, bytes | None]:
        mock = httpx.MockTransport(_loaded)
        async with AsyncIMDS(endpoints=FAKE_ENDPOINT, http_transport=mock) as aimds:
            return await aimds.fetch("meta-data/instance-id"), await aimds.fetch("meta-data/ami-id")

    assert asyncio.run(main()) == (b"i-0abc", None)


class _AsyncOnly(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"x"


def test_a_transport_that_raises_something_odd_is_an_imds_error() -> None:
    def wrong_stream(request: httpx.Request) -> httpx.Response:
        # An async-only body handed to the sync client: httpx would raise a RuntimeError.
        return httpx.Response(200, stream=_AsyncOnly())

    mock = httpx.MockTransport(wrong_stream)
    with IMDS(endpoints=FAKE_ENDPOINT, http_transport=mock) as imds, pytest.raises(IMDSError):
        _ = imds.meta_data.instance_id
