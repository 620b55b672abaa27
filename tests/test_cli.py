"""The ``ec2imds`` command line, run as a real subprocess against the embedded simulator.

Every subprocess gets :func:`cli_env`: no ``AWS_*`` or proxy variables from the machine
running the tests, and ``tests/_guard`` first on ``PYTHONPATH`` so its ``sitecustomize``
refuses any connection to the real IMDS (the in-process guard is in ``conftest.py``).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import gzip
import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ec2imds
from ec2imds.catalog import default_tree
from ec2imds.simulator import IMDSSimulator
from tests.helpers import (
    GOLDEN,
    GUARD_DIR,
    GUARD_MESSAGE,  # what the guard writes on refusal
    INSTANCE_ID,
    USER_DATA,
    cli_env,
    closed_port,
    error_line,
    on,
    run,
)

PLACEMENT = [
    "meta-data/placement/availability-zone",
    "meta-data/placement/availability-zone-id",
    "meta-data/placement/group-name",
    "meta-data/placement/host-id",
    "meta-data/placement/partition-number",
    "meta-data/placement/region",
]


# -- running the command ----------------------------------------------------------------


def console_script() -> list[str]:
    """The installed ``ec2imds`` entry point, next to the interpreter running the tests."""
    script = Path(sys.executable).parent / "ec2imds"
    assert script.is_file(), f"no console script at {script}"
    return [str(script)]


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[IMDSSimulator]:
    """One simulator for the tests that only read (faults go to their own simulators)."""
    tree = default_tree()
    tree["user-data"] = USER_DATA
    with IMDSSimulator(tree, seed=11) as s:
        yield s
        assert s.faults.pending == 0


@pytest.fixture(scope="module")
def listed() -> list[str]:
    """``ec2imds -L``, as lines."""
    result = run("-L")
    assert result.code == 0, result.err
    assert result.err == ""
    return result.text.splitlines()


@pytest.fixture(scope="module")
def tree_dump(sim: IMDSSimulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``ec2imds --tree`` of the shared simulator."""
    result = run("--tree", *on(sim, tmp_path_factory.mktemp("tokens")))
    assert result.code == 0, result.err
    dump: dict[str, Any] = result.json()
    return dump


# -- the guard -----------------------------------------------------------------------


def test_subprocesses_load_the_guard_and_lose_aws_variables() -> None:
    code = (
        "import os, sitecustomize; "
        "print(sitecustomize.EC2IMDS_TEST_GUARD, sitecustomize.__file__); "
        "print(sorted(k for k in os.environ if k.startswith('AWS_') "
        "or k.lower().endswith('_proxy')))"
    )
    polluted = {
        **os.environ,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env=cli_env(base=polluted),
        timeout=30,
        check=True,
    )
    first, second = proc.stdout.decode().splitlines()
    assert first == f"True {GUARD_DIR / 'sitecustomize.py'}"
    # both set to NO_CONFIG_FILE: never the real ~/.aws files
    assert second == "['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE']"


@pytest.mark.parametrize(
    "args",
    [
        ["--imds=169.254.169.254", "meta-data/instance-id"],
        ["--imds=[fd00:ec2::254]:80", "meta-data/instance-id"],
        ["meta-data/instance-id"],  # the defaults: both real endpoints, raced
    ],
    ids=["ipv4", "ipv6", "defaults"],
)
def test_guard_stops_a_subprocess_reaching_the_real_imds(args: list[str], tmp_path: Path) -> None:
    result = run(*args, "-t", str(tmp_path))
    assert result.code == 1
    assert GUARD_MESSAGE in result.err
    assert "Traceback" not in result.err
    assert result.out == b""


def test_importing_the_package_stays_cheap() -> None:
    code = (
        "import sys, ec2imds, ec2imds.cli; "
        "print(sorted(m for m in ('httpx', 'pydantic', 'ec2imds.client') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=cli_env(), timeout=30, check=True
    )
    assert proc.stdout.decode().strip() == "[]"


#: Neither the catalog (its generated tables are enough) nor the simulator (the catalog's
#: default instance signs its identity document with the simulator's TEST keys).
NO_CATALOG = ["ec2imds.catalog", "ec2imds.simulator"]


@pytest.mark.parametrize(
    ("args", "absent"),
    [
        (["--raw", "meta-data/instance-id"], ["httpx", "pydantic", "logging", *NO_CATALOG]),
        (
            ["meta-data/local-ipv4", "meta-data/security-groups"],
            ["httpx", "pydantic", "logging", *NO_CATALOG],
        ),
        (["-a"], ["httpx", "pydantic", *NO_CATALOG]),
        (["-E", "meta-data/placement/.*"], ["httpx", "pydantic", *NO_CATALOG]),
        (["--tree"], ["httpx"]),
        (["-U"], ["httpx", "pydantic", *NO_CATALOG]),
        (["--watch", "--once", "--interval", "0.1"], ["httpx"]),
    ],
)
def test_a_run_imports_only_what_it_needs(
    sim: IMDSSimulator,
    tmp_path: Path,
    args: list[str],
    absent: list[str],
    request: pytest.FixtureRequest,
) -> None:
    """Start-up is most of a one-value call: no httpx in the command line at all, no
    pydantic unless a value needs the models (``-a`` does not: ``ec2imds._plain``), and no
    logging when nothing is logged."""
    if "--watch" in args:  # a spot notice for --once to end on, removed afterwards
        sim.inject_spot_interruption()
        request.addfinalizer(lambda: sim.delete("meta-data/spot"))
    code = (
        "import sys, io\n"
        "from ec2imds.cli import main\n"
        "sys.stdout = io.TextIOWrapper(io.BytesIO())\n"
        f"rc = main({[*on(sim, tmp_path), *args]!r})\n"
        "sys.stdout = sys.__stdout__\n"
        f"print(rc, sorted(m for m in {absent!r} if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=cli_env(), timeout=30, check=True
    )
    assert proc.stdout.decode().split(None, 1) == ["0", "[]\n"], proc.stderr.decode()


# -- everything, regexes, categories -------------------------------------------------


@pytest.mark.parametrize("args", [[], ["-a"], ["--all"]], ids=["no-arguments", "-a", "--all"])
def test_all_prints_every_listed_category_typed(
    args: list[str], sim: IMDSSimulator, listed: list[str], tmp_path: Path
) -> None:
    result = run(*args, *on(sim, tmp_path))
    assert result.code == 0, result.err
    assert result.err == ""
    values = result.json()
    assert list(values) == listed
    assert values["meta-data/instance-id"] == INSTANCE_ID
    launch_index = values["meta-data/ami-launch-index"]
    assert launch_index == 0
    assert type(launch_index) is int
    assert values["meta-data/security-groups"] == ["web", "default"]
    assert values["meta-data/local-ipv4"] == "10.0.1.23"
    assert values["meta-data/ipv6"] == "2600:1f18:1234:5601::a1"
    assert values["meta-data/placement/region"] == "us-east-1"
    assert values["meta-data/kernel-id"] is None  # absent (404) is null
    document = values["dynamic/instance-identity/document"]
    assert isinstance(document, dict)
    assert document["instanceId"] == INSTANCE_ID
    assert document["privateIp"] == "10.0.1.23"
    assert values["meta-data/block-device-mapping"]["root"] == "/dev/xvda"
    assert values["meta-data/tags/instance"] == {
        "Environment": "prod",
        "Name": "web-1",
        "Team": "platform",
    }
    assert isinstance(values["meta-data/events/maintenance/history"], list)
    macs = values["meta-data/network/interfaces/macs"]
    eth0 = macs["0e:49:61:0f:c3:11"]
    assert type(eth0["device-number"]) is int
    assert eth0["local-ipv4s"] == ["10.0.1.23", "10.0.1.24"]
    assert macs["0e:49:61:0f:c3:22"]["device-number"] == 1
    assert len(values["meta-data/public-keys"]) == 2


def test_exec_regex_selects_exactly_the_placement_categories(
    sim: IMDSSimulator, tmp_path: Path
) -> None:
    result = run("-E", "meta-data/placement/.*", *on(sim, tmp_path))
    assert result.code == 0, result.err
    values = result.json()
    assert list(values) == PLACEMENT
    assert values["meta-data/placement/region"] == "us-east-1"
    assert values["meta-data/placement/availability-zone"] == "us-east-1a"
    assert values["meta-data/placement/group-name"] is None


def test_positional_categories_through_the_console_script(
    sim: IMDSSimulator, tmp_path: Path
) -> None:
    result = run(
        "meta-data/instance-id",
        "meta-data/public-ipv4",
        *on(sim, tmp_path),
        command=console_script(),
    )
    assert result.code == 0, result.err
    assert result.json() == {
        "meta-data/instance-id": INSTANCE_ID,
        "meta-data/public-ipv4": "54.210.1.23",
    }


def test_positional_categories_in_the_0_0_3_forms(sim: IMDSSimulator, tmp_path: Path) -> None:
    before = sim.stats.requests
    result = run(
        "meta-data/instance-id=some-arg",
        "meta-data/instance-identity/document",
        *on(sim, tmp_path),
    )
    assert result.code == 0, result.err
    values = result.json()
    # Keyed by the names asked for, so 0.0.3-era `jq '."meta-data/instance-identity/..."'`
    # finds the document that 0.0.3 (asking the wrong path) never got.
    assert list(values) == ["meta-data/instance-id", "meta-data/instance-identity/document"]
    assert values["meta-data/instance-id"] == INSTANCE_ID
    assert values["meta-data/instance-identity/document"]["instanceId"] == INSTANCE_ID
    seen = sim.stats.requests - before
    assert seen[("GET", "/latest/dynamic/instance-identity/document")] == 1
    assert not [p for _, p in seen if p.startswith("/latest/meta-data/instance-identity")]


# -- listing ---------------------------------------------------------------------------


def test_list_all_matches_the_golden_file(listed: list[str]) -> None:
    golden = (GOLDEN / "list-all.txt").read_text()
    assert "\n".join(listed) + "\n" == golden
    # The golden file itself is sane: sorted, unique, concrete category paths.
    assert listed == sorted(set(listed))
    assert all(re.fullmatch(r"(meta-data|dynamic)(/[a-z0-9][a-z0-9.-]*)+", c) for c in listed)
    assert "user-data" not in listed
    assert {"meta-data/instance-id", "dynamic/instance-identity/document"} <= set(listed)


@pytest.mark.parametrize(
    ("pattern", "count"),
    [
        ("meta-data/placement/", 6),
        ("dynamic/", 5),
        (".*credentials", 4),
        ("placement", 0),  # re.match, as in 0.0.3: anchored at the start
    ],
)
def test_list_regex(pattern: str, count: int, listed: list[str]) -> None:
    result = run("-l", pattern)
    assert result.code == 0, result.err
    lines = result.text.splitlines()
    assert lines == [c for c in listed if re.match(pattern, c)]
    assert len(lines) == count


# -- user data -----------------------------------------------------------------------


def test_user_data_is_byte_exact(sim: IMDSSimulator, tmp_path: Path) -> None:
    result = run("-U", *on(sim, tmp_path))
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out == USER_DATA


def test_user_data_set_live_gzip(sim: IMDSSimulator, tmp_path: Path) -> None:
    payload = gzip.compress(bytes(range(256)) * 64 + b"\x00" * 100, mtime=0)
    sim.set("user-data", payload)
    try:
        result = run("--user-data", *on(sim, tmp_path))
    finally:
        sim.set("user-data", USER_DATA)
    assert result.code == 0, result.err
    assert result.out == payload
    assert gzip.decompress(result.out).endswith(b"\x00" * 100)


def test_user_data_absent(sim: IMDSSimulator, tmp_path: Path) -> None:
    assert sim.delete("user-data")
    try:
        result = run("-U", *on(sim, tmp_path))
    finally:
        sim.set("user-data", USER_DATA)
    assert result.code == 0
    assert result.out == b""
    assert result.err == "ec2imds: this instance has no user data\n"


def test_user_data_refuses_a_terminal(sim: IMDSSimulator, tmp_path: Path) -> None:
    before = sim.stats.total
    master, slave = pty.openpty()
    try:
        result = run("-U", *on(sim, tmp_path), stdout=slave)
        os.close(slave)
        readable, _, _ = select.select([master], [], [], 0.2)
        written = b""
        if readable:
            try:
                written = os.read(master, 4096)
            except OSError:  # EIO: the terminal is closed and empty
                written = b""
    finally:
        os.close(master)
    message = error_line(result, 2)
    assert "terminal" in message
    assert written == b""
    assert sim.stats.total == before  # refused before any request


# -- plain values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("meta-data/instance-id", f"{INSTANCE_ID}\n"),
        ("meta-data/ami-launch-index", "0\n"),
        ("meta-data/security-groups", "web\ndefault\n"),
        ("meta-data/instance-identity/signature=x", None),  # the 0.0.3 name, path=arg form
    ],
)
def test_raw(category: str, expected: str | None, sim: IMDSSimulator, tmp_path: Path) -> None:
    result = run("--raw", category, *on(sim, tmp_path))
    assert result.code == 0, result.err
    assert result.err == ""
    if expected is None:
        signature = sim.get("dynamic/instance-identity/signature")
        assert isinstance(signature, str)
        expected = signature + "\n"
    assert result.text == expected


def test_raw_absent_category_is_exit_1(sim: IMDSSimulator, tmp_path: Path) -> None:
    result = run("--raw", "meta-data/kernel-id", *on(sim, tmp_path))
    message = error_line(result, 1)  # documented in -h and docs/cli.md
    assert message == "ec2imds: meta-data/kernel-id: absent on this instance (404)"
    help_text = run("-h").text
    assert "with --raw: the category is absent on this instance (404" in help_text
    assert "meta-data/kernel-id" in message
    assert "absent" in message
    assert result.out == b""


# -- tree, schema, validate ------------------------------------------------------------


def test_tree_is_valid_and_validates(tree_dump: dict[str, Any], tmp_path: Path) -> None:
    assert set(tree_dump) == {"meta-data", "dynamic", "user-data"}
    assert base64.b64decode(tree_dump["user-data"], validate=True) == USER_DATA
    assert tree_dump["meta-data"]["ami-launch-index"] == 0
    assert tree_dump["dynamic"]["instance-identity"]["document"]["instanceId"] == INSTANCE_ID
    saved = tmp_path / "tree.json"
    saved.write_text(json.dumps(tree_dump))
    result = run("--validate", str(saved))
    assert result.code == 0, result.err
    assert result.text == f"{saved}: valid\nno errors in 1 file(s)\n"
    assert result.err == ""


def test_validate_from_stdin(tree_dump: dict[str, Any]) -> None:
    result = run("--validate", "-", stdin=json.dumps(tree_dump).encode())
    assert result.code == 0, result.err
    assert result.text == "-: valid\nno errors in 1 file(s)\n"


@pytest.mark.parametrize(
    "args",
    [
        ["--validate", "FILE"],
        ["--strict", "--validate", "FILE"],
        ["--validate", "--strict", "FILE"],
        ["--validate", "FILE", "--strict"],
    ],
    ids=["alone", "strict-first", "strict-between", "strict-last"],
)
def test_validate_takes_its_options_in_any_order(
    args: list[str], tree_dump: dict[str, Any], tmp_path: Path
) -> None:
    saved = tmp_path / "tree.json"
    grown = copy.deepcopy(tree_dump)
    grown["meta-data"]["brand-new"] = "x"  # an unknown key: an error only with --strict
    saved.write_text(json.dumps(grown))
    result = run(*[str(saved) if a == "FILE" else a for a in args])
    if "--strict" in args:
        assert error_line(result, 1) == "ec2imds: --validate: 1 of 1 file(s) invalid"
        assert result.text.splitlines() == [
            f"{saved}: /meta-data/brand-new: unknown key (kept: IMDS adds categories)",
            "1 error(s) in 1 of 1 file(s)",
        ]
    else:
        assert result.code == 0, result.err
        assert result.text == f"{saved}: valid\nno errors in 1 file(s)\n"
        warning = "/meta-data/brand-new: unknown key (kept: IMDS adds categories)"
        assert result.err == f"ec2imds: {saved}: warning: {warning}\n"


def test_validate_several_files_names_each_and_sums_up(
    tree_dump: dict[str, Any], tmp_path: Path
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(tree_dump))
    bad = copy.deepcopy(tree_dump)
    bad["meta-data"]["ami-launch-index"] = "zero"
    bad["meta-data"]["placement"]["region"] = 5
    worse = tmp_path / "bad.json"
    worse.write_text(json.dumps(bad))
    result = run("--validate", str(good), str(worse), "-", stdin=b"[]")
    assert error_line(result, 1) == "ec2imds: --validate: 2 of 3 file(s) invalid"
    lines = result.text.splitlines()
    assert lines[0] == f"{good}: valid"
    assert sorted(lines[1:3]) == [
        f"{worse}: /meta-data/ami-launch-index: 'zero' is not an integer",
        f"{worse}: /meta-data/placement/region: 5 is not text",
    ]
    assert lines[3].startswith('-: "": not a --tree dump: the file holds an empty array')
    assert lines[4:] == ["3 error(s) in 2 of 3 file(s)"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty file"),
        (b" \n", "empty file"),
        (b"[]", "the file holds an empty array"),
        (b"[1]", "the file holds an array"),
        (b"null", "the file holds null"),
        (b'"x"', "the file holds a string"),
        (b"3", "the file holds a number"),
    ],
)
def test_validate_says_in_words_what_is_no_dump(content: bytes, words: str, tmp_path: Path) -> None:
    saved = tmp_path / "dump.json"
    saved.write_bytes(content)
    result = run("--validate", str(saved))
    assert error_line(result, 1) == "ec2imds: --validate: 1 of 1 file(s) invalid"
    first, summary = result.text.splitlines()
    assert first.startswith(f'{saved}: "": '), first
    assert words in first
    assert "a JSON object" in first
    assert "Input should be" not in first
    assert "Expecting value" not in first
    assert summary == "1 error(s) in 1 of 1 file(s)"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--validate"], "--validate needs one or more FILE arguments"),
        (["--validate", "-", "-"], "'-' (stdin) given more than once"),
        (["--strict", "x.json"], "--strict goes with --validate"),
    ],
)
def test_validate_usage_errors(args: list[str], words: str) -> None:
    assert words in error_line(run(*args, stdin=b"{}"), 2)


def test_validate_a_bad_dump_names_every_error(tree_dump: dict[str, Any], tmp_path: Path) -> None:
    bad = copy.deepcopy(tree_dump)
    md = bad["meta-data"]
    md["ami-launch-index"] = "zero"
    md["placement"]["region"] = 5
    md["network"]["interfaces"]["macs"]["0e:49:61:0f:c3:11"]["device-number"] = "x"
    md["public-keys"]["0=my-key"]["openssh-key"] = 7
    saved = tmp_path / "bad.json"
    saved.write_text(json.dumps(bad))
    result = run("--validate", str(saved))
    assert error_line(result, 1) == "ec2imds: --validate: 1 of 1 file(s) invalid"
    *lines, summary = result.text.splitlines()
    assert summary == "4 error(s) in 1 of 1 file(s)"
    pointers = sorted(line.removeprefix(f"{saved}: ").split(": ", 1)[0] for line in lines)
    assert pointers == [
        "/meta-data/ami-launch-index",
        "/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/device-number",
        "/meta-data/placement/region",
        "/meta-data/public-keys/0=my-key/openssh-key",
    ]


@pytest.mark.parametrize("kind", ["missing", "directory", "not-json"])
def test_validate_an_unreadable_file_is_exit_1(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "dump.json"
    if kind == "directory":
        target.mkdir()
    elif kind == "not-json":
        target.write_bytes(b"{\xff")
    result = run("--validate", str(target))
    assert error_line(result, 1) == "ec2imds: --validate: 1 of 1 file(s) invalid"
    first, summary = result.text.splitlines()
    words = "not JSON" if kind == "not-json" else "cannot read it"
    assert first.startswith(f'{target}: "": {words}: '), first
    assert summary == "1 error(s) in 1 of 1 file(s)"


def test_schema_of_the_tree() -> None:
    result = run("--schema")
    assert result.code == 0, result.err
    schema = result.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert {"meta-data", "dynamic", "user-data"} <= set(schema["properties"])


def test_schema_of_one_model() -> None:
    result = run("--schema", "Placement")
    assert result.code == 0, result.err
    schema = result.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Placement"
    assert {"region", "availability-zone", "partition-number"} <= set(schema["properties"])


# -- exit codes ----------------------------------------------------------------------


def test_unreachable_endpoint_is_exit_1(tmp_path: Path) -> None:
    port = closed_port()
    result = run(f"--imds=127.0.0.1:{port}", "-t", str(tmp_path), "meta-data/instance-id")
    message = error_line(result, 1)
    assert "cannot reach IMDS" in message
    assert f"127.0.0.1:{port}" in message
    assert result.out == b""


@pytest.mark.parametrize("args", [["meta-data/instance-id"], ["-a"]], ids=["one", "all"])
def test_403_on_the_token_request_is_imds_turned_off(args: list[str], tmp_path: Path) -> None:
    with IMDSSimulator() as own:
        own.faults.burst(403, 1000, method="PUT", path="api/token")  # IMDS turned off
        result = run(*args, *on(own, tmp_path))
        assert own.stats.gets == 0
        if args != ["-a"]:
            assert own.stats.puts == 1  # a 403 is never retried
    message = error_line(result, 1)
    assert "IMDS is turned off" in message
    assert result.out == b""


def test_one_category_failing_during_all_still_prints_the_others(
    listed: list[str], tmp_path: Path
) -> None:
    with IMDSSimulator() as own:
        # Two attempts allowed, two 500s: the retry budget is spent on this category.
        own.faults.burst(500, 2, method="GET", path="meta-data/instance-id")
        result = run("-a", *on(own, tmp_path), env={"AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2"})
        assert own.faults.pending == 0
        assert own.stats.count("/latest/meta-data/instance-id") == 2
    message = error_line(result, 1)
    assert "meta-data/instance-id" in message
    assert "500" in message
    values = result.json()
    assert list(values) == [c for c in listed if c != "meta-data/instance-id"]
    assert values["meta-data/placement/region"] == "us-east-1"


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--bogus"], {}, "--bogus"),
        (["-E", "("], {}, "invalid regex"),
        (["-l", "[a-"], {}, "invalid regex"),
        (["meta-data/instance-idd"], {}, "did you mean meta-data/instance-id"),
        (["--raw", "meta-data/regoin"], {}, "unknown category"),
        (["--imds=foo:bar", "-a"], {}, "'foo:bar': invalid endpoint"),
        (["--imds=127.0.0.1:99999", "-a"], {}, "out of range"),
        (["-L", "-U"], {}, "conflicting commands: -L, -U"),
        (["-E", "x", "--tree"], {}, "conflicting commands"),
        (["-L", "meta-data/instance-id"], {}, "takes no category arguments"),
        (["-a", "meta-data/instance-id"], {}, "-a takes no category arguments"),
        (["--all", "meta-data/instance-id"], {}, "-a takes no category arguments"),
        (["--schema", "Nope"], {}, "unknown model"),
        (["-a"], {"AWS_METADATA_SERVICE_TIMEOUT": "abc"}, "AWS_METADATA_SERVICE_TIMEOUT"),
        (["-a"], {"AWS_METADATA_SERVICE_NUM_ATTEMPTS": "0"}, "NUM_ATTEMPTS"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_usage_errors_are_exit_2(
    args: list[str], env: dict[str, str], needle: str, sim: IMDSSimulator, tmp_path: Path
) -> None:
    before = sim.stats.total
    result = run(*on(sim, tmp_path), *args, env=env)
    message = error_line(result, 2)
    assert needle in message
    assert sim.stats.total == before  # a usage error never reaches IMDS


# -- tokens --------------------------------------------------------------------------


def test_token_persists_across_runs_and_never_shows(sim: IMDSSimulator, tmp_path: Path) -> None:
    token_dir = tmp_path / "cache" / "tokens"
    puts, rejected = sim.stats.puts, sim.stats.statuses[401]
    first = run("-vv", "meta-data/instance-id", *on(sim, token_dir))
    assert first.code == 0, first.err
    assert sim.stats.puts == puts + 1
    second = run("-v", "meta-data/instance-id", *on(sim, token_dir))
    third = run("-vv", "--raw", "meta-data/placement/region", *on(sim, token_dir))
    assert second.code == third.code == 0
    assert sim.stats.puts == puts + 1  # the later runs reused the saved token
    assert sim.stats.statuses[401] == rejected

    token_file = token_dir / f"127.0.0.1:{sim.port}"
    assert [p.name for p in token_dir.iterdir()] == [token_file.name]
    assert stat.S_IMODE(token_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = json.loads(token_file.read_text())
    assert set(saved) == {"token", "expiry"}
    token = saved["token"]
    assert len(token) >= 20

    assert "GET /latest/meta-data/instance-id" in first.err  # -vv does say something
    for result in (first, second, third):
        assert token not in result.err
        assert token.encode() not in result.out


def test_a_rejected_token_file_is_replaced(sim: IMDSSimulator, tmp_path: Path) -> None:
    """A token file IMDS no longer accepts (a reboot, an image's leftover): one 401, a
    new token, the file rewritten."""
    token_dir = tmp_path / "tokens"
    token_dir.mkdir(mode=0o700)
    token_file = token_dir / f"127.0.0.1:{sim.port}"
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).isoformat()
    token_file.write_text(json.dumps({"token": "leftover-from-the-image", "expiry": soon}))
    puts, rejected = sim.stats.puts, sim.stats.statuses[401]
    result = run("--raw", "meta-data/instance-id", *on(sim, token_dir))
    assert result.code == 0, result.err
    assert result.text == f"{INSTANCE_ID}\n"
    assert sim.stats.statuses[401] == rejected + 1
    assert sim.stats.puts == puts + 1
    assert json.loads(token_file.read_text())["token"] != "leftover-from-the-image"


# -- the rest --------------------------------------------------------------------------


def test_simulate_needs_no_endpoint() -> None:
    result = run("--simulate", "--raw", "meta-data/instance-id", env={"HOME": "/nonexistent"})
    assert result.code == 0, result.err
    assert result.text == f"{INSTANCE_ID}\n"
    assert re.fullmatch(
        r"ec2imds: querying the embedded IMDS simulator at http://127\.0\.0\.1:\d+\n", result.err
    )


def test_version() -> None:
    result = run("-V")
    assert result.code == 0
    assert result.text.splitlines() == [f"Version: {ec2imds.__version__}", "IMDS version: latest"]


def test_help_shows_examples_and_exit_codes() -> None:
    result = run("-h")
    assert result.code == 0
    assert result.err == ""
    text = result.text
    assert text.startswith("usage: ec2imds")
    for needle in (
        "examples:",
        "ec2imds -E 'meta-data/placement/.*'",
        "ec2imds -U > userdata",
        "exit codes:",
        "  0  success",
        "  1  runtime error",
        "  2  usage error",
        "--imds",
        "-t DIR",
        "-l REGEX",
        "--validate",
    ):
        assert needle in text, needle


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "-v"])
def test_a_warning_is_one_line_in_the_command_lines_format(
    sim: IMDSSimulator, tmp_path: Path, verbose: list[str]
) -> None:
    """The handler is set up on the first warning (logging is not imported before), or at
    once with -v: either way one ``ec2imds: WARNING:`` line, and the value printed."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    result = run(*on(sim, shared), *verbose, "meta-data/instance-id")
    assert result.code == 0, result.err
    assert result.json() == {"meta-data/instance-id": "i-0123456789abcdef0"}
    warnings = [line for line in result.err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, result.err
    assert warnings[0].startswith("ec2imds: WARNING: ")
    assert "not persisted" in warnings[0]


def test_simulate_ignores_the_aws_settings_valid_or_not() -> None:
    """Developers set AWS_EC2_METADATA_DISABLED=true on laptops to keep the SDKs off IMDS:
    exactly the people who try the simulator. --simulate reaches it whatever is set."""
    env = {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9",
        "AWS_METADATA_SERVICE_TIMEOUT": "not a number",
    }
    result = run("--simulate", "-v", "--raw", "meta-data/instance-id", env=env)
    assert (result.code, result.text) == (0, INSTANCE_ID + "\n"), result.err
    ignored = next(line for line in result.err.splitlines() if "--simulate: ignoring" in line)
    for name in env:
        assert name in ignored
    # Without --simulate the same environment is a configuration error.
    assert "AWS_METADATA_SERVICE_TIMEOUT" in error_line(
        run("--raw", "meta-data/instance-id", env=env), 2
    )


def test_a_catalog_directory_prints_what_e_selects_there() -> None:
    group = run("--simulate", "meta-data/placement/")
    regex = run("--simulate", "-E", "meta-data/placement/.*")
    assert group.code == 0, group.err
    assert json.loads(group.text) == json.loads(regex.text)
    assert "meta-data/placement/region" in json.loads(group.text)


def test_raw_on_a_catalog_directory_says_what_to_use() -> None:
    result = run("--simulate", "--raw", "meta-data/placement")
    assert result.code == 2
    assert "use ec2imds meta-data/placement" in result.err
    assert result.text == ""
