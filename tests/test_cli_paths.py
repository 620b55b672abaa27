"""Paths below a keyed directory as category arguments: one tag, one interface or one of
its fields, one public key; with ``--raw`` too, and 0.0.3's ``map=KEY`` form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds import _category_json
from ec2imds.simulator import IMDSSimulator
from ec2imds.simulator.instance import default_tree
from tests.support.command import error_line, on, run

MAC = "0e:49:61:0f:c3:11"
ENI = f"meta-data/network/interfaces/macs/{MAC}"


@pytest.fixture(scope="module")
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator(default_tree()) as s:
        s.set("meta-data/tags/instance/a=b", "with an equals sign")
        yield s


@pytest.mark.parametrize(
    ("argument", "key", "value"),
    [
        ("meta-data/tags/instance/Name", "meta-data/tags/instance/Name", "web-1"),
        ("meta-data/tags/instance=Name", "meta-data/tags/instance/Name", "web-1"),
        ("/meta-data/tags/instance/Team/", "meta-data/tags/instance/Team", "platform"),
        ("meta-data/tags/instance/a=b", "meta-data/tags/instance/a=b", "with an equals sign"),
        ("meta-data/tags/instance/Nope", "meta-data/tags/instance/Nope", None),
        (f"{ENI}/subnet-id", f"{ENI}/subnet-id", "subnet-0a1b2c3d4e5f60101"),
        (f"{ENI}/device-number", f"{ENI}/device-number", 0),
        (
            "meta-data/public-keys/0/openssh-key",
            "meta-data/public-keys/0/openssh-key",
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7examplekey0 my-key",
        ),
        (
            "meta-data/public-keys=0",
            "meta-data/public-keys/0",
            {"openssh-key": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7examplekey0 my-key"},
        ),
    ],
)
def test_a_path_below_a_keyed_directory_is_a_category(
    argument: str, key: str, value: object, sim: IMDSSimulator, tmp_path: Path
) -> None:
    result = run(argument, *on(sim, tmp_path))
    assert result.code == 0, result.err
    assert result.json() == {key: value}


def test_one_interface_whole_and_with_other_categories(sim: IMDSSimulator, tmp_path: Path) -> None:
    result = run(ENI, "meta-data/instance-id", f"{ENI}/mac", *on(sim, tmp_path))
    assert result.code == 0, result.err
    out = result.json()
    assert list(out) == [ENI, "meta-data/instance-id", f"{ENI}/mac"]
    assert out[ENI]["subnet-id"] == "subnet-0a1b2c3d4e5f60101"
    assert out[ENI]["ipv4-associations"] == {"54.210.1.23": ["10.0.1.23"]}
    assert out[f"{ENI}/mac"] == MAC


@pytest.mark.parametrize(
    ("argument", "text"),
    [
        ("meta-data/tags/instance/Name", "web-1\n"),
        ("meta-data/tags/instance=Environment", "prod\n"),
        (f"{ENI}/subnet-id", "subnet-0a1b2c3d4e5f60101\n"),
        (f"{ENI}/ipv4-associations/54.210.1.23", "10.0.1.23\n"),
        (
            "meta-data/public-keys/0/openssh-key",
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7examplekey0 my-key\n",
        ),
    ],
)
def test_raw_of_a_path_below_a_keyed_directory(
    argument: str, text: str, sim: IMDSSimulator, tmp_path: Path
) -> None:
    result = run("--raw", argument, *on(sim, tmp_path))
    assert result.code == 0, result.err
    assert result.text == text


def test_raw_of_an_absent_tag_is_exit_1(sim: IMDSSimulator, tmp_path: Path) -> None:
    message = error_line(run("--raw", "meta-data/tags/instance/Nope", *on(sim, tmp_path)), 1)
    assert "meta-data/tags/instance/Nope" in message
    assert "absent" in message


@pytest.mark.parametrize(
    "argument",
    [
        "meta-data/tags/instance/../instance-id",  # never leaves the subtree
        "meta-data/tags/instance/a b",
        f"{ENI}/no-such-field",
        "meta-data/placement/region/extra",  # below a leaf, not a keyed directory
        "meta-data/public-keys=0/../../x",
    ],
)
def test_what_the_catalog_does_not_know_is_a_usage_error(
    argument: str, sim: IMDSSimulator, tmp_path: Path
) -> None:
    before = sim.stats.total
    message = error_line(run(argument, *on(sim, tmp_path)), 2)
    assert "ec2imds: " in message
    assert sim.stats.total == before


def test_resolve_path() -> None:
    assert (
        _category_json.resolve_path("meta-data/tags/instance/Name")
        == "meta-data/tags/instance/Name"
    )
    assert _category_json.resolve_path("meta-data/placement/region") == "meta-data/placement/region"
    assert _category_json.resolve_path("meta-data/instance-identity/document") == (
        "dynamic/instance-identity/document"
    )
    assert _category_json.resolve_path(f"{ENI}/local-ipv4s") == f"{ENI}/local-ipv4s"
    assert _category_json.resolve_path("meta-data/tags/instance/..") is None
    assert _category_json.resolve_path("meta-data/placement/nope") is None
    assert _category_json.category_is_dir(ENI)
    assert not _category_json.category_is_dir(f"{ENI}/subnet-id")
    assert not _category_json.is_simple("meta-data/tags/instance/Name")  # read through the models
