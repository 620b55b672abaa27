"""ec2imds 0.0.3's module API (``IMDSWrapper``, ``IMDSCategory``) against the simulator.

The README example runs as written; the rest of the kept API is pinned; and each bug
0.0.3 had is shown fixed by one test.
"""

from __future__ import annotations

import datetime as dt
import gzip
import importlib
import json
import random
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import ec2imds
import ec2imds.errors
from ec2imds import (
    IMDSCategory,
    IMDSConfigError,
    IMDSDisabled,
    IMDSError,
    IMDSHTTPError,
    IMDSUnavailable,
    IMDSWrapper,
)
from ec2imds import wrapper as wrapper_module
from ec2imds._category_json import category_is_dir
from ec2imds.endpoints import Endpoint
from ec2imds.simulator import IMDSSimulator, SimResponse
from ec2imds.simulator.instance import default_tree

GOLDEN = Path(__file__).resolve().parent / "golden"
INSTANCE_ID = "i-0123456789abcdef0"
#: Larger than the 4096-byte reads of the README example, with NULs and a gzip member.
USER_DATA = (
    b"\x00\xff\x00" + gzip.compress(random.Random(5).randbytes(9000), mtime=0) + b"\x00trailing\r\n"
)
#: 0.0.3's own type_f list for meta-data/network/interfaces/macs, verbatim.
MACS_TYPE_F: list[tuple[re.Pattern[str], Any]] = [
    (
        re.compile(
            """meta-data\\/network\\/interfaces\\/macs\\/(?:(?:[a-fA-F0-9]{2}:)){5}[a-fA-F0-9]{2}"""
            """\\/(device-number|network-card-index)"""
        ),
        int,
    ),
    (
        re.compile(
            """meta-data\\/network\\/interfaces\\/macs\\/(?:(?:[a-fA-F0-9]{2}:)){5}[a-fA-F0-9]{2}"""
            """\\/(ipv4-associations\\/public-ip|ipv6s|local-ipv4s|public-ipv4s|security-groups"""
            """|security-group-ids|subnet-ipv6-cidr-blocks|vpc-ipv4-cidr-blocks"""
            """|vpc-ipv6-cidr-blocks)"""
        ),
        lambda s: s.split("\n"),
    ),
]


def categories() -> list[str]:
    """``ec2imds -L`` (pinned by tests/golden/list-all.txt, see test_cli.py)."""
    return (GOLDEN / "list-all.txt").read_text().splitlines()


def fetch(w: IMDSWrapper, path: str, *args: Any) -> Any:
    """``w.dir_dict[path].func(*args)``, as 0.0.3 code calls it."""
    func = w.dir_dict[path].func
    assert func is not None
    return func(*args)


def wrapper(sim: IMDSSimulator, **kw: Any) -> IMDSWrapper:
    endpoints: list[Endpoint] = [(sim.host, sim.port)]
    kw.setdefault("retry_delay", dt.timedelta(milliseconds=1))
    return IMDSWrapper(endpoints=endpoints, **kw)


@pytest.fixture(scope="module")
def sim() -> Iterator[IMDSSimulator]:
    """A simulator for tests that only read; tests that count requests take deltas or
    start their own."""
    tree = default_tree()
    tree["user-data"] = USER_DATA
    with IMDSSimulator(tree, seed=5) as s:
        yield s
        assert s.faults.pending == 0


@pytest.fixture
def w(sim: IMDSSimulator) -> Iterator[IMDSWrapper]:
    with wrapper(sim) as made:
        yield made


# -- the README --------------------------------------------------------------------

#: The module example of the 0.0.3 README, as written (tabs and all; only its typo
#: ``w.read(4096)`` is ``u.read(4096)``).
README_EXAMPLE = (GOLDEN / "readme-module-example.py.txt").read_text()


class _RunParams:
    def __init__(self, t: str) -> None:
        self.t = t


def test_readme_module_example_runs_unchanged(
    sim: IMDSSimulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `IMDSWrapper()` as written: the AWS SDK variable points it at the simulator.
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", sim.url)
    monkeypatch.chdir(tmp_path)
    token_dir = tmp_path / "tokens"
    puts, rejected = sim.stats.puts, sim.stats.statuses[401]
    namespace: dict[str, Any] = {"rp": _RunParams(str(token_dir))}
    exec(compile(README_EXAMPLE, "README.md", "exec"), namespace)  # noqa: S102
    w: IMDSWrapper = namespace["w"]

    all_meta = namespace["all_meta"]
    assert list(all_meta) == categories()
    assert all_meta["meta-data/instance-id"] == INSTANCE_ID
    assert namespace["instance_id"] == INSTANCE_ID
    assert (tmp_path / "file").read_bytes() == USER_DATA
    assert capsys.readouterr().out.splitlines() == [
        "us-east-1a",
        "use1-az4",
        "None",
        "None",
        "None",
        "us-east-1",
    ]

    # The callbacks got (host, port): the file is named as 0.0.3 named it.
    token_file = token_dir / f"127.0.0.1:{sim.port}"
    assert [p.name for p in token_dir.iterdir()] == [token_file.name]
    assert stat.S_IMODE(token_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = json.loads(token_file.read_text())
    assert saved["token"] == w.get_token()[0]
    assert sim.stats.puts == puts + 1

    # A second wrapper with the same callbacks loads the token: no PUT.
    second = IMDSWrapper()
    second.on_new_token = namespace["on_new_token"]
    second.on_load_token = namespace["on_load_token"]
    assert fetch(second, "meta-data/placement/region") == "us-east-1"
    assert second.get_token()[0] == saved["token"]
    assert sim.stats.puts == puts + 1
    assert sim.stats.statuses[401] == rejected
    w.close()
    second.close()


def test_token_callbacks_get_the_endpoint_as_host_port(sim: IMDSSimulator) -> None:
    saved: list[tuple[str, dt.datetime, Endpoint]] = []
    asked: list[Endpoint] = []

    def on_new_token(token: str, expiry: dt.datetime, endpoint: Endpoint) -> None:
        saved.append((token, expiry, endpoint))

    def on_load_token(endpoint: Endpoint) -> tuple[str, dt.datetime] | None:
        asked.append(endpoint)
        return None

    with wrapper(sim) as w:
        w.on_new_token = on_new_token
        w.on_load_token = on_load_token
        assert fetch(w, "meta-data/instance-id") == INSTANCE_ID
        token, expiry, _ = w.get_token()
    assert asked
    assert set(asked) == {("127.0.0.1", sim.port)}
    assert saved == [(token, expiry, ("127.0.0.1", sim.port))]
    assert expiry > dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=5)


def test_a_stale_token_from_the_callback_is_replaced(sim: IMDSSimulator) -> None:
    """0.0.3's "leftover token from the image" case: IMDS rejects the loaded token (401),
    a new one is fetched and handed to ``on_new_token``."""
    saved: list[str] = []
    stale = ("stale-token-from-the-image", dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    rejected, puts = sim.stats.statuses[401], sim.stats.puts
    with wrapper(sim) as w:
        w.on_load_token = lambda endpoint: stale
        w.on_new_token = lambda token, expiry, endpoint: saved.append(token)
        assert fetch(w, "meta-data/instance-id") == INSTANCE_ID
        assert saved == [w.get_token()[0]]
    assert saved[0] != stale[0]
    assert sim.stats.statuses[401] == rejected + 1
    assert sim.stats.puts == puts + 1


def test_star_import_provides_the_api() -> None:
    namespace: dict[str, Any] = {}
    exec("from ec2imds import *", namespace)  # noqa: S102
    assert sorted(ec2imds.__all__) == sorted(n for ns in ec2imds._PUBLIC.values() for n in ns)
    for name in ec2imds.__all__:
        assert namespace[name] is getattr(ec2imds, name)
    assert {"IMDSWrapper", "IMDSCategory", "IMDS", "AsyncIMDS", "Settings", "IMDSError"} <= set(
        namespace
    )
    assert {"FileTokenStore", "MemoryTokenStore", "CallbackTokenStore"} <= set(namespace)
    assert namespace["IMDSWrapper"] is wrapper_module.IMDSWrapper
    assert set(ec2imds.errors.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ec2imds.nope  # type: ignore[attr-defined]


def test_the_type_checkers_see_the_names_the_package_gives() -> None:
    """``ec2imds._PUBLIC`` is the list; the ``TYPE_CHECKING`` imports generated from it
    (``python -m codegen.generate``) say the same, and each name is its module's."""
    import ast
    import inspect

    seen: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(inspect.getsource(ec2imds))):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                assert stmt.module is not None
                for alias in stmt.names:
                    seen.setdefault(stmt.module, set()).add(alias.name)
    assert seen == {module: set(names) for module, names in ec2imds._PUBLIC.items()}
    for module, names in ec2imds._PUBLIC.items():
        for name in names:
            assert getattr(ec2imds, name) is getattr(importlib.import_module(module), name)


# -- dir_dict and values -----------------------------------------------------------


def test_dir_dict_has_every_category_and_the_0_0_3_names(w: IMDSWrapper) -> None:
    assert list(w.dir_dict) == categories()
    for path, category in w.dir_dict.items():
        assert isinstance(category, IMDSCategory)
        assert category.path == path
        assert callable(category.func)
    for old, new in [
        ("meta-data/instance-identity/document", "dynamic/instance-identity/document"),
        ("meta-data/instance-identity/pkcs7", "dynamic/instance-identity/pkcs7"),
        ("meta-data/instance-identity/signature", "dynamic/instance-identity/signature"),
        ("meta-data/fws/instance-monitoring", "dynamic/fws/instance-monitoring"),
    ]:
        assert old in w.dir_dict
        assert w.dir_dict[old] is w.dir_dict[new]
        assert old not in list(w.dir_dict)
    assert "meta-data/nope" not in w.dir_dict
    with pytest.raises(KeyError):
        w.dir_dict["meta-data/nope"]


def test_values_are_typed_and_404_is_none(w: IMDSWrapper) -> None:
    def get(path: str) -> Any:
        return fetch(w, path, None)  # 0.0.3 passed the directive's argument

    launch_index = get("meta-data/ami-launch-index")
    assert launch_index == 0
    assert type(launch_index) is int
    assert get("meta-data/security-groups") == ["web", "default"]
    assert get("meta-data/instance-id") == INSTANCE_ID
    assert get("meta-data/local-ipv4") == "10.0.1.23"
    assert get("meta-data/block-device-mapping") == {
        "ami": "/dev/xvda",
        "ebs1": "sdf",
        "ephemeral0": "sdb",
        "root": "/dev/xvda",
    }
    document = get("meta-data/instance-identity/document")
    assert document["instanceId"] == INSTANCE_ID
    assert document["region"] == "us-east-1"
    assert get("meta-data/tags/instance")["Name"] == "web-1"
    assert get("meta-data/iam/info")["Code"] == "Success"
    assert get("meta-data/events/maintenance/scheduled") == []
    eth0 = get("meta-data/network/interfaces/macs")["0e:49:61:0f:c3:11"]
    assert eth0["device-number"] == 0
    assert type(eth0["device-number"]) is int
    assert eth0["vpc-ipv4-cidr-blocks"] == ["10.0.0.0/16", "100.64.0.0/16"]
    assert get("meta-data/kernel-id") is None
    assert get("meta-data/placement/partition-number") is None
    assert get("meta-data/spot/instance-action") is None


def test_all_returns_every_category(w: IMDSWrapper, sim: IMDSSimulator) -> None:
    everything = w.all()
    assert list(everything) == categories()
    assert everything["meta-data/placement/region"] == "us-east-1"
    assert everything["meta-data/ami-launch-index"] == 0
    assert everything["dynamic/instance-identity/document"]["instanceId"] == INSTANCE_ID
    assert everything["meta-data/kernel-id"] is None
    json.dumps(everything)  # JSON-compatible all the way down


# -- the rest of the kept API ------------------------------------------------------


def test_endpoint_helpers() -> None:
    assert IMDSWrapper.construct_endpoint_str(("169.254.169.254", 80)) == "169.254.169.254:80"
    assert IMDSWrapper.construct_endpoint_str(("169.254.169.254", None)) == "169.254.169.254"
    assert IMDSWrapper.construct_endpoint_str(("fd00:ec2::254", 80)) == "[fd00:ec2::254]:80"
    assert IMDSWrapper.construct_endpoint_str(("fd00:ec2::254", None)) == "[fd00:ec2::254]"
    assert IMDSWrapper.mk_endpoint_from_str("169.254.169.254") == ("169.254.169.254", None)
    assert IMDSWrapper.mk_endpoint_from_str(" 127.0.0.1:8080 ") == ("127.0.0.1", 8080)
    assert IMDSWrapper.mk_endpoint_from_str("[fd00:ec2::254]:80") == ("fd00:ec2::254", 80)
    assert IMDSWrapper.mk_endpoint_from_str("imds.local:81") == ("imds.local", 81)
    text = "169.254.169.254,[fd00:ec2::254]:80"
    parsed = IMDSWrapper.mk_endpoint_list_from_str(text)
    assert parsed == [("169.254.169.254", None), ("fd00:ec2::254", 80)]
    assert IMDSWrapper.construct_endpoint_list_str(parsed) == text
    for bad in ("", "a b", "[zz::1]", "1.2.3.4:0", "1.2.3.4,"):
        with pytest.raises(ValueError, match=r"invalid|out of range|empty"):
            IMDSWrapper.mk_endpoint_list_from_str(bad)
    with pytest.raises(IMDSConfigError):
        IMDSWrapper.mk_endpoint_from_str("http://x/y")


def test_token_methods(sim: IMDSSimulator) -> None:
    with wrapper(sim) as w:
        assert w.token_expired()  # nothing yet
        puts = sim.stats.puts
        token, expiry, endpoint = w.get_token()
        assert token
        assert expiry.tzinfo is not None
        assert expiry > dt.datetime.now(dt.timezone.utc)
        assert endpoint == ("127.0.0.1", sim.port)
        assert not w.token_expired()
        assert w.get_token()[0] == token  # reused, no new PUT
        assert sim.stats.puts == puts + 1

        w.expire_token()
        assert w.token_expired()
        fresh = w.get_token()[0]
        assert fresh != token
        assert sim.stats.puts == puts + 2

        w.reset_states()
        assert w.token_expired()
        assert fetch(w, "meta-data/instance-id") == INSTANCE_ID
        assert sim.stats.puts == puts + 3
        assert not w.token_expired()


def test_open_url_streams_and_404_is_none(w: IMDSWrapper) -> None:
    stream = w.open_url("meta-data/instance-id")
    assert stream is not None
    with stream:
        assert stream.read(4) == b"i-01"
        assert stream.read() == INSTANCE_ID[4:].encode()
    listing = w.open_url("meta-data/placement/", "latest")
    assert listing is not None
    assert b"region" in listing.read().split(b"\n")
    assert w.open_url("meta-data/nope") is None


def test_load_scalar(w: IMDSWrapper) -> None:
    assert w.load_scalar("meta-data/instance-id") == INSTANCE_ID
    assert w.load_scalar("meta-data/ami-launch-index", int) == 0
    assert w.load_scalar("meta-data/security-groups", lambda s: s.split("\n")) == [
        "web",
        "default",
    ]
    assert w.load_scalar("meta-data/kernel-id", int) is None


def test_load_tree_with_0_0_3_type_f(w: IMDSWrapper) -> None:
    macs = w.load_tree("meta-data/network/interfaces/macs", 3, MACS_TYPE_F)
    assert macs is not None
    assert set(macs) == {"0e:49:61:0f:c3:11", "0e:49:61:0f:c3:22"}
    eth0 = macs["0e:49:61:0f:c3:11"]
    assert eth0["device-number"] == 0
    assert type(eth0["device-number"]) is int
    assert "network-card-index" not in eth0  # served by multi-card instances only
    assert eth0["local-ipv4s"] == ["10.0.1.23", "10.0.1.24"]
    assert eth0["security-groups"] == ["web", "default"]
    assert eth0["ipv4-associations"] == {"54.210.1.23": "10.0.1.23"}  # no pattern: text
    assert eth0["subnet-id"] == "subnet-0a1b2c3d4e5f60101"
    assert macs["0e:49:61:0f:c3:22"]["device-number"] == 1

    assert w.load_tree("meta-data/block-device-mapping", 1) == {
        "ami": "/dev/xvda",
        "ebs1": "sdf",
        "ephemeral0": "sdb",
        "root": "/dev/xvda",
    }
    assert w.load_tree("meta-data/nope", 1) is None
    with pytest.raises(RecursionError):
        w.load_tree("meta-data/block-device-mapping", -1)


def test_open_userdata_is_byte_exact(w: IMDSWrapper, sim: IMDSSimulator) -> None:
    stream = w.open_userdata()
    assert stream is not None
    chunks = []
    with stream:
        while chunk := stream.read(4096):
            assert len(chunk) <= 4096
            chunks.append(chunk)
    assert len(chunks) > 1
    assert b"".join(chunks) == USER_DATA
    assert sim.stats.count("/latest/user-data") >= 1


def test_open_userdata_without_user_data_is_none() -> None:
    tree = default_tree()
    del tree["user-data"]
    with IMDSSimulator(tree) as own, wrapper(own) as w:
        assert w.open_userdata() is None


# -- the bugs of 0.0.3, fixed ------------------------------------------------------


def test_fixed_every_public_key_is_kept(sim: IMDSSimulator) -> None:
    sim.set("meta-data/public-keys/2=third-key", {"openssh-key": "ssh-ed25519 AAAA third"})
    try:
        with wrapper(sim) as w:
            keys = fetch(w, "meta-data/public-keys")
    finally:
        assert sim.delete("meta-data/public-keys/2")  # by index (the full key is not found)
    # 0.0.3 assigned after its loop: only the last key came back.
    assert set(keys) == {"0=my-key", "1=other-key", "2=third-key"}
    assert keys["0=my-key"]["openssh-key"].startswith("ssh-rsa ")
    assert keys["1=other-key"]["openssh-key"].startswith("ssh-ed25519 ")
    assert keys["2=third-key"] == {"openssh-key": "ssh-ed25519 AAAA third"}


def test_fixed_identity_paths_are_read_from_dynamic(sim: IMDSSimulator) -> None:
    names = [
        "meta-data/instance-identity/document",
        "meta-data/instance-identity/pkcs7",
        "meta-data/instance-identity/signature",
        "meta-data/fws/instance-monitoring",
    ]
    before = sim.stats.requests
    with wrapper(sim) as w:
        values = {name: fetch(w, name) for name in names}
        w.all()
    seen = {path for _, path in sim.stats.requests - before}
    assert {
        "/latest/dynamic/instance-identity/document",
        "/latest/dynamic/instance-identity/pkcs7",
        "/latest/dynamic/instance-identity/signature",
        "/latest/dynamic/fws/instance-monitoring",
    } <= seen
    assert not [
        p
        for p in seen
        if p.startswith(("/latest/meta-data/instance-identity", "/latest/meta-data/fws"))
    ]
    assert values["meta-data/instance-identity/document"]["instanceId"] == INSTANCE_ID
    assert values["meta-data/fws/instance-monitoring"] == "disabled"
    assert values["meta-data/instance-identity/pkcs7"] == sim.get("dynamic/instance-identity/pkcs7")


def test_fixed_5xx_is_retried(sim: IMDSSimulator) -> None:
    path = "/latest/meta-data/instance-type"
    before = sim.stats.count(path)
    sim.faults.burst(503, 2, path="meta-data/instance-type")
    with wrapper(sim) as w:
        assert fetch(w, "meta-data/instance-type") == "m5.large"
    assert sim.faults.pending == 0
    assert sim.stats.count(path) == before + 3
    # 0.0.3's `tries` is the attempt budget: tries=1 means no retry.
    sim.faults.burst(503, 1, path="meta-data/instance-type")
    with wrapper(sim, tries=1) as w, pytest.raises(IMDSHTTPError, match="503"):
        fetch(w, "meta-data/instance-type")
    assert sim.stats.count(path) == before + 4


def test_fixed_no_header_state_is_shared_between_wrappers() -> None:
    """0.0.3's ``headers: dict = {}`` default collected the token header across requests
    and wrappers. Each simulator here must see only tokens it issued, and no token on a
    token request."""
    with IMDSSimulator() as sim_a, IMDSSimulator() as sim_b:
        issued: dict[str, set[str]] = {"a": set(), "b": set()}
        presented: dict[str, list[str | None]] = {"a": [], "b": []}

        def record(name: str, sim: IMDSSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
            handle = sim.handle

            def recording(method: str, path: str, headers: Mapping[str, str]) -> SimResponse:
                token = {k.lower(): v for k, v in headers.items()}.get("x-aws-ec2-metadata-token")
                response = handle(method, path, headers)
                if path.endswith("/api/token"):
                    assert token is None, "a token request carried a token header"
                    if response.status == 200:
                        issued[name].add(response.body.decode())
                else:
                    presented[name].append(token)
                return response

            monkeypatch.setattr(sim, "handle", recording)

        with pytest.MonkeyPatch.context() as mp:
            record("a", sim_a, mp)
            record("b", sim_b, mp)
            with wrapper(sim_a) as wa, wrapper(sim_b) as wb:
                for path in ("meta-data/instance-id", "meta-data/hostname", "meta-data/mac"):
                    for w in (wa, wb, wa):
                        w.expire_token()  # a new token each time: header state changes
                        fetch(w, path)
                    wb.load_scalar(path)
                    wa.open_url(path)
        for name, sim in (("a", sim_a), ("b", sim_b)):
            assert presented[name], name
            assert set(presented[name]) <= issued[name], name
            assert sim.stats.statuses[401] == 0
        assert not issued["a"] & issued["b"]


def test_fixed_errors_are_exceptions(sim: IMDSSimulator) -> None:
    for name in ec2imds.errors.__all__:
        assert issubclass(getattr(ec2imds.errors, name), Exception), name

    def error_of(w: IMDSWrapper, path: str) -> IMDSError:
        caught: list[Exception] = []
        try:
            fetch(w, path)
        except Exception as exc:  # what 0.0.3's BaseException errors slipped past
            caught.append(exc)
        assert len(caught) == 1, "no error raised"
        error = caught[0]
        assert isinstance(error, IMDSError)
        return error

    with IMDSSimulator() as closed:
        endpoint = (closed.host, closed.port)
    with IMDSWrapper(endpoints=[endpoint], retry_delay=dt.timedelta(milliseconds=1)) as w:
        assert isinstance(error_of(w, "meta-data/instance-id"), IMDSUnavailable)
    sim.faults.burst(500, 3, path="meta-data/ami-id")
    with wrapper(sim) as w:
        failed = error_of(w, "meta-data/ami-id")
        assert isinstance(failed, IMDSHTTPError)
        assert failed.status == 500
    with IMDSSimulator() as off:
        off.faults.burst(403, 1000, method="PUT")
        with wrapper(off) as w:
            assert isinstance(error_of(w, "meta-data/ami-id"), IMDSDisabled)
        off.faults.clear()


def test_fixed_one_connection_for_many_requests() -> None:
    leaves = [c for c in categories() if not category_is_dir(c)][:20]
    assert len(leaves) == 20
    with IMDSSimulator(keep_alive=True) as own, wrapper(own) as w:
        values = [fetch(w, path) for path in leaves]
        assert own.stats.gets == 20
        assert own.stats.total == 21  # and one token PUT
        assert own.stats.connections == 1  # keep-alive, and no probe connection
    assert values[leaves.index("meta-data/instance-id")] == INSTANCE_ID


def test_0_0_3_module_attributes() -> None:
    import ec2imds

    assert ec2imds.ver == ec2imds.__version__
    assert ec2imds.rev == 0
    assert ec2imds.imds_ver == "latest"
