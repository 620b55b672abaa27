"""Runner for ec2-metadata (adamchainz, 3.x), run by its own venv's interpreter.

``EC2Metadata`` computes ``dynamic_url``, ``metadata_url`` and ``userdata_url`` from the
default ``service_url`` in ``__init__``: setting ``service_url`` alone would still send
every GET to 169.254.169.254 (checked below, without any network). All four URLs are set,
and the runner refuses to start unless each one is loopback.

``userdata_url`` keeps the library's trailing slash (``user-data/``): the simulator
serves a leaf asked for that way, as AWS does (boto/boto#1900). Values are
``cached_property``s: between timed calls the runner forgets them with
``BaseLazyObject.clear_all`` (the base method: ``EC2Metadata.clear_all`` would also drop
the token).

* ``full_all``: read every public property of ``EC2Metadata``, of every
  ``NetworkInterface`` and ``PublicKey``, and every tag value (errors counted, not raised)
* ``full_cold``: the same with a new ``EC2Metadata`` (new pool, new token) per call
* ``common``: the COMMON_SUBSET attributes
* ``one_key``: ``instance_id`` (its cached value dropped before each read)
"""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import version

import _proto
import ec2_metadata
import urllib3
from ec2_metadata import BaseLazyObject, EC2Metadata, NetworkInterface, PublicKey

args = _proto.arguments()
BASE = f"http://{args.host}:{args.port}/latest/"
URL_ATTRS = ("service_url", "metadata_url", "dynamic_url", "userdata_url")

# What setting service_url alone does (no request is made: properties are lazy).
_probe = EC2Metadata(pool_manager=urllib3.PoolManager())
_probe.service_url = BASE
SERVICE_URL_ALONE = {a: getattr(_probe, a) for a in URL_ATTRS}
assert not _proto.is_loopback(str(urllib3.util.parse_url(_probe.metadata_url).host))
del _probe


def make() -> EC2Metadata:
    md = EC2Metadata(pool_manager=urllib3.PoolManager())
    md.service_url = BASE
    md.metadata_url = f"{BASE}meta-data/"
    md.dynamic_url = f"{BASE}dynamic/"
    md.userdata_url = f"{BASE}user-data/"
    for attr in URL_ATTRS:
        _proto.require_loopback(getattr(md, attr), f"EC2Metadata.{attr}")
    return md


def public_properties(cls: type) -> list[str]:
    return sorted(
        name
        for name in dir(cls)
        if not name.startswith("_")
        and isinstance(getattr(cls, name, None), property | cached_property)
    )


MD_PROPS = public_properties(EC2Metadata)
NI_PROPS = public_properties(NetworkInterface)
PK_PROPS = public_properties(PublicKey)

md = make()


def read(obj: object, name: str, errors: list[str], prefix: str) -> object:
    try:
        return getattr(obj, name)
    except Exception as exc:
        errors.append(f"{prefix}{name}: {type(exc).__name__}")
        return None


def read_everything(m: EC2Metadata) -> dict[str, object]:
    errors: list[str] = []
    count = 0
    values: dict[str, object] = {}
    for name in MD_PROPS:
        values[name] = read(m, name, errors, "")
        count += 1
    for ni in (values.get("network_interfaces") or {}).values():
        for name in NI_PROPS:
            read(ni, name, errors, "network_interfaces[].")
            count += 1
    for pk in (values.get("public_keys") or {}).values():
        for name in PK_PROPS:
            read(pk, name, errors, "public_keys[].")
            count += 1
    tags = values.get("tags")
    if tags is not None:
        values["tags"] = dict(tags.items())  # reads every tag value
        count += len(values["tags"])
    return {"values": values, "attributes": count, "errors": errors}


def full_all(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(
        n, lambda: box.append(read_everything(md)), lambda: BaseLazyObject.clear_all(md)
    )
    got = box[-1]
    info = {"attributes": got["attributes"], "errors": got["errors"]}
    return t, got["values"]["instance_id"], info


def full_cold(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(read_everything(make())))
    return t, box[-1]["values"]["instance_id"], {"attributes": box[-1]["attributes"]}


def common(n: int) -> _proto.Result:
    box = []
    names = list(_proto.COMMON_SUBSET.values())
    t = _proto.timed(
        n, lambda: box.append([getattr(md, a) for a in names]), lambda: BaseLazyObject.clear_all(md)
    )
    return t, box[-1][0], {}


def one_key(n: int) -> _proto.Result:
    box = []
    cache = md.__dict__

    def loop() -> None:
        for _ in range(n):
            cache.pop("instance_id", None)
            box.append(md.instance_id)

    t = _proto.timed(1, loop)
    return t, box[-1], {}


_proto.serve(
    "ec2-metadata",
    version("ec2-metadata"),
    {"full_all": full_all, "full_cold": full_cold, "common": common, "one_key": one_key},
    {},
    notes=[
        f"setting only service_url leaves: {SERVICE_URL_ALONE}",
        f"reads {len(MD_PROPS)} EC2Metadata properties, {len(NI_PROPS)} per network "
        f"interface, {len(PK_PROPS)} per public key, and every tag",
        f"module {ec2_metadata.__file__}",
    ],
)
