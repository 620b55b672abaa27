"""Credentials' secrets (``SecretAccessKey``, ``Token``) are masked in what the command
line prints for ``-a``, ``-E`` and ``--tree``; shown when their category is asked for by
name, or with ``--show-secrets``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds.simulator import IMDSSimulator
from tests.support.command import error_line, on, run

ROLE = "meta-data/iam/security-credentials/my-app-role"
EXTENDED = "meta-data/iam/security-credentials-extended/my-app-role"
IDENTITY = "meta-data/identity-credentials/ec2/security-credentials/ec2-instance"
MASK = "**********"


@pytest.fixture(scope="module")
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator() as s:
        yield s


def secrets(sim: IMDSSimulator) -> list[str]:
    """Every secret value the simulator serves (three documents, two secrets each)."""
    found = []
    for path in (ROLE, EXTENDED, IDENTITY):
        text = sim.get(path)
        assert isinstance(text, str)
        doc = json.loads(text)
        found += [doc["SecretAccessKey"], doc["Token"]]
    assert all(len(s) > 10 for s in found)
    return found


@pytest.mark.parametrize(
    "args",
    [["-a"], [], ["-E", "meta-data/(iam|identity).*"], ["--tree"]],
    ids=["all", "default", "regex", "tree"],
)
def test_masked_unless_asked(args: list[str], sim: IMDSSimulator, tmp_path: Path) -> None:
    result = run(*args, *on(sim, tmp_path))
    assert result.code == 0, result.err
    for secret in secrets(sim):
        assert secret not in result.text
        assert secret not in result.err
    assert result.text.count(f'"SecretAccessKey": "{MASK}"') == 3
    assert result.text.count(f'"Token": "{MASK}"') == 3
    assert "AccessKeyId" in result.text  # the rest of the document is there


@pytest.mark.parametrize(
    "args",
    [
        ["-a", "--show-secrets"],
        ["--show-secrets", "-E", "meta-data/(iam|identity).*"],
        ["--tree", "--show-secrets"],
    ],
    ids=["all", "regex", "tree"],
)
def test_shown_with_the_flag(args: list[str], sim: IMDSSimulator, tmp_path: Path) -> None:
    result = run(*args, *on(sim, tmp_path))
    assert result.code == 0, result.err
    for secret in secrets(sim):
        assert secret in result.text
    assert MASK not in result.text


@pytest.mark.parametrize(
    "args",
    [
        ["meta-data/iam/security-credentials"],
        [ROLE],
        ["meta-data/iam/security-credentials-extended", IDENTITY],
        ["--raw", ROLE],
        ["--raw", IDENTITY],
    ],  # -a with categories is a usage error (tests/test_cli.py)
)
def test_shown_when_named(args: list[str], sim: IMDSSimulator, tmp_path: Path) -> None:
    result = run(*args, *on(sim, tmp_path))
    assert result.code == 0, result.err
    assert MASK not in result.text
    assert sum(secret in result.text for secret in secrets(sim)) >= 2


def test_a_masked_tree_is_still_a_valid_dump(sim: IMDSSimulator, tmp_path: Path) -> None:
    dump = run("--tree", *on(sim, tmp_path))
    saved = tmp_path / "instance.json"
    saved.write_bytes(dump.out)
    checked = run("--validate", str(saved))
    assert checked.code == 0, checked.text + checked.err


@pytest.mark.parametrize("command", [["-L"], ["-U"], ["--schema"], ["--watch", "--once"]])
def test_the_flag_goes_with_printing_values(command: list[str], tmp_path: Path) -> None:
    message = error_line(run("--show-secrets", *command, "-t", str(tmp_path)), 2)
    assert "--show-secrets" in message


def test_masked_in_a_partial_tree_too(tmp_path: Path) -> None:
    """--tree with a category that fails prints the rest: still masked."""
    with IMDSSimulator() as bad:
        bad.set("meta-data/ami-launch-index", "zero")
        result = run("--tree", *on(bad, tmp_path))
        served = secrets(bad)
    assert result.code == 1
    assert "meta-data/ami-launch-index" in result.err
    for secret in served:
        assert secret not in result.text
        assert secret not in result.err
    assert result.text.count(f'"Token": "{MASK}"') == 3
