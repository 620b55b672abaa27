"""What goes over the wire: the simulator's answers as raw bytes (IMDS.md §1.7), recorded
EC2 answers replayed through every driver, a server that behaves like Amazon's mock
(AEMM), and what the crawl makes of listings, partial failures and changes over time.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Final

import pytest

from ec2imds import IMDS, AsyncIMDS
from ec2imds.errors import IMDSError, IMDSHTTPError, IMDSValidationError, RedirectRefused
from ec2imds.models import (
    IamInfo,
    InstanceIdentityDocument,
    Placement,
    RebalanceRecommendation,
)
from ec2imds.simulator import IMDSSimulator
from ec2imds.simulator.instance import default_tree
from ec2imds.simulator.server import reachable_url
from tests.support.aemm import EIA_ID, AEMMLike
from tests.support.command import run
from tests.support.drivers import ClientFactory, fast
from tests.support.hooked import HookedSimulator
from tests.support.raw_server import RawServer, http_answer, read_answer
from tests.support.recorded import IAM_INFO, RECORDED_TOKEN, recorded
from tests.support.recorded import RECORDED_USER_DATA as USER_DATA

TTL = "X-aws-ec2-metadata-token-ttl-seconds"


# -- the simulator, byte for byte ---------------------------------------------------------


def raw_request(sim: IMDSSimulator, request: str) -> tuple[str, dict[str, str], bytes]:
    """Send ``request`` on a new connection (asking for keep-alive) and read until the
    server closes it: the status line, the headers, the body."""
    with socket.create_connection(sim.endpoint, timeout=10) as s:
        s.sendall(request.encode())
        data = read_answer(s)
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(": ")
        headers[name] = value
    return status, headers, body


def get(path: str, token: str, *, keep_alive: bool = True) -> str:
    conn = "Connection: keep-alive\r\n" if keep_alive else ""
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n{conn}X-aws-ec2-metadata-token: {token}\r\n\r\n"


@pytest.fixture(scope="module")
def sim() -> Any:
    with IMDSSimulator() as s:
        yield s


@pytest.fixture(scope="module")
def token(sim: IMDSSimulator) -> str:
    status, headers, body = raw_request(
        sim, f"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n{TTL}: 21600\r\n\r\n"
    )
    assert status == "HTTP/1.1 200 OK"
    assert headers["X-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    return body.decode()


def test_every_answer_closes_the_connection_even_when_keep_alive_is_asked(
    sim: IMDSSimulator, token: str
) -> None:
    # read_answer returns only because the server closed the connection after the body.
    status, headers, body = raw_request(sim, get("/latest/meta-data/instance-id", token))
    assert status == "HTTP/1.1 200 OK"
    assert headers["Connection"] == "close"
    assert body == str(sim.get("meta-data/instance-id")).encode()
    assert headers["Content-Length"] == str(len(body))
    assert headers["Server"] == "EC2ws"
    assert headers["Accept-Ranges"] == "none"
    assert headers["Content-Type"] == "text/plain"
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", headers["Last-Modified"])
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", headers["Date"])


def read_one(sock: socket.socket) -> tuple[bytes, bytes]:
    """One answer on a kept-alive connection: its head, and its body (Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed before the answer's head"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed before the answer's body"
        body += chunk
    return head, body


def test_keep_alive_only_when_asked_for(token: str) -> None:
    with IMDSSimulator(keep_alive=True) as kept:
        with socket.create_connection(kept.endpoint, timeout=10) as s:
            fresh = f"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n{TTL}: 60\r\n\r\n"
            s.sendall(fresh.encode())
            first, own = read_one(s)
            s.sendall(get("/latest/meta-data/instance-id", own.decode()).encode())
            second, _ = read_one(s)  # the same connection answers a second request
        assert b"Connection: close" not in first
        assert second.startswith(b"HTTP/1.1 200 OK")
        assert kept.stats.connections == 1


def test_a_nested_directory_without_its_slash_is_a_301_to_the_simulator(
    sim: IMDSSimulator, token: str
) -> None:
    status, headers, body = raw_request(
        sim, get("/latest/meta-data/iam/security-credentials", token)
    )
    assert status == "HTTP/1.1 301 Moved Permanently"
    assert headers["Location"] == f"{sim.url}/latest/meta-data/iam/security-credentials/"
    assert (body, headers["Content-Length"]) == (b"", "0")
    dated = raw_request(sim, get("/2021-03-23/meta-data/placement", token))[1]
    assert dated["Location"] == f"{sim.url}/2021-03-23/meta-data/placement/"


def test_tags_instance_and_the_roots_are_served_without_their_slash(
    sim: IMDSSimulator, token: str
) -> None:
    tags = raw_request(sim, get("/latest/meta-data/tags/instance", token))
    assert tags[0] == "HTTP/1.1 200 OK"
    assert tags[2] == raw_request(sim, get("/latest/meta-data/tags/instance/", token))[2]
    assert raw_request(sim, get("/latest/meta-data", token))[0] == "HTTP/1.1 200 OK"


def test_404_is_ec2s_xhtml_page(sim: IMDSSimulator, token: str) -> None:
    status, headers, body = raw_request(sim, get("/latest/meta-data/nothing-here", token))
    assert status == "HTTP/1.1 404 Not Found"
    assert headers["Content-Type"] == "text/html"
    assert body.startswith(b'<?xml version="1.0" encoding="iso-8859-1"?>\n<!DOCTYPE html')
    assert b"<title>404 - Not Found</title>" in body
    assert b"<h1>404 - Not Found</h1>" in body


def test_user_data_is_octet_stream(sim: IMDSSimulator, token: str) -> None:
    status, headers, _ = raw_request(sim, get("/latest/user-data", token))
    assert status == "HTTP/1.1 200 OK"
    assert headers["Content-Type"] == "application/octet-stream"


def test_get_on_the_token_path_is_405_allowing_options_and_put(
    sim: IMDSSimulator, token: str
) -> None:
    status, headers, body = raw_request(sim, get("/latest/api/token", token))
    assert status == "HTTP/1.1 405 Method Not Allowed"
    assert headers["Allow"] == "OPTIONS, PUT"
    assert (body, headers["Content-Length"]) == (b"", "0")
    for method in ("POST", "OPTIONS", "DELETE"):
        status, headers, body = raw_request(
            sim, f"{method} /latest/api/token HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        )
        assert status == "HTTP/1.1 405 Method Not Allowed"
        assert (headers["Allow"], body) == ("OPTIONS, PUT", b"")


def test_a_wildcard_bind_redirects_to_loopback() -> None:
    assert reachable_url("0.0.0.0", 1338) == "http://127.0.0.1:1338"
    assert reachable_url("::", 1338) == "http://[::1]:1338"
    assert reachable_url("127.0.0.2", 80) == "http://127.0.0.2:80"


def test_disabled_answers_403_to_everything() -> None:
    with IMDSSimulator(disabled=True) as off:
        put = f"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n{TTL}: 60\r\n\r\n"
        assert raw_request(off, put)[0] == "HTTP/1.1 403 Forbidden"
        assert raw_request(off, get("/latest/meta-data/", "t"))[0] == "HTTP/1.1 403 Forbidden"
        off.disabled = False
        assert raw_request(off, put)[0] == "HTTP/1.1 200 OK"


def test_64_concurrent_connects_are_all_accepted_and_answered(sim: IMDSSimulator) -> None:
    # socketserver's default backlog (5) drops SYNs under such a burst: one-second stalls
    # that look like client slowness. The kernel says what the listening socket allows.
    listing = subprocess.run(
        ["ss", "-Hltn", f"sport = :{sim.port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(listing[2]) >= 64, listing  # LISTEN's Send-Q: the accept backlog
    sockets = [socket.create_connection(sim.endpoint, timeout=10) for _ in range(64)]
    try:
        for s in sockets:
            s.sendall(f"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n{TTL}: 60\r\n\r\n".encode())
        answers = [read_answer(s) for s in sockets]
    finally:
        for s in sockets:
            s.close()
    assert all(a.startswith(b"HTTP/1.1 200 OK") for a in answers)


# -- recorded EC2 answers through every driver -------------------------------------------


@pytest.fixture
def ec2() -> Any:
    with RawServer(recorded) as server:
        yield server


def test_recorded_answers_through_every_driver(ec2: RawServer, make_client: ClientFactory) -> None:
    client = make_client(fast(ec2.endpoint))
    assert client.get("meta-data/instance-id") == b"i-0c7a1b2c3d4e5f607"
    assert client.get("meta-data/iam/info") == IAM_INFO
    # HTTP/1.0, no Content-Length: the body is what came before the close.
    assert client.get("user-data") == USER_DATA
    assert client.get("meta-data/nothing-here") is None  # the XHTML page is not a value
    with pytest.raises(RedirectRefused) as refused:
        client.get("meta-data/iam/security-credentials")
    assert refused.value.status == 301
    assert client.token().value == RECORDED_TOKEN.decode()
    assert ("GET", "/latest/meta-data/iam/security-credentials/") not in ec2.requests


def test_recorded_iam_info_is_typed(ec2: RawServer) -> None:
    with IMDS(endpoints=[ec2.endpoint]) as imds:
        info = imds.meta_data.iam.info
        assert info is not None
        assert info.code == "Success"
        assert str(info.instance_profile_arn) == "arn:aws:iam::123456789012:instance-profile/web"
        assert imds.user_data() == USER_DATA


# -- a server that behaves like AEMM ------------------------------------------------------


@pytest.fixture
def aemm() -> Any:
    with AEMMLike() as server:
        yield server


def test_aemm_all_exits_0_with_every_listed_value(aemm: AEMMLike, tmp_path: Path) -> None:
    result = run("-a", f"--imds=127.0.0.1:{aemm.endpoint[1]}", "-t", str(tmp_path))
    assert result.code == 0, result.err
    assert result.err == ""
    out = result.json()
    assert out["meta-data/ipv6"] is None  # not listed: absent, and never asked for
    assert "/latest/meta-data/ipv6" not in aemm.server.gets()
    assert out["meta-data/instance-id"] == "i-0123456789abcdef0"
    keys = aemm.tree["meta-data"]["public-keys"]
    assert set(keys) == {"0", "1"}  # listed as 0/ and 1/, without names
    assert out["meta-data/public-keys"] == keys
    assert out["meta-data/elastic-inference/associations"][EIA_ID]["version_2018_04_12"]
    assert set(out["meta-data/iam/security-credentials"]) == {"my-app-role"}


def _key(aemm: AEMMLike) -> str:
    key = aemm.tree["meta-data"]["public-keys"]["0"]["openssh-key"]
    assert isinstance(key, str)
    return key


def test_aemm_tree_exits_0_with_every_listed_value(aemm: AEMMLike, tmp_path: Path) -> None:
    result = run("--tree", f"--imds=127.0.0.1:{aemm.endpoint[1]}", "-t", str(tmp_path))
    assert result.code == 0, result.err
    tree = result.json()
    md = tree["meta-data"]
    assert "ipv6" not in md
    assert (
        md["elastic-inference"]["associations"][EIA_ID]["version_2018_04_12"][
            "elastic-inference-accelerator-type"
        ]
        == "eia1.medium"
    )
    assert md["public-keys"]["0"]["openssh-key"] == _key(aemm)
    assert md["placement"]["region"] == "us-east-1"
    gets = aemm.server.gets()
    # Each name listed both ways was read as the directory, never as a leaf.
    assert "/latest/meta-data/elastic-inference/associations" not in gets
    assert "/latest/meta-data/iam/security-credentials" not in gets


def test_aemm_through_the_library(aemm: AEMMLike) -> None:
    with IMDS(endpoints=[aemm.endpoint]) as imds:
        everything = imds.all()
        assert everything.meta_data is not None
        assert everything.meta_data.ipv6 is None
        keys = everything.meta_data.public_keys
        assert keys is not None
        assert keys[0].openssh_key == _key(aemm)
        assert imds.get(Placement).region == "us-east-1"
        ipv6_gets = [p for p in aemm.server.gets() if p.endswith("/ipv6")]
        assert ipv6_gets == []
        # A direct request still asks for that one path (and gets AEMM's junk).
        with pytest.raises(IMDSValidationError, match="meta-data/ipv6"):
            imds.value("meta-data/ipv6")
        assert "/latest/meta-data/ipv6" in aemm.server.gets()


def test_aemm_e_regex_and_a_direct_key(aemm: AEMMLike, tmp_path: Path) -> None:
    on = [f"--imds=127.0.0.1:{aemm.endpoint[1]}", "-t", str(tmp_path)]
    selected = run("-E", "meta-data/(ipv6|placement/region)", *on)
    assert selected.code == 0, selected.err
    assert selected.json() == {"meta-data/ipv6": None, "meta-data/placement/region": "us-east-1"}
    direct = run("meta-data/ipv6", *on)  # named: asked for, and AEMM's junk is refused
    assert direct.code == 1
    assert "meta-data/ipv6" in direct.err


# -- partial results -----------------------------------------------------------------------


def _bad_placement_tree() -> dict[str, Any]:
    tree: dict[str, Any] = default_tree()
    tree["meta-data"]["placement"]["partition-number"] = "not a number"
    return tree


def test_tree_prints_everything_but_the_failed_category(tmp_path: Path) -> None:
    with IMDSSimulator(_bad_placement_tree()) as sim:
        sim.faults.burst(500, 10, path="meta-data/ami-id")
        result = run("--tree", f"--imds=127.0.0.1:{sim.port}", "-t", str(tmp_path))
    assert result.code == 1
    lines = result.err.splitlines()
    assert "Traceback" not in result.err
    assert len(lines) == 2, lines
    assert any(line.startswith("ec2imds: meta-data/ami-id") and "500" in line for line in lines)
    assert any("meta-data/placement/partition-number" in line for line in lines)
    md = result.json()["meta-data"]
    assert "ami-id" not in md
    assert "partition-number" not in md["placement"]
    assert md["placement"]["region"] == "us-east-1"
    assert md["instance-id"] == "i-0123456789abcdef0"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_all_collects_failures_beside_the_model(kind: str) -> None:
    with IMDSSimulator(_bad_placement_tree()) as sim:
        sim.faults.burst(500, 10, path="meta-data/public-ipv4")
        failures: dict[str, IMDSError] = {}
        if kind == "sync":
            with IMDS(endpoints=[sim.endpoint]) as imds:
                everything = imds.all(failures)
                with pytest.raises(IMDSError):
                    imds.all()
        else:

            async def main() -> Any:
                async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:
                    found = await aimds.all(failures)
                    with pytest.raises(IMDSError):
                        await aimds.all()
                    return found

            import asyncio

            everything = asyncio.run(main())
    assert set(failures) == {"meta-data/public-ipv4", "meta-data/placement/partition-number"}
    md = everything.meta_data
    assert md.public_ipv4 is None
    assert md.placement.partition_number is None
    assert md.placement.region == "us-east-1"
    assert md.instance_id == "i-0123456789abcdef0"


def test_a_value_ec2_always_serves_cannot_be_left_out() -> None:
    with IMDSSimulator() as sim, IMDS(endpoints=[sim.endpoint]) as imds:
        sim.faults.burst(500, 10, path="meta-data/ami-id")
        sim.faults.burst(500, 10, path="meta-data/public-ipv4")
        failures: dict[str, IMDSError] = {}
        with pytest.raises(IMDSHTTPError, match="meta-data/ami-id") as failed:
            imds.all(failures)  # the fetch's own error, not "missing"
        assert failed.value.status == 500
        assert "meta-data/public-ipv4" in failures  # what was collected is handed over
        sim.faults.clear()
        sim.set("meta-data/ami-launch-index", "zero")
        imds.clear_cache()
        with pytest.raises(IMDSValidationError, match="'zero' is not an integer"):
            imds.all({})


def test_a_failed_listing_is_the_error_of_the_models_below_it() -> None:
    with IMDSSimulator() as sim, IMDS(endpoints=[sim.endpoint]) as imds:
        sim.faults.burst(500, 10, path="meta-data/placement/")
        failures: dict[str, IMDSError] = {}
        with pytest.raises(IMDSHTTPError, match="meta-data/placement/") as failed:
            imds.get(Placement, failures)
        assert failed.value.status == 500
        assert list(failures) == ["meta-data/placement"]


def test_get_reads_a_document_model_from_its_bytes() -> None:
    with IMDSSimulator() as sim, IMDS(endpoints=[sim.endpoint]) as imds:
        assert imds.get(IamInfo).code == "Success"
        assert imds.get(InstanceIdentityDocument).region == "us-east-1"
        with pytest.raises(IMDSValidationError, match="absent on this instance"):
            imds.get(RebalanceRecommendation)
        sim.inject_rebalance()
        assert imds.get(RebalanceRecommendation).notice_time.year >= 2024


def test_get_collects_failures_too() -> None:
    with IMDSSimulator(_bad_placement_tree()) as sim, IMDS(endpoints=[sim.endpoint]) as imds:
        failures: dict[str, IMDSError] = {}
        placement = imds.get(Placement, failures)
        assert placement.region == "us-east-1"
        assert placement.partition_number is None
        assert list(failures) == ["meta-data/placement/partition-number"]
        with pytest.raises(IMDSValidationError, match="partition-number"):
            imds.get(Placement)


# -- caching per path, as the catalog decides ---------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_all_on_the_same_client_sees_a_rebalance_and_a_tag_that_appear_later(kind: str) -> None:
    with IMDSSimulator() as sim:
        if kind == "sync":
            with IMDS(endpoints=[sim.endpoint]) as imds:
                before = imds.all()
                sim.inject_rebalance()
                sim.set("meta-data/tags/instance/Owner", "team-b")
                move_elastic_ip(sim)
                after = imds.all()
        else:

            async def main() -> tuple[Any, Any]:
                async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:
                    first = await aimds.all()
                    sim.inject_rebalance()
                    sim.set("meta-data/tags/instance/Owner", "team-b")
                    move_elastic_ip(sim)
                    return first, await aimds.all()

            import asyncio

            before, after = asyncio.run(main())
    assert before.meta_data is not None
    assert after.meta_data is not None
    events_before = before.meta_data.events
    assert events_before is None or events_before.recommendations is None
    events = after.meta_data.events
    assert events is not None
    assert events.recommendations is not None
    assert events.recommendations.rebalance is not None
    tags = after.meta_data.tags
    assert tags is not None
    assert tags.instance is not None
    assert tags.instance["Owner"] == "team-b"
    assert str(before.meta_data.public_ipv4) == "54.210.1.23"
    assert str(after.meta_data.public_ipv4) == NEW_EIP
    eni = after.meta_data.network.interfaces.macs[before.meta_data.mac]
    assert eni.ipv4_associations is not None
    assert [str(ip) for ip in eni.ipv4_associations] == [NEW_EIP]
    assert [str(ip) for ip in eni.public_ipv4s or []] == [NEW_EIP]


NEW_EIP = "203.0.113.99"


def move_elastic_ip(sim: IMDSSimulator) -> None:
    """An Elastic IP re-associated while the instance runs: new public addresses."""
    mac = str(sim.get("meta-data/mac"))
    eni = f"meta-data/network/interfaces/macs/{mac}"
    private = sim.get(f"{eni}/ipv4-associations/54.210.1.23")
    assert sim.delete(f"{eni}/ipv4-associations/54.210.1.23")
    sim.set(f"{eni}/ipv4-associations/{NEW_EIP}", str(private))
    sim.set(f"{eni}/public-ipv4s", NEW_EIP)
    sim.set("meta-data/public-ipv4", NEW_EIP)


def test_what_never_changes_is_read_once(sim: IMDSSimulator) -> None:
    with IMDS(endpoints=[sim.endpoint]) as imds:
        sim.stats.reset()
        imds.all()
        imds.all()
        twice = {path for (method, path), n in sim.stats.requests.items() if n == 2}
        once = {path for (method, path), n in sim.stats.requests.items() if n == 1}
    # Listings that can gain an entry (a rebalance recommendation, a tag, an ENI) and
    # volatile values are read again; the rest comes from the client's cache.
    assert "/latest/meta-data/events/" in twice
    assert "/latest/meta-data/events/maintenance/scheduled" in twice
    assert "/latest/meta-data/tags/instance/" in twice
    assert "/latest/meta-data/network/interfaces/macs/" in twice
    assert "/latest/meta-data/ami-id" in once
    assert "/latest/meta-data/placement/" in once
    assert "/latest/dynamic/instance-identity/document" in once


# -- credentials answered before they are written ------------------------------------------


def test_an_empty_or_non_json_credentials_body_is_asked_again() -> None:
    role: Final = "meta-data/iam/security-credentials/my-app-role"
    with HookedSimulator(seed=1) as sim:
        good = sim.get(role)
        assert isinstance(good, str)
        sim.set(role, "")
        # written a moment later, as botocore#1569 saw: before the third GET of it (by
        # count, not by time, so that a loaded machine changes nothing)
        sim.before_nth(lambda m, p: m == "GET" and p.endswith(role), 3, lambda: sim.set(role, good))
        with IMDS(endpoints=[sim.endpoint], attempts=3, backoff_base=0.01) as imds:
            roles = imds.value("meta-data/iam/security-credentials")
        assert roles is not None
        creds = roles["my-app-role"]
        assert creds.code == "Success"
        assert sim.fired == ["before #3"]
        assert sim.stats.requests[("GET", f"/latest/{role}")] == 3


def test_credentials_that_stay_broken_are_a_clear_error_after_the_budget() -> None:
    role = "meta-data/iam/security-credentials/my-app-role"
    with IMDSSimulator() as sim, IMDS(endpoints=[sim.endpoint], attempts=3) as imds:
        sim.set(role, "<html>not yet</html>")
        with pytest.raises(IMDSValidationError, match=role) as failed:
            imds.value(role)
        assert "not yet" not in str(failed.value)
        assert sim.stats.requests[("GET", f"/latest/{role}")] == 3
        sim.set("meta-data/iam/info", "")  # not a credentials document: not retried
        with pytest.raises(IMDSValidationError):
            imds.value("meta-data/iam/info")
        assert sim.stats.requests[("GET", "/latest/meta-data/iam/info")] == 1


def test_replay_server_answers_concurrent_clients() -> None:
    with RawServer(recorded) as server:
        errors: list[BaseException] = []

        def one() -> None:
            try:
                with IMDS(endpoints=[server.endpoint]) as imds:
                    assert imds.fetch("meta-data/instance-id") == b"i-0c7a1b2c3d4e5f607"
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert server.gets().count("/latest/meta-data/instance-id") == 8
        assert len(server.requests) == 16  # and 8 token PUTs, one per client


# -- a token that expires while its request waits -------------------------------------------


@pytest.mark.slow
def test_a_token_that_expired_while_its_request_waited_is_replaced_not_an_error(
    make_client: ClientFactory,
) -> None:
    """Each GET is answered 1.1 s late with a 401 (the 1 s token had expired by the
    client's own clock meanwhile: what a loaded machine does to short tokens), twice:
    the client gets new tokens and succeeds; IMDS never rejected a token still valid."""
    late = [2]
    lock = threading.Lock()

    def answer(method: str, path: str, headers: Any) -> bytes:
        if method == "PUT":
            ttl = {"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": "1"}
            return http_answer("200 OK", b"token-%d" % len(server.requests), ttl)
        with lock:
            first = late[0] > 0
            late[0] -= 1
        if first:
            time.sleep(1.1)
            return http_answer("401 Unauthorized", b"")
        return http_answer("200 OK", b"i-0123456789abcdef0")

    with RawServer(answer) as server:
        client = make_client(fast(server.endpoint, timeout=10.0))
        assert client.get("meta-data/instance-id") == b"i-0123456789abcdef0"
        assert [m for m, _ in server.requests] == ["PUT", "GET", "PUT", "GET", "PUT", "GET"]


def test_a_value_ec2_always_serves_is_never_a_silent_null(tmp_path: Path) -> None:
    tree: dict[str, Any] = default_tree()
    del tree["meta-data"]["instance-id"]
    with IMDSSimulator(tree) as sim:
        on = [f"--imds=127.0.0.1:{sim.port}", "-t", str(tmp_path)]
        everything = run("-a", *on)
        one = run("meta-data/instance-id", *on)
        raw = run("--raw", "meta-data/instance-id", *on)
    assert everything.code == 1
    assert everything.err.splitlines() == [
        "ec2imds: meta-data/instance-id: missing, but EC2 serves it on every instance "
        "(IMDS did not serve it: a 404, or not listed)"
    ]
    out = everything.json()
    assert "meta-data/instance-id" not in out
    assert out["meta-data/instance-type"] == "m5.large"
    assert out["meta-data/ipv6"] is not None
    for result in (one, raw):
        assert result.code == 1
        assert "meta-data/instance-id: missing, but EC2 serves it" in result.err
        assert "Traceback" not in result.err


def test_a_failure_inside_a_map_category_is_said_once(tmp_path: Path) -> None:
    with IMDSSimulator() as sim:
        sim.faults.burst(500, 10, path="meta-data/public-keys/0/")
        result = run("-a", f"--imds=127.0.0.1:{sim.port}", "-t", str(tmp_path))
    assert result.code == 1
    lines = result.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ec2imds: meta-data/public-keys/0")
    assert "meta-data/public-keys" not in result.json()
