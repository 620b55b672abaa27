"""The embedded IMDS simulator: protocol, tree, faults, counters, events, lifecycle, CLI.

Everything talks to loopback (or to the in-process fake); nothing here reaches a real IMDS.
"""

from __future__ import annotations

import ast
import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

import ec2imds
from ec2imds import testing as imds_testing
from ec2imds.simulator import (
    IMDSSimulator,
    Node,
    SimulatorCore,
    TreeError,
    copy_tree,
    dump_tree,
    format_imds_time,
    load_tree,
)
from ec2imds.simulator.cli import main as cli_main
from ec2imds.testing import FakeIMDS

UTC = timezone.utc  # datetime.UTC is 3.11+
TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"
USER_DATA = b"#!/bin/sh\x00\x01\x02\xff\xfe binary \x00 end"
IID = '{"accountId": "123456789012", "region": "us-east-1"}'


def make_tree() -> dict[str, Node]:
    return {
        "meta-data": {
            "instance-id": "i-0123456789abcdef0",
            "placement": {"availability-zone": "us-east-1a", "region": "us-east-1"},
            "public-keys": {
                "0=my-key": {"openssh-key": "ssh-rsa AAAA my-key"},
                "1=other-key": {"openssh-key": "ssh-ed25519 BBBB other-key"},
            },
            "tags": {"instance": {"Name": "web-1", "team=a": "equals in a tag key"}},
            "iam": {"info": '{"Code": "Success"}'},
        },
        "dynamic": {"instance-identity": {"document": IID}},
        "user-data": USER_DATA,
    }


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


class Conn:
    """One keep-alive HTTP/1.1 connection to the simulator (http.client)."""

    def __init__(self, sim: IMDSSimulator, timeout: float = 10.0) -> None:
        self.http = http.client.HTTPConnection(sim.host, sim.port, timeout=timeout)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> Reply:
        self.http.request(method, path, headers=headers or {})
        resp = self.http.getresponse()
        body = resp.read()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)

    def token(self, ttl: int = 60) -> str:
        reply = self.request("PUT", "/latest/api/token", {TTL: str(ttl)})
        assert reply.status == 200
        return reply.body.decode()

    def get(self, path: str, token: str | None) -> Reply:
        return self.request("GET", path, {TOKEN: token} if token is not None else {})

    def close(self) -> None:
        self.http.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator(make_tree()) as simulator:
        yield simulator


@pytest.fixture
def conn(sim: IMDSSimulator) -> Iterator[Conn]:
    c = Conn(sim)
    yield c
    c.close()


@pytest.fixture
def tok(conn: Conn) -> str:
    return conn.token()


@pytest.fixture
def client(sim: IMDSSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10.0) as c:
        yield c


def httpx_token(c: httpx.Client) -> str:
    r = c.put("/latest/api/token", headers={TTL: "60"})
    assert r.status_code == 200
    return r.text


# -- tokens ------------------------------------------------------------------------------


def test_token_put_issues_distinct_tokens_and_echoes_ttl(sim: IMDSSimulator, conn: Conn) -> None:
    first = conn.request("PUT", "/latest/api/token", {TTL: "300"})
    second = conn.request("PUT", "/latest/api/token", {TTL: "21600"})
    assert first.status == second.status == 200
    assert first.headers[TTL.lower()] == "300"
    assert second.headers[TTL.lower()] == "21600"
    assert first.headers["content-type"] == "text/plain"
    assert len(first.body) >= 40
    assert first.body != second.body
    assert sim.stats.tokens_issued == 2
    assert sim.live_tokens == 2


@pytest.mark.parametrize("ttl", ["1", "21600", " 30 "])
def test_token_ttl_bounds_accepted(conn: Conn, ttl: str) -> None:
    reply = conn.request("PUT", "/latest/api/token", {TTL: ttl})
    assert reply.status == 200
    assert reply.headers[TTL.lower()] == ttl.strip()


@pytest.mark.parametrize("ttl", [None, "", "abc", "0", "-1", "21601", "1.5", "1_0", "+5", "1e3"])
def test_token_bad_ttl_is_400(sim: IMDSSimulator, conn: Conn, ttl: str | None) -> None:
    reply = conn.request("PUT", "/latest/api/token", {TTL: ttl} if ttl is not None else {})
    assert reply.status == 400
    assert sim.stats.tokens_issued == 0


def test_token_put_on_dated_path_is_403(conn: Conn) -> None:
    assert conn.request("PUT", "/2021-03-23/api/token", {TTL: "60"}).status == 403


def test_token_put_with_x_forwarded_for_is_403(sim: IMDSSimulator, conn: Conn) -> None:
    reply = conn.request("PUT", "/latest/api/token", {TTL: "60", "X-Forwarded-For": "10.0.0.1"})
    assert reply.status == 403
    assert sim.stats.tokens_issued == 0


def test_methods_not_allowed(conn: Conn, tok: str) -> None:
    get_token = conn.request("GET", "/latest/api/token", {TOKEN: tok})
    assert get_token.status == 405
    assert get_token.headers["allow"] == "OPTIONS, PUT"
    assert get_token.body == b""
    assert conn.request("PUT", "/latest/meta-data/", {TTL: "60"}).status == 405
    for method in ("POST", "DELETE", "PATCH", "OPTIONS"):
        reply = conn.request(method, "/latest/meta-data/instance-id", {TOKEN: tok})
        assert reply.status == 405, method
        assert reply.headers["allow"] == "GET, HEAD"


def test_get_needs_a_valid_token(conn: Conn, tok: str) -> None:
    assert conn.get("/latest/meta-data/instance-id", None).status == 401
    assert conn.get("/latest/meta-data/instance-id", "not-a-token").status == 401
    assert conn.get("/", None).status == 401
    ok = conn.get("/latest/meta-data/instance-id", tok)
    assert (ok.status, ok.body) == (200, b"i-0123456789abcdef0")


@pytest.mark.slow
def test_token_expires_after_its_ttl(conn: Conn) -> None:
    short = conn.token(ttl=1)
    assert conn.get("/latest/meta-data/instance-id", short).status == 200
    time.sleep(1.1)
    assert conn.get("/latest/meta-data/instance-id", short).status == 401


def test_token_expiry_follows_the_clock() -> None:
    clock = FakeClock()
    core = SimulatorCore(make_tree(), clock=clock)
    token = core.handle("PUT", "/latest/api/token", {TTL: "10"}).body.decode()
    clock.now += 9.9
    assert core.handle("GET", "/latest/meta-data/instance-id", {TOKEN: token}).status == 200
    clock.now += 0.1
    assert core.handle("GET", "/latest/meta-data/instance-id", {TOKEN: token}).status == 401
    assert core.live_tokens == 0


def test_allow_v1_lets_tokenless_gets_through_but_not_bad_tokens() -> None:
    with IMDSSimulator(make_tree(), allow_v1=True) as sim:
        c = Conn(sim)
        try:
            assert c.get("/latest/meta-data/instance-id", None).body == b"i-0123456789abcdef0"
            assert c.get("/latest/meta-data/instance-id", "bogus").status == 401
            # A request carrying a v2 header is a v2 request, and has no token.
            assert c.request("GET", "/latest/meta-data/instance-id", {TTL: "60"}).status == 401
            sim.allow_v1 = False
            assert c.get("/latest/meta-data/instance-id", None).status == 401
        finally:
            c.close()


def test_expire_tokens_revokes_every_token(sim: IMDSSimulator, conn: Conn, tok: str) -> None:
    other = conn.token()
    sim.faults.expire_tokens()
    assert conn.get("/latest/meta-data/instance-id", tok).status == 401
    assert conn.get("/latest/meta-data/instance-id", other).status == 401
    assert conn.get("/latest/meta-data/instance-id", conn.token()).status == 200


# -- the tree ----------------------------------------------------------------------------


def test_directory_listing_format(conn: Conn, tok: str) -> None:
    expected = b"instance-id\nplacement/\npublic-keys/\ntags/\niam/"
    with_slash = conn.get("/latest/meta-data/", tok)
    assert (with_slash.status, with_slash.body) == (200, expected)
    assert conn.get("/latest/meta-data", tok).body == expected
    assert conn.get("/latest/meta-data/placement/", tok).body == b"availability-zone\nregion"
    assert conn.get("/latest/dynamic/", tok).body == b"instance-identity/"


def test_public_keys_are_listed_verbatim_and_addressed_by_index(conn: Conn, tok: str) -> None:
    assert conn.get("/latest/meta-data/public-keys/", tok).body == b"0=my-key\n1=other-key"
    assert conn.get("/latest/meta-data/public-keys/0/", tok).body == b"openssh-key"
    without_slash = conn.get("/latest/meta-data/public-keys/1", tok)
    assert without_slash.status == 301  # a nested directory without its slash, as on EC2
    key = conn.get("/latest/meta-data/public-keys/1/openssh-key", tok)
    assert key.body == b"ssh-ed25519 BBBB other-key"
    assert conn.get("/latest/meta-data/public-keys/0=my-key/", tok).status == 404
    assert conn.get("/latest/meta-data/public-keys/2/", tok).status == 404


def test_equals_in_a_leaf_key_is_just_a_name(conn: Conn, tok: str) -> None:
    assert conn.get("/latest/meta-data/tags/instance/", tok).body == b"Name\nteam=a"
    assert conn.get("/latest/meta-data/tags/instance/team=a", tok).body == b"equals in a tag key"
    encoded = conn.get("/latest/meta-data/tags/instance/team%3Da", tok)
    assert encoded.body == b"equals in a tag key"


def test_a_leaf_with_a_trailing_slash_is_served_as_aws_does(conn: Conn, tok: str) -> None:
    plain = conn.get("/latest/meta-data/instance-id", tok)
    slashed = conn.get("/latest/meta-data/instance-id/", tok)
    assert (slashed.status, slashed.body) == (200, plain.body)
    assert conn.get("/latest/user-data/", tok).status == conn.get("/latest/user-data", tok).status


@pytest.mark.parametrize(
    "path",
    [
        "meta-data/instance-id/extra",
        "meta-data/instance",
        "meta-data/placement/regionx",
        "meta-data//instance-id",
        "meta-data/public-keys/0/openssh-key/more",
        "meta-data/nothing-here/",
        "nothing",
    ],
)
def test_unknown_paths_are_404_exact_match(conn: Conn, tok: str, path: str) -> None:
    reply = conn.get(f"/latest/{path}", tok)
    assert reply.status == 404
    assert reply.headers["content-type"] == "text/html"
    assert b"<title>404 - Not Found</title>" in reply.body


def test_user_data_is_served_byte_for_byte(sim: IMDSSimulator, conn: Conn, tok: str) -> None:
    reply = conn.get("/latest/user-data", tok)
    assert reply.body == USER_DATA
    assert reply.headers["content-length"] == str(len(USER_DATA))
    assert sim.delete("user-data") is True
    assert conn.get("/latest/user-data", tok).status == 404


def test_versions_root_and_dated_aliases(conn: Conn, tok: str) -> None:
    versions = conn.get("/", tok).body.decode().split("\n")
    assert versions[0] == "1.0"
    assert versions[-1] == "latest"
    assert "2021-03-23" in versions
    assert conn.get("/latest/", tok).body == b"meta-data\ndynamic\nuser-data"
    assert conn.get("/latest", tok).body == b"meta-data\ndynamic\nuser-data"
    dated = conn.get("/2021-03-23/meta-data/placement/region", tok)
    assert (dated.status, dated.body) == (200, b"us-east-1")
    assert conn.get("/1999-01-01/meta-data/instance-id", tok).status == 404
    assert conn.get("/latest/dynamic/instance-identity/document", tok).body == IID.encode()
    assert conn.get("/latest/meta-data/instance-id?x=1", tok).body == b"i-0123456789abcdef0"


def test_head_sends_length_without_body(conn: Conn, tok: str) -> None:
    reply = conn.request("HEAD", "/latest/user-data", {TOKEN: tok})
    assert reply.status == 200
    assert reply.headers["content-length"] == str(len(USER_DATA))
    assert reply.body == b""
    # The connection is still in step: the next answer is the right one.
    assert conn.get("/latest/meta-data/instance-id", tok).body == b"i-0123456789abcdef0"


def test_content_types_as_ec2_sends_them(conn: Conn, tok: str) -> None:
    for reply, content_type in (
        (conn.get("/latest/meta-data/iam/info", tok), "text/plain"),
        (conn.get("/latest/meta-data/", tok), "text/plain"),
        (conn.get("/latest/user-data", tok), "application/octet-stream"),
        (conn.request("PUT", "/latest/api/token", {TTL: "60"}), "text/plain"),
        (conn.get("/latest/meta-data/instance-id", None), "text/html"),
        (conn.get("/latest/nope", tok), "text/html"),
        (conn.request("PUT", "/latest/api/token", {}), "text/html"),
    ):
        assert reply.headers["content-type"] == content_type
        assert reply.headers["server"] == "EC2ws"
        assert reply.headers["accept-ranges"] == "none"
        assert reply.headers["last-modified"].endswith(" GMT")


def test_request_body_on_put_keeps_the_connection_in_step(conn: Conn) -> None:
    conn.http.request("PUT", "/latest/api/token", body=b"x" * 100, headers={TTL: "60"})
    resp = conn.http.getresponse()
    token = resp.read().decode()
    assert resp.status == 200
    assert conn.get("/latest/meta-data/instance-id", token).status == 200


# -- faults ------------------------------------------------------------------------------


def test_burst_answers_the_next_matching_requests(sim: IMDSSimulator, conn: Conn, tok: str) -> None:
    sim.faults.burst(503, 2, path="meta-data/instance-id")
    assert sim.faults.pending == 2
    assert conn.get("/latest/meta-data/placement/region", tok).status == 200
    assert conn.get("/latest/meta-data/instance-id", tok).status == 503
    assert conn.get("/latest/meta-data/instance-id", tok).status == 503
    assert conn.get("/latest/meta-data/instance-id", tok).status == 200
    sim.faults.burst(429, 1, method="PUT")
    assert conn.get("/latest/meta-data/instance-id", tok).status == 200
    assert conn.request("PUT", "/latest/api/token", {TTL: "60"}).status == 429
    assert conn.request("PUT", "/latest/api/token", {TTL: "60"}).status == 200
    sim.faults.burst(500, 1, path="meta-data/placement/*")
    assert conn.get("/latest/meta-data/placement/region", tok).status == 500
    assert sim.faults.pending == 0
    assert sim.stats.statuses[503] == 2


def test_error_rate_is_deterministic_given_the_seed() -> None:
    def statuses(seed: int) -> list[int]:
        core = SimulatorCore(make_tree(), allow_v1=True, seed=seed)
        core.faults.error_rate = 0.5
        return [core.handle("GET", "/latest/meta-data/instance-id", {}).status for _ in range(200)]

    first, again, other = statuses(7), statuses(7), statuses(8)
    assert first == again
    assert first != other
    errors = [s for s in first if s != 200]
    assert 40 < len(errors) < 160
    assert set(errors) <= {500, 503, 429}


def test_error_rate_over_the_wire(sim: IMDSSimulator, conn: Conn, tok: str) -> None:
    sim.faults.error_rate = 1.0
    sim.faults.error_statuses = (429,)
    assert [conn.get("/latest/meta-data/instance-id", tok).status for _ in range(3)] == [429] * 3
    sim.faults.error_rate = 0.0
    assert conn.get("/latest/meta-data/instance-id", tok).status == 200


def test_invalid_fault_settings_are_rejected(sim: IMDSSimulator) -> None:
    with pytest.raises(ValueError, match="status"):
        sim.faults.burst(99, 1)
    with pytest.raises(ValueError, match="count"):
        sim.faults.drop_next(0)
    with pytest.raises(ValueError, match="error_rate"):
        sim.faults.error_rate = 1.5
    with pytest.raises(ValueError, match="latency"):
        sim.faults.latency = -1
    with pytest.raises(ValueError, match="3xx"):
        sim.faults.redirect_next(status=200)


def test_drop_closes_without_a_response(sim: IMDSSimulator, conn: Conn, tok: str) -> None:
    sim.faults.drop_next(1, method="GET")
    with pytest.raises(http.client.RemoteDisconnected):
        conn.get("/latest/meta-data/instance-id", tok)
    conn.close()
    assert conn.get("/latest/meta-data/instance-id", tok).status == 200
    assert sim.stats.drops == 1
    assert sim.stats.connections == 3  # the token's, the dropped one, the last one


def test_drop_is_a_remote_protocol_error_for_httpx(
    sim: IMDSSimulator, client: httpx.Client
) -> None:
    sim.faults.drop_next(1, method="PUT")
    with pytest.raises(httpx.RemoteProtocolError):
        client.put("/latest/api/token", headers={TTL: "60"})
    assert client.put("/latest/api/token", headers={TTL: "60"}).status_code == 200


def test_reset_mid_body_sends_headers_and_half_the_body(sim: IMDSSimulator) -> None:
    sim.allow_v1 = True
    sim.faults.reset_mid_body_next(1)
    body = b"i-0123456789abcdef0"
    with socket.create_connection(sim.endpoint, timeout=10) as s:
        s.sendall(b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: imds\r\n\r\n")
        received = b""
        reset = False
        try:
            while chunk := s.recv(4096):
                received += chunk
        except ConnectionResetError:
            reset = True
    head, _, partial = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert f"Content-Length: {len(body)}".encode() in head
    assert partial == body[: len(body) // 2]
    assert reset
    assert sim.stats.resets == 1


def test_reset_mid_body_is_a_read_error_for_httpx(sim: IMDSSimulator, client: httpx.Client) -> None:
    token = httpx_token(client)
    sim.faults.reset_mid_body_next(1, path="user-data")
    assert client.get("/latest/meta-data/instance-id", headers={TOKEN: token}).status_code == 200
    with pytest.raises(httpx.ReadError):
        client.get("/latest/user-data", headers={TOKEN: token})
    assert client.get("/latest/user-data", headers={TOKEN: token}).content == USER_DATA


def test_hang_next_never_answers(sim: IMDSSimulator, client: httpx.Client) -> None:
    token = httpx_token(client)
    sim.faults.hang_next(1)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/latest/meta-data/instance-id", headers={TOKEN: token}, timeout=0.3)
    assert client.get("/latest/meta-data/instance-id", headers={TOKEN: token}).status_code == 200
    assert sim.stats.hangs == 1


def test_hang_flag_hangs_everything(sim: IMDSSimulator, client: httpx.Client) -> None:
    sim.faults.hang = True
    with pytest.raises(httpx.ReadTimeout):
        client.put("/latest/api/token", headers={TTL: "60"}, timeout=0.3)
    sim.faults.hang = False
    assert client.put("/latest/api/token", headers={TTL: "60"}).status_code == 200


def test_put_hang_blocks_tokens_but_not_gets() -> None:
    with IMDSSimulator(make_tree(), allow_v1=True) as sim, httpx.Client(base_url=sim.url) as c:
        sim.faults.put_hang = True
        with pytest.raises(httpx.ReadTimeout):
            c.put("/latest/api/token", headers={TTL: "60"}, timeout=0.3)
        assert c.get("/latest/meta-data/instance-id", timeout=10).text == "i-0123456789abcdef0"
        assert sim.stats.hangs == 1


@pytest.mark.slow
def test_slow_body_trickles_after_the_headers(sim: IMDSSimulator, client: httpx.Client) -> None:
    token = httpx_token(client)
    sim.faults.slow_body = 0.1
    started = time.monotonic()
    reply = client.get("/latest/user-data", headers={TOKEN: token})
    assert reply.content == USER_DATA
    assert time.monotonic() - started >= 0.35  # 4 chunks, 0.1 s before each
    sim.faults.slow_body = 5.0
    timeout = httpx.Timeout(10.0, read=0.5)
    with client.stream("GET", "/latest/user-data", headers={TOKEN: token}, timeout=timeout) as r:
        assert r.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            r.read()


def test_latency_delays_every_answer(conn: Conn, tok: str, sim: IMDSSimulator) -> None:
    sim.faults.latency = 0.2
    started = time.monotonic()
    assert conn.get("/latest/meta-data/instance-id", tok).status == 200
    assert time.monotonic() - started >= 0.2
    with IMDSSimulator(make_tree(), latency=0.15) as slow:
        assert slow.faults.latency == 0.15


def test_redirect_next(sim: IMDSSimulator, conn: Conn, tok: str) -> None:
    sim.faults.redirect_next(location="http://example.invalid/elsewhere")
    reply = conn.get("/latest/meta-data/instance-id", tok)
    assert reply.status == 301
    assert reply.headers["location"] == "http://example.invalid/elsewhere"
    assert conn.get("/latest/meta-data/instance-id", tok).status == 200


def test_faults_clear_turns_everything_off(sim: IMDSSimulator, conn: Conn, tok: str) -> None:
    sim.faults.burst(503, 5)
    sim.faults.error_rate = 1.0
    sim.faults.latency = 3.0
    sim.faults.clear()
    assert sim.faults.pending == 0
    assert sim.faults.latency == 0.0
    assert conn.get("/latest/meta-data/instance-id", tok).status == 200


# -- counters ----------------------------------------------------------------------------


def test_counters_by_path_and_keep_alive_connections() -> None:
    with IMDSSimulator(make_tree(), keep_alive=True) as sim:
        _check_counters(sim)


def _check_counters(sim: IMDSSimulator) -> None:
    c = Conn(sim)
    token = c.token()
    for _ in range(2):
        assert c.get("/latest/meta-data/placement/", token).status == 200
    assert c.get("/latest/nope", token).status == 404
    stats = sim.stats
    assert stats.requests[("GET", "/latest/meta-data/placement/")] == 2
    assert stats.requests[("PUT", "/latest/api/token")] == 1
    assert stats.count("/latest/meta-data/placement/") == 2
    assert (stats.total, stats.gets, stats.puts) == (4, 3, 1)
    assert stats.statuses == {200: 3, 404: 1}
    assert stats.connections == 1
    c.close()
    other = Conn(sim)
    assert other.get("/latest/meta-data/instance-id", token).status == 200
    other.close()
    assert sim.stats.connections == 2
    sim.stats.reset()
    assert sim.stats.total == 0
    assert sim.stats.connections == 0
    assert not sim.stats.requests
    assert sim.stats.snapshot()["statuses"] == {}


def test_counters_are_exact_under_concurrency(sim: IMDSSimulator) -> None:
    setup = Conn(sim)
    token = setup.token()
    setup.close()
    sim.stats.reset()
    errors: list[BaseException] = []

    def worker() -> None:
        c = Conn(sim)
        try:
            for _ in range(25):
                assert c.get("/latest/meta-data/instance-id", token).status == 200
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sim.stats.total == 200
    assert sim.stats.statuses[200] == 200
    assert sim.stats.connections == 200  # one per answer: EC2 closes every connection


# -- live changes and events -------------------------------------------------------------


def test_set_and_delete_change_the_tree_live(sim: IMDSSimulator, conn: Conn, tok: str) -> None:
    sim.set("meta-data/spot/instance-action", '{"action": "stop"}')
    listing = conn.get("/latest/meta-data/", tok).body.decode().split("\n")
    assert listing[-1] == "spot/"
    assert conn.get("/latest/meta-data/spot/", tok).body == b"instance-action"
    assert sim.get("meta-data/spot/instance-action") == '{"action": "stop"}'
    sim.set("/latest/meta-data/instance-id", "i-new")
    assert conn.get("/latest/meta-data/instance-id", tok).body == b"i-new"
    sim.set("meta-data/public-keys/0/openssh-key", "ssh-rsa CCCC")
    assert conn.get("/latest/meta-data/public-keys/0/openssh-key", tok).body == b"ssh-rsa CCCC"
    assert sim.delete("meta-data/spot") is True
    assert sim.delete("meta-data/spot") is False
    assert conn.get("/latest/meta-data/spot/instance-action", tok).status == 404
    with pytest.raises(ValueError, match="leaf"):
        sim.set("meta-data/instance-id/child", "x")
    with pytest.raises(ValueError, match="invalid tree path"):
        sim.set("meta-data//x", "x")


def test_the_tree_given_is_copied() -> None:
    tree = make_tree()
    core = SimulatorCore(tree, allow_v1=True)
    tree["meta-data"] = {}
    assert core.handle("GET", "/latest/meta-data/instance-id", {}).status == 200
    snap = core.snapshot()
    snap["meta-data"] = {}
    assert core.handle("GET", "/latest/meta-data/instance-id", {}).status == 200


def test_scheduled_changes_apply_when_due() -> None:
    clock = FakeClock()
    with IMDSSimulator(make_tree(), allow_v1=True, clock=clock) as sim:
        c = Conn(sim)
        sim.schedule(5.0, "meta-data/autoscaling/target-lifecycle-state", "InService")
        sim.schedule(10.0, "meta-data/autoscaling/target-lifecycle-state", None)
        assert sim.pending_changes == 2
        path = "/latest/meta-data/autoscaling/target-lifecycle-state"
        assert c.get(path, None).status == 404
        clock.now += 5.0
        assert c.get(path, None).body == b"InService"
        clock.now += 5.0
        assert c.get(path, None).status == 404
        assert sim.pending_changes == 0
        c.close()


def test_scheduled_change_with_real_time(sim: IMDSSimulator, conn: Conn, tok: str) -> None:
    sim.set_lifecycle_state("Terminated", after=0.2)
    path = "/latest/meta-data/autoscaling/target-lifecycle-state"
    assert conn.get(path, tok).status == 404
    time.sleep(0.3)
    assert conn.get(path, tok).body == b"Terminated"


def _parse_iso_z(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_spot_interruption_notice() -> None:
    clock = FakeClock()
    fake = FakeIMDS(make_tree(), allow_v1=True, clock=clock)
    before = datetime.now(UTC).replace(microsecond=0)
    when = fake.inject_spot_interruption("stop", after=30.0)
    with fake.client() as c:
        assert c.get("/latest/meta-data/spot/instance-action").status_code == 404
        clock.now += 30.0
        action = c.get("/latest/meta-data/spot/instance-action").json()
        assert action == {"action": "stop", "time": when}
        assert c.get("/latest/meta-data/spot/termination-time").text == when
    notice = _parse_iso_z(when)
    assert before + timedelta(seconds=149) <= notice <= datetime.now(UTC) + timedelta(seconds=151)


def test_rebalance_and_lifecycle_events(sim: IMDSSimulator, conn: Conn, tok: str) -> None:
    when = sim.inject_rebalance()
    reply = conn.get("/latest/meta-data/events/recommendations/rebalance", tok)
    assert json.loads(reply.body) == {"noticeTime": when}
    assert abs((_parse_iso_z(when) - datetime.now(UTC)).total_seconds()) < 60
    sim.set_lifecycle_state("Warmed:Hibernated")
    reply = conn.get("/latest/meta-data/autoscaling/target-lifecycle-state", tok)
    assert reply.body == b"Warmed:Hibernated"


def test_maintenance_events_append_in_imds_time_format(
    sim: IMDSSimulator, conn: Conn, tok: str
) -> None:
    first = sim.inject_maintenance()
    second = sim.inject_maintenance(code="instance-stop", state="active")
    reply = conn.get("/latest/meta-data/events/maintenance/scheduled", tok)
    events = json.loads(reply.body)
    assert [e["Code"] for e in events] == ["system-reboot", "instance-stop"]
    assert events[0] == first
    assert events[1] == second
    imds_time = re.compile(r"\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")
    for event in events:
        assert imds_time.fullmatch(event["NotBefore"])
        assert imds_time.fullmatch(event["NotAfter"])
        assert re.fullmatch(r"instance-event-[0-9a-f]{17}", event["EventId"])
        assert event["State"] == "active"
    assert first["EventId"] != second["EventId"]
    # The same seed gives the same event ids.
    again = SimulatorCore(make_tree()).inject_maintenance()
    assert again["EventId"] == first["EventId"]
    assert format_imds_time(datetime(2019, 1, 21, 9, 0, 43, tzinfo=UTC)) == (
        "21 Jan 2019 09:00:43 GMT"
    )


# -- tree files --------------------------------------------------------------------------


def test_tree_json_round_trip_with_base64(tmp_path: Path) -> None:
    tree = make_tree()
    meta = tree["meta-data"]
    assert isinstance(meta, dict)
    meta["unicode"] = "héllo ✓"
    path = tmp_path / "tree.json"
    dump_tree(tree, path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert set(raw["user-data"]) == {"$base64"}
    loaded = load_tree(path)
    assert loaded == tree
    assert loaded["user-data"] == USER_DATA
    assert list(loaded["meta-data"]) == list(meta)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"meta-data": {"x": true}}', "/meta-data/x"),
        ('{"meta-data": {"x": [null]}}', "/meta-data/x"),  # a null leaf is absent
        ('{"user-data": {"$base64": "@@@"}}', "invalid base64"),
        ('{"user-data": {"$base64": "AA==", "x": "y"}}', "bytes leaf"),
        ('{"meta-data": {"a/b": "x"}}', "invalid key"),
    ],
)
def test_load_tree_rejects_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TreeError, match=re.escape(message)):
        load_tree(path)


def test_load_tree_accepts_numbers_and_reports_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    path.write_text('{"meta-data": {"ami-launch-index": 0}}', encoding="utf-8")
    assert load_tree(path) == {"meta-data": {"ami-launch-index": "0"}}
    with pytest.raises(OSError, match="missing"):
        load_tree(tmp_path / "missing.json")


def test_copy_tree_rejects_bad_leaves() -> None:
    with pytest.raises(TreeError, match="/meta-data/x"):
        copy_tree({"meta-data": {"x": 1}})
    with pytest.raises(TreeError, match="invalid key"):
        IMDSSimulator({"meta-data": {"": "x"}})


# -- lifecycle ---------------------------------------------------------------------------


def _ipv6_loopback_usable() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_ipv6_loopback_bind() -> None:
    sim = IMDSSimulator(make_tree(), host="::1")
    if not _ipv6_loopback_usable():
        with pytest.raises(OSError, match=r"\[Errno"):
            sim.start()
        return
    with sim:
        assert sim.url == f"http://[::1]:{sim.port}"
        assert sim.endpoint == ("::1", sim.port)
        c = Conn(sim)
        token = c.token()
        assert c.get("/latest/meta-data/instance-id", token).body == b"i-0123456789abcdef0"
        c.close()
        with httpx.Client(base_url=sim.url) as hc:
            assert hc.put("/latest/api/token", headers={TTL: "5"}).status_code == 200


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_stop_is_prompt_and_leaves_no_threads_or_fds() -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    fds_before = _fds()
    sim = IMDSSimulator(make_tree(), allow_v1=True, keep_alive=True).start()
    idle = Conn(sim)
    assert idle.get("/latest/meta-data/instance-id", None).status == 200  # kept alive, idle
    sim.faults.hang_next(1, path="meta-data/instance-id")
    hanging = socket.create_connection(sim.endpoint, timeout=10)
    hanging.sendall(b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: imds\r\n\r\n")
    sim.faults.slow_body = 30.0
    slow = socket.create_connection(sim.endpoint, timeout=10)
    slow.sendall(b"GET /latest/user-data HTTP/1.1\r\nHost: imds\r\n\r\n")
    deadline = time.monotonic() + 10
    while sim.stats.total < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.stats.total == 3
    assert len(threading.enumerate()) >= len(threads_before) + 4  # serve loop + 3 handlers

    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 5.0  # generous: normally ~0.1 s
    assert not sim.running
    assert hanging.recv(1024) == b""  # closed without an answer
    assert slow.recv(4096).startswith(b"HTTP/1.1 200")
    idle.close()
    hanging.close()
    slow.close()
    assert {t.ident for t in threading.enumerate()} <= threads_before
    assert not [t for t in threading.enumerate() if t.name.startswith("ec2imds-simulator")]
    assert _fds() <= fds_before
    sim.stop()  # idempotent


def test_start_stop_and_properties() -> None:
    sim = IMDSSimulator(make_tree())
    with pytest.raises(RuntimeError, match="not running"):
        _ = sim.url
    assert IMDSSimulator(make_tree(), port=8123).url == "http://127.0.0.1:8123"
    with sim:
        assert sim.running
        with pytest.raises(RuntimeError, match="already running"):
            sim.start()
        assert sim.url == f"http://127.0.0.1:{sim.port}"
        assert sim.env() == {"AWS_EC2_METADATA_SERVICE_ENDPOINT": sim.url}
        first_port = sim.port
        assert first_port > 0
    # A stopped simulator can start again; state (tree, counters) is kept.
    with sim:
        c = Conn(sim)
        assert c.token()
        c.close()
        assert sim.stats.tokens_issued == 1


def test_quiet_by_default_and_logs_when_verbose(capfd: pytest.CaptureFixture[str]) -> None:
    for verbose in (False, True):
        with IMDSSimulator(make_tree(), verbose=verbose) as sim:
            c = Conn(sim)
            c.get("/latest/meta-data/", None)
            c.close()
        out, err = capfd.readouterr()
        assert out == ""
        if verbose:
            assert '"GET /latest/meta-data/ HTTP/1.1" 401' in err
        else:
            assert err == ""


def test_default_tree_comes_from_the_catalog() -> None:
    from ec2imds.catalog import default_tree

    expected = default_tree()
    with IMDSSimulator() as sim:
        assert sim.snapshot() == expected
        c = Conn(sim)
        token = c.token()
        meta = expected["meta-data"]
        assert isinstance(meta, dict)
        instance_id = meta["instance-id"]
        assert isinstance(instance_id, str)
        assert c.get("/latest/meta-data/instance-id", token).body == instance_id.encode()
        assert c.get("/latest/user-data", token).body == expected["user-data"]
        c.close()


# -- the command line --------------------------------------------------------------------

REPO_ROOT = Path(ec2imds.__file__).resolve().parent.parent


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_until_signalled(tmp_path: Path, signum: int) -> None:
    tree_file = tmp_path / "tree.json"
    dump_tree(make_tree(), tree_file)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        # A small tree, not a whole instance: served anyway.
        [
            sys.executable,
            "-m",
            "ec2imds.simulator",
            "--port",
            "0",
            "--tree",
            str(tree_file),
            "--allow-invalid-tree",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"IMDS simulator listening on http://127\.0\.0\.1:(\d+)\n", line)
        assert match, line
        c = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=10)
        c.request("PUT", "/latest/api/token", headers={TTL: "60"})
        token = c.getresponse().read().decode()
        c.request("GET", "/latest/user-data", headers={TOKEN: token})
        assert c.getresponse().read() == USER_DATA
        c.close()
        proc.send_signal(signum)
        assert proc.wait(timeout=20) == 0
        assert proc.stderr is not None
        assert proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize(
    "argv",
    [["--port", "abc"], ["--port", "70000"], ["--error-rate", "2"], ["--latency-ms", "-1"], ["-x"]],
)
def test_cli_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli_main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, "{broken", '{"meta-data": {"x": true}}'])
def test_cli_bad_tree_file_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    path = tmp_path / "tree.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert cli_main(["--port", "0", "--tree", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("ec2imds.simulator: error: ")
    assert "Traceback" not in err


# -- the in-process fake and the fixtures ------------------------------------------------


def test_fake_imds_sync_client_shares_the_core_behaviour() -> None:
    fake = FakeIMDS(make_tree())
    with fake.client() as c:
        assert c.get("/latest/meta-data/instance-id").status_code == 401
        token = c.put("/latest/api/token", headers={TTL: "60"})
        assert token.headers[TTL] == "60"
        h = {TOKEN: token.text}
        assert c.get("/latest/meta-data/public-keys/", headers=h).text == "0=my-key\n1=other-key"
        assert c.get("/latest/user-data", headers=h).content == USER_DATA
        head = c.head("/latest/user-data", headers=h)
        assert head.headers["content-length"] == str(len(USER_DATA))
        assert head.content == b""
        fake.faults.burst(503, 1)
        assert c.get("/latest/meta-data/instance-id", headers=h).status_code == 503
        fake.faults.drop_next()
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/latest/meta-data/instance-id", headers=h)
        fake.faults.reset_mid_body_next()
        with pytest.raises(httpx.ReadError):
            c.get("/latest/user-data", headers=h)
        fake.faults.hang_next()
        with pytest.raises(httpx.ReadTimeout):
            c.get("/latest/meta-data/instance-id", headers=h)
        fake.faults.slow_body = 0.01
        assert c.get("/latest/user-data", headers=h).content == USER_DATA
    assert fake.stats.requests[("GET", "/latest/user-data")] == 3
    assert fake.stats.requests[("HEAD", "/latest/user-data")] == 1
    assert fake.stats.statuses[503] == 1
    assert (fake.stats.drops, fake.stats.resets, fake.stats.hangs) == (1, 1, 1)
    assert fake.stats.connections == 0


def test_fake_imds_async_client() -> None:
    fake = FakeIMDS(make_tree(), latency=0.01)

    async def run() -> tuple[bytes, bytes]:
        async with httpx.AsyncClient(transport=fake.transport, base_url=fake.url) as c:
            token = (await c.put("/latest/api/token", headers={TTL: "60"})).text
            h = {TOKEN: token}
            user_data = (await c.get("/latest/user-data", headers=h)).content
            fake.faults.slow_body = 0.01
            region = (await c.get("/latest/meta-data/placement/region", headers=h)).content
            fake.faults.reset_mid_body_next()
            with pytest.raises(httpx.ReadError):
                await c.get("/latest/user-data", headers=h)
            fake.faults.drop_next()
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get("/latest/user-data", headers=h)
            return user_data, region

    assert asyncio.run(run()) == (USER_DATA, b"us-east-1")
    assert fake.stats.tokens_issued == 1


def test_fake_imds_token_expiry_without_sleeping() -> None:
    clock = FakeClock()
    fake = FakeIMDS(make_tree(), clock=clock)
    with fake.client() as c:
        token = c.put("/latest/api/token", headers={TTL: "21600"}).text
        clock.now += 21599
        assert c.get("/latest/meta-data/", headers={TOKEN: token}).status_code == 200
        clock.now += 1
        assert c.get("/latest/meta-data/", headers={TOKEN: token}).status_code == 401


# The public fixtures, used here the way a user's conftest would (``pytest_plugins``).
imds_simulator = imds_testing.imds_simulator
fake_imds = imds_testing.fake_imds


@pytest.fixture
def imds_tree() -> dict[str, Node]:
    return make_tree()


def test_imds_simulator_fixture(imds_simulator: IMDSSimulator) -> None:
    assert imds_simulator.running
    c = Conn(imds_simulator)
    assert c.get("/latest/meta-data/instance-id", c.token()).body == b"i-0123456789abcdef0"
    c.close()


def test_fake_imds_fixture(fake_imds: FakeIMDS) -> None:
    fake_imds.allow_v1 = True
    with fake_imds.client() as c:
        assert c.get("/latest/meta-data/placement/region").text == "us-east-1"


def test_fake_imds_needs_no_pytest() -> None:
    """``FakeIMDS`` serves unittest users too: without pytest, only the fixtures are gone."""
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "import ec2imds.testing as t\n"
        "fake = t.FakeIMDS()\n"
        "ttl = {'X-aws-ec2-metadata-token-ttl-seconds': '60'}\n"
        "with fake.client() as c:\n"
        "    r = c.put('/latest/api/token', headers=ttl)\n"
        "print(r.status_code, sorted(t.__all__))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    status, names = done.stdout.split(None, 1)
    assert status == "200"
    assert ast.literal_eval(names) == sorted(
        [
            "FakeIMDS",
            "sign_identity_document",
            *(n for n in dir(imds_testing) if n.startswith("TEST_")),
        ]
    )
