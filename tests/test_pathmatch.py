"""Run-time path matching (``ec2imds/_pathmatch.py``): a concrete IMDS path to its catalog
entry and the placeholders' bindings."""

from __future__ import annotations

import pytest

from ec2imds import catalog
from ec2imds._pathmatch import match


@pytest.mark.parametrize(
    ("path", "expected", "bindings"),
    [
        ("meta-data/placement/region", "meta-data/placement/region", {}),
        ("/latest/meta-data/placement/region", "meta-data/placement/region", {}),
        ("meta-data/placement/", "meta-data/placement", {}),
        ("", "", {}),
        ("user-data", "user-data", {}),
        (
            "meta-data/network/interfaces/macs/0e:00:00:00:00:01/ipv4-associations/1.2.3.4",
            "meta-data/network/interfaces/macs/{mac}/ipv4-associations/{ip}",
            {"mac": "0e:00:00:00:00:01", "ip": "1.2.3.4"},
        ),
        ("meta-data/public-keys/3/openssh-key", "meta-data/public-keys/{index}/openssh-key",
         {"index": "3"}),
        ("meta-data/iam/security-credentials/r", "meta-data/iam/security-credentials/{role}",
         {"role": "r"}),
        ("meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
         "meta-data/identity-credentials/ec2/security-credentials/ec2-instance", {}),
    ],
)  # fmt: skip
def test_match(path: str, expected: str, bindings: dict[str, str]) -> None:
    hit = match(path)
    assert hit is not None
    assert hit[0].path == expected
    assert hit[1] == bindings


@pytest.mark.parametrize(
    "path", ["meta-data/nope", "meta-data/placement/region/deeper", "other", "meta-data/tags/x/y"]
)
def test_match_unknown(path: str) -> None:
    assert match(path) is None


def test_every_catalog_path_matches_itself() -> None:
    """No pattern with a placeholder shadows a fixed name (``identity-credentials/ec2/
    security-credentials/ec2-instance`` is not ``iam/security-credentials/{role}``)."""
    for e in catalog.ENTRIES:
        if "{" in e.path:
            continue
        hit = match(e.path)
        assert hit is not None, e.path
        assert hit[0] is e
