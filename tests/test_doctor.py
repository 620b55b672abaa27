"""``ec2imds --doctor`` (:mod:`ec2imds.doctor`): each cause it names, reproduced on loopback
by a tiny server written here (and by the simulator), its fix, the JSON document and the
exit codes.

The tiny servers answer through one function, ``answer(method, path, headers)``, that
returns ``(status, body)`` or ``None`` to never answer. Timeouts are generous (5 s) where
an answer is expected; where none ever comes (a PUT behind the hop limit, a dead listener)
the settings' timeout is short: an unanswered request is unanswered however long one waits.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

import pytest

from ec2imds import cli
from ec2imds.doctor import Check, Diagnosis, diagnose, read_platform
from ec2imds.endpoints import Endpoint
from ec2imds.settings import Settings
from ec2imds.simulator import DeadListener, IMDSSimulator
from ec2imds.simulator import cli as sim_cli

INSTANCE = "i-0abc1234def567890"
TOKEN = "SECRET-doctor-token-0123456789"
GENEROUS = 5.0
#: Where no answer ever comes: how long the doctor waits for it.
UNANSWERED = 1.0

Answer = Optional[tuple[int, bytes]]
Answerer = Callable[[str, str, Mapping[str, str]], Answer]


# -- tiny servers ---------------------------------------------------------------------------


class Tiny:
    """An HTTP server on 127.0.0.1 answering through ``answer``; it records each request
    (method, path, headers) and releases requests it never answers when closed."""

    def __init__(self, answer: Answerer) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.stop = threading.Event()
        tiny = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                headers = dict(self.headers.items())
                tiny.requests.append((self.command, self.path, headers))
                got = answer(self.command, self.path, {k.lower(): v for k, v in headers.items()})
                if got is None:
                    tiny.stop.wait()
                    return
                status, body = got
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def endpoint(self) -> Endpoint:
        return ("127.0.0.1", self.server.server_address[1])

    @property
    def name(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def tokens_seen(self) -> list[str]:
        return [
            h["X-aws-ec2-metadata-token"]
            for _, _, h in self.requests
            if "X-aws-ec2-metadata-token" in h
        ]

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@contextmanager
def tiny(answer: Answerer) -> Iterator[Tiny]:
    server = Tiny(answer)
    try:
        yield server
    finally:
        server.close()


def imds(
    *,
    v1: bool = False,
    tags: bool = True,
    role: bool = True,
    put: Callable[[], Answer] | None = None,
    token: str = TOKEN,
) -> Answerer:
    """An IMDS in a dozen lines: a token, a few paths, 401 without the token (200 with
    ``v1``); ``put`` replaces the token PUT's answer."""
    tree = {
        "/latest/meta-data/": b"ami-id\ninstance-id\niam/\ntags/",
        "/latest/meta-data/instance-id": INSTANCE.encode(),
    }
    if tags:
        tree["/latest/meta-data/tags/instance"] = b"Name\nteam"
    if role:
        tree["/latest/meta-data/iam/security-credentials/"] = b"app-role"

    def answer(method: str, path: str, headers: Mapping[str, str]) -> Answer:
        if method == "PUT":
            if put is not None:
                return put()
            return (200, token.encode()) if path == "/latest/api/token" else (403, b"")
        if headers.get("x-aws-ec2-metadata-token") != token and not v1:
            return (401, b"")
        return (200, tree[path]) if path in tree else (404, b"<h1>404 - Not Found</h1>")

    return answer


def forbidden(method: str, path: str, headers: Mapping[str, str]) -> Answer:
    """HttpEndpoint=disabled: 403 to everything."""
    return (403, b"")


class DeadSocket:
    """A dead listener written here: backlog 0, the accept queue filled, never accepting."""

    def __init__(self, host: str) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family)
        self.sock.bind((host, 0))
        self.sock.listen(0)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.fill: list[socket.socket] = []
        while len(self.fill) < 16:
            conn = socket.socket(family)
            conn.setblocking(False)
            conn.connect_ex((host, self.port))
            self.fill.append(conn)
            if not select.select([], [conn], [], 0.2)[1]:
                return
        raise AssertionError("the accept queue never filled")

    def close(self) -> None:
        for conn in self.fill:
            conn.close()
        self.sock.close()


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")


# -- running it -----------------------------------------------------------------------------


@pytest.fixture
def ec2(tmp_path: Path) -> Path:
    """A /sys that says "a Nitro EC2 instance"."""
    dmi = tmp_path / "ec2" / "class" / "dmi" / "id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("Amazon EC2\n")
    (dmi / "board_asset_tag").write_text("i-0fedcba9876543210\n")
    return tmp_path / "ec2"


@pytest.fixture
def laptop(tmp_path: Path) -> Path:
    """A /sys that says "not EC2"."""
    dmi = tmp_path / "laptop" / "class" / "dmi" / "id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("LENOVO\n")
    return tmp_path / "laptop"


def doctor(
    *endpoints: Endpoint,
    sys_root: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = GENEROUS,
) -> Diagnosis:
    settings = Settings(endpoints=tuple(endpoints), timeout=timeout)
    return diagnose(settings, env=env or {}, sys_root=sys_root)


def check(diagnosis: Diagnosis, name: str) -> Check:
    found = [c for c in diagnosis.checks if c.name == name]
    assert len(found) == 1, [c.name for c in diagnosis.checks]
    return found[0]


def statuses(diagnosis: Diagnosis) -> dict[str, str]:
    return {c.name: c.status for c in diagnosis.checks}


# -- the causes, one by one -----------------------------------------------------------------


def test_a_healthy_imds_is_all_ok_and_exit_0(ec2: Path) -> None:
    with tiny(imds()) as server:
        d = doctor(server.endpoint, sys_root=ec2)
    assert set(statuses(d).values()) == {"ok"}, d.lines()
    assert d.works
    assert d.exit_code == 0
    assert d.endpoint == server.name
    assert re.fullmatch(r"connected in \d+\.\d ms", check(d, f"connect {server.name}").message)
    assert check(d, "iam-role").message == "IAM role attached: app-role"
    assert check(d, "tags").message == "instance tags in metadata: 2 keys"
    assert d.verdict == f"IMDS works through {server.name}"
    # The token went to its own endpoint only, and nowhere into the report.
    assert set(server.tokens_seen()) == {TOKEN}
    assert TOKEN not in "\n".join(d.lines()) + json.dumps(d.to_json())


def test_imds_turned_off_is_403_on_everything(ec2: Path) -> None:
    with tiny(forbidden) as server:
        d = doctor(server.endpoint, sys_root=ec2)
    c = check(d, f"token {server.name}")
    assert c.status == "problem"
    assert "turned off" in c.message
    # The instance ID is the DMI board asset tag's: IMDS answered nothing.
    assert c.fix == (
        "aws ec2 modify-instance-metadata-options --instance-id i-0fedcba9876543210"
        " --http-endpoint enabled"
    )
    assert d.exit_code == 1
    assert d.endpoint is None
    assert [(m, p) for m, p, _ in server.requests] == [
        ("PUT", "/latest/api/token"),
        ("GET", "/latest/meta-data/"),
    ]


@pytest.mark.parametrize("v1", [False, True])
def test_an_unanswered_put_while_gets_are_answered_is_the_hop_limit(ec2: Path, v1: bool) -> None:
    with tiny(imds(v1=v1, put=lambda: None)) as server:
        d = doctor(server.endpoint, sys_root=ec2, timeout=UNANSWERED)
    c = check(d, f"token {server.name}")
    assert c.status == "problem"
    assert "hop limit" in c.message
    assert f"answered ({200 if v1 else 401})" in c.message
    # With IMDSv1 allowed, the instance ID comes from IMDS itself.
    instance = INSTANCE if v1 else "i-0fedcba9876543210"
    assert c.fix == (
        f"aws ec2 modify-instance-metadata-options --instance-id {instance}"
        " --http-put-response-hop-limit 2"
    )
    assert d.exit_code == 1
    assert f"fix (token {server.name}): {c.fix}" in d.lines()


def test_nothing_answered_at_all_is_not_the_hop_limit(ec2: Path) -> None:
    with tiny(lambda method, path, headers: None) as server:
        d = doctor(server.endpoint, sys_root=ec2, timeout=UNANSWERED)
    c = check(d, f"token {server.name}")
    assert c.status == "problem"
    assert "not even a GET" in c.message
    assert c.fix is None


def test_imdsv1_allowed_is_a_warning_with_its_fix(ec2: Path) -> None:
    with tiny(imds(v1=True)) as server:
        d = doctor(server.endpoint, sys_root=ec2)
    c = check(d, "imdsv1")
    assert c.status == "warning"
    assert "IMDSv1 is allowed" in c.message
    assert c.fix == (
        f"aws ec2 modify-instance-metadata-options --instance-id {INSTANCE} --http-tokens required"
    )
    assert d.exit_code == 0
    assert d.verdict == f"IMDS works through {server.name} (1 warning)"


def test_tags_not_enabled_and_no_role(ec2: Path) -> None:
    with tiny(imds(tags=False, role=False)) as server:
        d = doctor(server.endpoint, sys_root=ec2)
    tags, role = check(d, "tags"), check(d, "iam-role")
    assert tags.status == role.status == "warning"
    assert tags.fix == (
        f"aws ec2 modify-instance-metadata-options --instance-id {INSTANCE}"
        " --instance-metadata-tags enabled"
    )
    assert "no IAM role attached" in role.message
    assert role.fix == (
        f"aws ec2 associate-iam-instance-profile --instance-id {INSTANCE}"
        " --iam-instance-profile Name=<instance-profile>"
    )
    assert d.exit_code == 0


@needs_ipv6
def test_a_dead_ipv6_endpoint_beside_a_working_ipv4_one_is_a_warning(ec2: Path) -> None:
    dead = DeadSocket("::1")
    try:
        with tiny(imds()) as server:
            d = doctor(server.endpoint, (dead.host, dead.port), sys_root=ec2, timeout=UNANSWERED)
    finally:
        dead.close()
    c = check(d, f"connect [::1]:{dead.port}")
    assert c.status == "warning"
    assert "IPv6 endpoint is off" in c.message
    assert c.message.startswith(f"nothing accepted a connection in {UNANSWERED:g} s")
    assert c.fix == (
        f"aws ec2 modify-instance-metadata-options --instance-id {INSTANCE}"
        " --http-protocol-ipv6 enabled"
    )
    assert d.exit_code == 0
    assert d.endpoint == server.name


@needs_ipv6
def test_the_ipv6_endpoint_alone_and_dead_is_a_problem(ec2: Path) -> None:
    with DeadListener("::1") as dead:  # the simulator's dead listener
        d = doctor(dead.endpoint, sys_root=ec2, timeout=UNANSWERED)
    c = check(d, f"connect [::1]:{dead.port}")
    assert c.status == "problem"
    assert c.fix is not None
    assert c.fix.endswith("--http-protocol-ipv6 enabled")
    assert d.exit_code == 1


def test_not_on_ec2_and_nothing_answers(laptop: Path) -> None:
    with DeadListener("127.0.0.1") as dead:
        d = doctor(dead.endpoint, sys_root=laptop, timeout=UNANSWERED)
    c = check(d, "platform")
    assert c.status == "problem"
    assert "not an EC2 instance (DMI sys_vendor is 'LENOVO', not 'Amazon EC2')" in c.message
    assert d.exit_code == 1


def test_not_on_ec2_but_something_answers_is_a_warning(laptop: Path) -> None:
    with tiny(imds()) as server:
        d = doctor(server.endpoint, sys_root=laptop)
    c = check(d, "platform")
    assert c.status == "warning"
    assert f"{server.name} answered" in c.message
    assert d.exit_code == 0
    # No instance ID anywhere: the fix says where it goes.
    with tiny(forbidden) as server:
        off = doctor(server.endpoint, sys_root=laptop)
    fix = check(off, f"token {server.name}").fix
    assert fix is not None
    assert "--instance-id <instance-id> " in fix


@pytest.mark.parametrize(
    ("files", "on_ec2"),
    [
        ({"class/dmi/id/sys_vendor": "Amazon EC2"}, True),
        ({"class/dmi/id/sys_vendor": "Xen", "hypervisor/uuid": "ec2e1916-9099-7caf"}, True),
        ({"class/dmi/id/sys_vendor": "Xen", "class/dmi/id/bios_version": "4.11.amazon"}, True),
        ({"class/dmi/id/board_asset_tag": "i-0123456789abcdef0"}, True),
        ({"class/dmi/id/sys_vendor": "QEMU"}, False),
        ({"hypervisor/uuid": "4d2a1c9e-0000"}, False),
        ({}, None),
    ],
)
def test_the_platform_files(tmp_path: Path, files: dict[str, str], on_ec2: bool | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text + "\n")
    assert read_platform(tmp_path).on_ec2 is on_ec2


def test_proxy_variables_are_named_and_never_used(ec2: Path) -> None:
    with tiny(imds()) as server, tiny(forbidden) as proxy:
        url = f"http://{proxy.name}"
        d = doctor(server.endpoint, sys_root=ec2, env={"HTTPS_PROXY": url, "http_proxy": url})
        assert proxy.requests == []
    c = check(d, "proxy")
    assert c.status == "warning"
    assert c.message.startswith("http_proxy, HTTPS_PROXY set")
    assert proxy.name not in c.message  # a proxy URL may carry a password: never printed
    assert c.fix == "export NO_PROXY=169.254.169.254,[fd00:ec2::254]"
    assert d.exit_code == 0


def test_no_proxy_is_extended_not_replaced() -> None:
    env = {"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": "localhost,.internal"}
    d = diagnose(Settings(disabled=True), env=env, sys_root=Path("/nonexistent"))
    assert check(d, "proxy").fix == (
        "export NO_PROXY=localhost,.internal,169.254.169.254,[fd00:ec2::254]"
    )
    env["no_proxy"] = "169.254.169.254,fd00:ec2::254"
    d = diagnose(Settings(disabled=True), env=env, sys_root=Path("/nonexistent"))
    assert check(d, "proxy").status == "ok"


def test_container_variables_say_ecs_not_imds(ec2: Path) -> None:
    env = {
        "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/abc",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "do-not-print-me",
    }
    d = diagnose(Settings(disabled=True), env=env, sys_root=ec2)
    c = check(d, "container")
    assert c.status == "warning"
    assert "ECS task" in c.message
    assert "not from IMDS" in c.message
    assert "ECS_CONTAINER_METADATA_URI_V4" in c.message
    assert "do-not-print-me" not in json.dumps(d.to_json())


def test_aws_ec2_metadata_disabled_sends_nothing(ec2: Path) -> None:
    with tiny(imds()) as server:
        settings = Settings(endpoints=(server.endpoint,), disabled=True)
        d = diagnose(settings, env={"AWS_EC2_METADATA_DISABLED": "true"}, sys_root=ec2)
        assert server.requests == []
    c = check(d, "settings")
    assert c.status == "problem"
    assert c.fix == "unset AWS_EC2_METADATA_DISABLED"
    assert d.exit_code == 1
    assert check(d, "platform").status == "ok"


def test_with_nothing_sent_the_platform_says_only_what_it_is(laptop: Path) -> None:
    d = diagnose(Settings(disabled=True), env={}, sys_root=laptop)
    c = check(d, "platform")
    assert c.status == "warning"
    assert c.message == "not an EC2 instance (DMI sys_vendor is 'LENOVO', not 'Amazon EC2')"


def test_a_token_goes_only_to_the_endpoint_that_issued_it(ec2: Path) -> None:
    with tiny(imds()) as first, tiny(imds(token="other-token")) as second:
        doctor(first.endpoint, second.endpoint, sys_root=ec2)
    assert set(first.tokens_seen()) == {TOKEN}
    assert second.tokens_seen() == []  # only its PUT: the checks run on the first endpoint


@pytest.mark.parametrize(("status", "words"), [(405, "IMDSv2 is not served"), (503, "throttling")])
def test_other_answers_to_the_put(ec2: Path, status: int, words: str) -> None:
    with tiny(imds(put=lambda: (status, b""))) as server:
        d = doctor(server.endpoint, sys_root=ec2)
    c = check(d, f"token {server.name}")
    assert c.status == "problem"
    assert words in c.message
    assert d.exit_code == 1


# -- the simulator ------------------------------------------------------------------------


def sim_doctor(sim: IMDSSimulator, sys_root: Path, timeout: float = GENEROUS) -> Diagnosis:
    return doctor(sim.endpoint, sys_root=sys_root, timeout=timeout)


def test_the_simulator_shows_each_case(ec2: Path) -> None:
    with IMDSSimulator() as sim:
        assert set(statuses(sim_doctor(sim, ec2)).values()) == {"ok"}
        sim.allow_v1 = True
        assert check(sim_doctor(sim, ec2), "imdsv1").status == "warning"
        sim.allow_v1 = False
        sim.delete("meta-data/tags")
        sim.delete("meta-data/iam")
        d = sim_doctor(sim, ec2)
        assert check(d, "tags").status == check(d, "iam-role").status == "warning"
        sim.disabled = True
        assert (
            "turned off"
            in check(sim_doctor(sim, ec2), f"token {sim.endpoint[0]}:{sim.port}").message
        )
    with IMDSSimulator() as sim:
        sim.faults.put_hang = True
        d = sim_doctor(sim, ec2, timeout=UNANSWERED)
        assert "hop limit" in check(d, f"token 127.0.0.1:{sim.port}").message


def test_the_simulator_command_line_options() -> None:
    args = sim_cli.build_parser().parse_args(
        ["--tags-off", "--no-iam-role", "--put-hang", "--dead-listener", "[::1]:1339"]
    )
    assert args.dead_listener == ["[::1]:1339"]
    with IMDSSimulator() as sim:
        sim_cli._instance_options(sim, args)
        assert sim.get("meta-data/tags") is None
        assert sim.get("meta-data/iam") is None
        assert sim.faults.put_hang
    with pytest.raises(ValueError, match="give HOST:PORT"):
        sim_cli._dead_listeners(["127.0.0.1"])
    with socket.socket() as s:  # a free port, released for the listener to take
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (dead,) = sim_cli._dead_listeners([f"127.0.0.1:{port}"])
    try:
        assert dead.url == f"http://127.0.0.1:{port}"
        with socket.socket() as client:
            client.settimeout(0.5)  # a connect that never completes, however long
            with pytest.raises(socket.timeout):  # TimeoutError only from Python 3.10
                client.connect(dead.endpoint)
    finally:
        dead.close()


# -- the command line ---------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, ec2: Path, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.upper().startswith(("AWS_", "ECS_")) or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_METADATA_SERVICE_TIMEOUT", str(GENEROUS))
    monkeypatch.setattr("ec2imds.doctor.SYS_ROOT", ec2)
    return monkeypatch


def test_cli_text_and_exit_codes(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with tiny(imds(v1=True)) as server:
        assert cli.main(["--doctor", f"--imds={server.name}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"ok       settings: endpoints {server.name}; timeout 5 s")
    assert out[-2] == f"verdict: IMDS works through {server.name} (1 warning)"
    assert out[-1].startswith("fix (imdsv1): aws ec2 modify-instance-metadata-options")
    with tiny(forbidden) as server:
        assert cli.main(["--doctor", f"--imds={server.name}"]) == 1
    captured = capsys.readouterr()
    assert "verdict: IMDS does not work here (1 problem)" in captured.out
    assert captured.err == ""


def test_cli_json_document(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with tiny(imds(tags=False)) as server:
        assert cli.main(["--doctor", "--json", f"--imds={server.name}"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"works", "verdict", "endpoint", "checks"}
    assert doc["works"] is True
    assert doc["endpoint"] == server.name
    for c in doc["checks"]:
        assert set(c) == {"name", "status", "message", "fix"}
        assert c["status"] in ("ok", "warning", "problem")
    names = [c["name"] for c in doc["checks"]]
    assert names == [
        "settings",
        "platform",
        "proxy",
        "container",
        f"connect {server.name}",
        f"token {server.name}",
        "metadata",
        "imdsv1",
        "tags",
        "iam-role",
    ]
    assert doc["checks"][names.index("tags")]["fix"].endswith("--instance-metadata-tags enabled")


def test_cli_honours_the_profile_and_the_environment(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with tiny(imds()) as server:
        config = tmp_path / "config"
        config.write_text(f"[profile doc]\nec2_metadata_service_endpoint = http://{server.name}\n")
        clean_env.setenv("AWS_CONFIG_FILE", str(config))
        assert cli.main(["--doctor", "--json", "--profile", "doc"]) == 0
    assert json.loads(capsys.readouterr().out)["endpoint"] == server.name
    # --endpoint-mode picks the endpoint; AWS_EC2_METADATA_DISABLED keeps it from being sent.
    clean_env.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert cli.main(["--doctor", "--endpoint-mode", "IPv6"]) == 1
    out = capsys.readouterr().out
    assert "nothing was sent to the endpoints [fd00:ec2::254]" in out
    assert "fix (settings): unset AWS_EC2_METADATA_DISABLED" in out


def test_cli_simulate(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--simulate", "--doctor"]) == 0
    captured = capsys.readouterr()
    assert "verdict: IMDS works through 127.0.0.1:" in captured.out
    assert "querying the embedded IMDS simulator" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--json"], "--json goes with --doctor"),
        (["--doctor", "meta-data/instance-id"], "--doctor takes no category arguments"),
        (["--doctor", "--tree"], "conflicting commands: --tree, --doctor (give one)"),
    ],
)
def test_cli_usage_errors(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.splitlines()[0] == f"ec2imds: {message}"


def test_cli_verbose_logs_each_request_without_the_token(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with tiny(imds()) as server:
        assert cli.main(["--doctor", "-v", f"--imds={server.name}"]) == 0
    err = capsys.readouterr().err
    assert f"PUT http://{server.name}/latest/api/token: 200 in " in err
    assert TOKEN not in err
