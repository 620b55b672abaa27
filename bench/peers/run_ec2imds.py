"""Runner for ec2imds (this repository), run by the project's interpreter (.venv).

Library mode, one warm ``IMDS`` client (token cached in memory, keep-alive pool of 8):

* ``full_all``: ``clear_cache()`` (untimed), then ``IMDS.all()`` (crawl + validation)
* ``full_raw``: ``clear_cache()`` (untimed), then ``IMDS.raw_tree()`` (crawl only)
* ``full_cold``: a new ``IMDS`` per call: construct, ``all()``, ``close()`` (PUT + new pool)
* ``common``: ``clear_cache()`` (untimed), then ``IMDS.values(COMMON_SUBSET)``
* ``common_view``: ``clear_cache()`` (untimed), then the typed lazy view, one attribute
  after another (sequential GETs)
* ``one_key``: ``driver.get("meta-data/instance-id")``: always a GET on the network
  (the client caches immutable values, the transport does not)
* ``one_key_typed``: ``clear_cache()`` + ``meta_data.instance_id`` (both timed)
* ``full_all_async``: as ``full_all`` with one warm ``AsyncIMDS`` (on one event loop kept
  for the runner's life)
* ``full_cold_async``: as ``full_cold`` with a new ``AsyncIMDS`` per call
"""

from __future__ import annotations

import asyncio

import _proto

import ec2imds
from ec2imds import __version__
from ec2imds.client import IMDS, AsyncIMDS

args = _proto.arguments()
ENDPOINT = (args.host, args.port)
PATHS = list(_proto.COMMON_SUBSET)


def client() -> IMDS:
    return IMDS(endpoints=[ENDPOINT], token_ttl=_proto.TOKEN_TTL)


def aclient() -> AsyncIMDS:
    return AsyncIMDS(endpoints=[ENDPOINT], token_ttl=_proto.TOKEN_TTL)


imds = client()
_proto.require_loopback(imds.settings.endpoints[0][0], "IMDS endpoint")
LOOP = asyncio.new_event_loop()
AIMDS = aclient()


def full_all(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(imds.all()), imds.clear_cache)
    return t, box[-1].meta_data.instance_id, {}


def full_raw(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(imds.raw_tree()), imds.clear_cache)
    raw = box[-1]
    return t, raw["meta-data"]["instance-id"].decode(), {}


def full_cold(n: int) -> _proto.Result:
    box = []

    def once() -> None:
        with client() as c:
            box.append(c.all())

    t = _proto.timed(n, once)
    return t, box[-1].meta_data.instance_id, {}


def common(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(imds.values(PATHS)), imds.clear_cache)
    return t, box[-1][_proto.ONE_KEY], {}


def common_view(n: int) -> _proto.Result:
    box = []

    def once() -> None:
        md = imds.meta_data
        box.append(
            [
                md.instance_id,
                md.instance_type,
                md.ami_id,
                md.placement.availability_zone,
                md.placement.region,
                md.local_ipv4,
                md.local_hostname,
                md.mac,
            ]
        )

    t = _proto.timed(n, once, imds.clear_cache)
    return t, box[-1][0], {}


def one_key(n: int) -> _proto.Result:
    get = imds.driver.get
    box = []
    t = _proto.timed(1, lambda: box.extend(get(_proto.ONE_KEY) for _ in range(n)))
    return t, box[-1].decode(), {}


def one_key_typed(n: int) -> _proto.Result:
    box = []

    def loop() -> None:
        for _ in range(n):
            imds.clear_cache()
            box.append(imds.meta_data.instance_id)

    t = _proto.timed(1, loop)
    return t, box[-1], {}


def full_all_async(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(LOOP.run_until_complete(AIMDS.all())), AIMDS.clear_cache)
    return t, box[-1].meta_data.instance_id, {}


def full_cold_async(n: int) -> _proto.Result:
    box = []

    async def once() -> None:
        async with aclient() as c:
            box.append(await c.all())

    t = _proto.timed(n, lambda: LOOP.run_until_complete(once()))
    return t, box[-1].meta_data.instance_id, {}


_proto.serve(
    "ec2imds",
    __version__,
    {
        "full_all": full_all,
        "full_raw": full_raw,
        "full_cold": full_cold,
        "common": common,
        "common_view": common_view,
        "one_key": one_key,
        "one_key_typed": one_key_typed,
        "full_all_async": full_all_async,
        "full_cold_async": full_cold_async,
    },
    {},
    notes=[f"imported from {ec2imds.__file__}"],
)
imds.close()
LOOP.run_until_complete(AIMDS.aclose())
LOOP.close()
