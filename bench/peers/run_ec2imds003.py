"""Runner for ec2imds 0.0.3 (the original), run by its own venv's interpreter.

0.0.3 shares this project's package name: it is only ever imported here, in
``bench/.peers/ec2imds-0.0.3``. Library mode, one warm ``IMDSWrapper`` (token and the
endpoint chosen by its RFC 8305 ``_eyeball`` race kept in memory):

* ``full_all``: ``IMDSWrapper.all()`` (every directive it defines, one GET at a time,
  a new TCP connection per request: urllib has no keep-alive)
* ``full_cold``: a new ``IMDSWrapper`` per call, then ``all()`` (eyeball + PUT)
* ``common``: the COMMON_SUBSET directives, one after another
* ``one_key``: the ``meta-data/instance-id`` directive (no value cache in 0.0.3)
"""

from __future__ import annotations

import datetime

import _proto

import ec2imds
from ec2imds import IMDSWrapper

if getattr(ec2imds, "ver", None) != "0.0.3":
    raise SystemExit(f"expected ec2imds 0.0.3, imported {getattr(ec2imds, '__file__', '?')}")

args = _proto.arguments()
ENDPOINT = (args.host, args.port)
TTL = datetime.timedelta(seconds=_proto.TOKEN_TTL)


def wrapper() -> IMDSWrapper:
    w = IMDSWrapper(endpoints=[ENDPOINT], token_ttl=TTL)
    for host, _port in w._endpoints:
        _proto.require_loopback(host, "IMDSWrapper endpoint")
    return w


w = wrapper()
ID = w.dir_dict[_proto.ONE_KEY]


def full_all(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(w.all()))
    return t, box[-1][_proto.ONE_KEY], {"directives": len(box[-1])}


def full_cold(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(n, lambda: box.append(wrapper().all()))
    return t, box[-1][_proto.ONE_KEY], {}


def common(n: int) -> _proto.Result:
    box = []
    funcs = [w.dir_dict[p].func for p in _proto.COMMON_SUBSET]
    t = _proto.timed(n, lambda: box.append([f(None) for f in funcs]))
    return t, box[-1][0], {}


def one_key(n: int) -> _proto.Result:
    box = []
    t = _proto.timed(1, lambda: box.extend(ID.func(None) for _ in range(n)))
    return t, box[-1], {}


_proto.serve(
    "ec2imds 0.0.3",
    ec2imds.ver,
    {"full_all": full_all, "full_cold": full_cold, "common": common, "one_key": one_key},
    {},
    notes=[
        "explicit port: _eyeball connects to (host, port) as given; "
        "getservbyname('http') only fills in a port-less endpoint"
    ],
)
