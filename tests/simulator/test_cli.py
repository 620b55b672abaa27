"""``python -m ec2imds.simulator`` as a newcomer uses it: serving a dump that
``ec2imds --tree`` wrote (round trip), and events scheduled from the shell for
``ec2imds --watch``."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds import IMDS
from ec2imds.simulator import IMDSSimulator
from ec2imds.simulator.cli import exposure_warning
from ec2imds.simulator.cli import main as simulator_main
from ec2imds.simulator.identity import certificates
from ec2imds.simulator.instance import default_tree
from ec2imds.simulator.tree import dump_tree, tree_file_errors, tree_from_json
from tests.support.command import USER_DATA, cli_env, on, run
from tests.support.trees import bad_tree

LISTENING = re.compile(r"IMDS simulator listening on http://127\.0\.0\.1:(\d+)\n")


@contextlib.contextmanager
def serving(*args: str) -> Iterator[int]:
    """``python -m ec2imds.simulator --port 0 ARGS``, running; yields its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ec2imds.simulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = LISTENING.fullmatch(line)
        if match is None:
            assert proc.stderr is not None
            pytest.fail(f"the simulator did not start: {line!r} {proc.stderr.read()!r}")
        yield int(match.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def at(port: int, token_dir: Path) -> list[str]:
    return [f"--imds=127.0.0.1:{port}", "-t", str(token_dir)]


# -- serving our own dumps -------------------------------------------------------------------


@pytest.fixture(scope="module")
def first() -> Iterator[IMDSSimulator]:
    tree = default_tree()
    tree["user-data"] = USER_DATA  # binary: NUL bytes, invalid UTF-8, a gzip member
    with IMDSSimulator(tree) as sim:
        sim.inject_maintenance(code="instance-stop", event_id="instance-event-0123456789abcdef0")
        yield sim


@pytest.mark.slow
@pytest.mark.parametrize("secrets", [["--show-secrets"], []], ids=["secrets", "masked"])
def test_the_simulator_serves_a_tree_dump_round_trip(
    secrets: list[str], first: IMDSSimulator, tmp_path: Path
) -> None:
    dumped = run("--tree", *secrets, *on(first, tmp_path / "1"))
    assert dumped.code == 0, dumped.err
    doc = dumped.json()
    assert doc["dynamic"]["instance-identity"]["document"]["billingProducts"] is None
    saved = tmp_path / "instance.json"
    saved.write_bytes(dumped.out)
    certificate = tmp_path / "rsa2048.pem"
    certificate.write_bytes(certificates()["rsa2048"])
    with serving("--tree", str(saved)) as port:
        again = run("--tree", *secrets, *at(port, tmp_path / "2"))
        flat = run("-a", *secrets, *at(port, tmp_path / "2"))
        user_data = run("-U", *at(port, tmp_path / "2"))
        verified = run("--verify-identity", "--certificate", str(certificate), *at(port, tmp_path))
    assert again.code == 0, again.err
    assert again.out == dumped.out  # the same values, byte for byte as printed
    original = run("-a", *secrets, *on(first, tmp_path / "1"))
    assert (flat.code, flat.out) == (0, original.out)
    assert user_data.out == USER_DATA
    assert verified.code == 0, verified.err  # the document served is the one signed


def test_a_dump_s_values_become_what_imds_would_serve() -> None:
    tree = tree_from_json(
        {
            "dynamic": {"instance-identity": {"document": {"a": None, "b": [1, "x"]}}},
            "meta-data": {
                "ami-launch-index": 0,
                "security-groups": ["web", "default"],
                "kernel-id": None,
                "events": {"maintenance": {"scheduled": []}},
                "unknown": {"x": "y"},
            },
            "user-data": "AAH/",
        }
    )
    dynamic = tree["dynamic"]
    assert isinstance(dynamic, dict)
    identity = dynamic["instance-identity"]
    assert isinstance(identity, dict)
    document = identity["document"]
    assert isinstance(document, str)
    assert json.loads(document) == {"a": None, "b": [1, "x"]}
    assert document == '{\n  "a" : null,\n  "b" : [ 1, "x" ]\n}'  # AWS's layout
    meta = tree["meta-data"]
    assert isinstance(meta, dict)
    assert meta["ami-launch-index"] == "0"
    assert meta["security-groups"] == "web\ndefault"
    assert "kernel-id" not in meta  # null: absent, 404
    assert meta["events"] == {"maintenance": {"scheduled": "[ ]"}}  # as AWS writes it
    assert meta["unknown"] == {"x": "y"}
    assert tree["user-data"] == b"\x00\x01\xff"


@pytest.mark.parametrize(
    ("user_data", "served"),
    [
        ("#!/bin/sh\necho hi\n", b"#!/bin/sh\necho hi\n"),  # not base64: the text
        ({"$base64": "AAH/"}, b"\x00\x01\xff"),  # the simulator's own bytes form
    ],
)
def test_user_data_text_and_bytes_forms_still_load(user_data: object, served: bytes) -> None:
    assert tree_from_json({"user-data": user_data})["user-data"] == served


# -- events from the shell -----------------------------------------------------------------


def test_a_spot_interruption_from_the_shell_reaches_watch(tmp_path: Path) -> None:
    with serving("--spot-interruption-after", "0.5", "--spot-action", "stop") as port:
        watch = ["--watch", "spot", "--once", "--interval", "0.2"]
        result = subprocess.run(
            [sys.executable, "-m", "ec2imds", *at(port, tmp_path), *watch],
            capture_output=True,
            env=cli_env(),
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    event = json.loads(result.stdout)
    assert event["kind"] == "spot-instance-action"
    assert event["value"]["action"] == "stop"
    # Whether it came before or after the watch started depends on the machine's load
    # (the watch starts in a new process): either is right, and marked as such.
    assert isinstance(event["existing"], bool)


def test_every_event_flag_reaches_the_watcher() -> None:
    flags = ["--rebalance-after", "0.3", "--maintenance-after", "0.3"]
    flags += ["--lifecycle-after", "0.3", "--lifecycle-state", "Terminating:Wait"]
    flags += ["--spot-interruption-after", "0.3", "--maintenance-code", "instance-retirement"]
    seen: dict[str, object] = {}
    with serving(*flags) as port, IMDS(endpoints=f"127.0.0.1:{port}") as imds:
        deadline = time.monotonic() + 60  # a bound against a hang, not a timing check
        for event in imds.watch(interval=0.2):
            seen.setdefault(event.kind, event.value)
            if len(seen) == 5 or time.monotonic() > deadline:
                break
    assert set(seen) == {
        "spot-instance-action",
        "spot-termination-time",
        "rebalance-recommendation",
        "scheduled-maintenance",
        "target-lifecycle-state",
    }
    assert seen["target-lifecycle-state"] == "Terminating:Wait"
    maintenance = seen["scheduled-maintenance"]
    assert getattr(maintenance, "code", None) == "instance-retirement"


@pytest.mark.parametrize(
    "argv",
    [
        ["--spot-interruption-after", "-1"],
        ["--rebalance-after", "soon"],
        ["--spot-action", "explode"],
        ["--maintenance-code", "nope"],
    ],
)
def test_bad_event_flags_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        simulator_main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


# -- what the simulator refuses, or warns about ---------------------------------------------


def test_a_tree_the_models_refuse_is_not_served_each_path_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bad_tree(tmp_path)
    assert simulator_main(["--port", "0", "--tree", str(path)]) == 1  # before binding
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"ec2imds.simulator: error: {path}: /meta-data/ami-id: missing, but EC2 serves it "
        "on every instance",
        f"ec2imds.simulator: error: {path}: /meta-data/instance-id: 5 is not text",
        f"ec2imds.simulator: error: {path}: 2 value(s) fail the models (each named above; "
        "--allow-invalid-tree serves it anyway)",
    ]


def test_allow_invalid_tree_serves_it_anyway(tmp_path: Path) -> None:
    with serving("--tree", str(bad_tree(tmp_path)), "--allow-invalid-tree") as port:
        result = run("--raw", "meta-data/instance-id", *at(port, tmp_path))
    assert (result.code, result.text) == (0, "5\n")


def test_a_saved_tree_dump_and_the_file_form_both_pass(tmp_path: Path) -> None:
    form = tmp_path / "form.json"
    dump_tree(default_tree(), form)  # bytes as {"$base64": ...}, values as served text
    assert tree_file_errors(form) == []
    with IMDSSimulator() as sim:
        dumped = run("--tree", *on(sim, tmp_path))  # secrets masked: still valid
    saved = tmp_path / "dump.json"
    saved.write_bytes(dumped.out)
    assert tree_file_errors(saved) == []


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("127.0.0.1", None),
        ("127.0.0.2", None),
        ("::1", None),
        ("[::1]", None),
        ("localhost", None),
        ("0.0.0.0", "every interface"),
        ("::", "every interface"),
        ("", "every interface"),
        ("10.0.1.23", "not loopback"),
        ("imds.example", "a name, maybe not loopback"),
    ],
)
def test_a_host_other_than_loopback_is_warned_about(host: str, warned: str | None) -> None:
    warning = exposure_warning(host)
    if warned is None:
        assert warning is None
    else:
        assert warning is not None
        assert warning.startswith(f"--host {host!r} ({warned}): other machines can reach")
        assert "fake credentials, tokens and user data" in warning


def test_the_warning_is_said_on_stderr_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A missing tree file stops it before it binds: the warning comes first, nothing served.
    argv = ["--host", "0.0.0.0", "--port", "0", "--tree", str(tmp_path / "none.json")]
    assert simulator_main(argv) == 1
    first, error = capsys.readouterr().err.splitlines()
    assert first == f"ec2imds.simulator: warning: {exposure_warning('0.0.0.0')}"
    assert error.startswith("ec2imds.simulator: error: ")
    assert simulator_main(["--port", "0", "--tree", str(tmp_path / "none.json")]) == 1
    assert "ec2imds.simulator: warning" not in capsys.readouterr().err
