"""``ec2imds --schema NAME``: a model by name (any case, when one model has it) or by the
catalog path of what it describes; an unknown name is a usage error with suggestions."""

from __future__ import annotations

import pytest

from ec2imds.schema import schema_name
from tests.helpers import error_line, run


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("meta-data/placement", "Placement"),
        ("meta-data/placement/", "Placement"),
        ("/latest/meta-data/placement/", "Placement"),
        ("meta-data/iam", "Iam"),
        ("dynamic/instance-identity", "InstanceIdentity"),
        ("meta-data", "MetaData"),
        ("/", "InstanceMetadata"),
        ("Placement", "Placement"),
        ("Placement.json", "Placement"),
        ("placement", "Placement"),
        ("PLACEMENT", "Placement"),
        ("instance-identity", "InstanceIdentity"),
        ("instanceidentitydocument", "InstanceIdentityDocument"),
        ("meta-data/iam/info", "IamInfo"),  # a JSON document: its shape's model
        ("meta-data/public-keys", "PublicKey"),  # a keyed directory: its entries' model
        ("meta-data/network/interfaces/macs/0e:49:61:0f:c3:11", "NetworkInterface"),
    ],
)
def test_a_schema_by_path_or_by_name(text: str, title: str) -> None:
    assert schema_name(text) == title
    result = run("--schema", text)
    assert result.code == 0, result.err
    assert result.json()["title"] == title


def test_the_issue_s_example_prints_the_placement_schema() -> None:
    result = run("--schema", "meta-data/placement")
    assert result.code == 0, result.err
    assert result.json() == run("--schema", "Placement").json()
    assert {"region", "availability-zone"} <= set(result.json()["properties"])


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("Nope", "'Nope': unknown model or catalog path (ec2imds -L lists the paths)"),
        ("placment", "'placment': unknown model or catalog path (did you mean Placement"),
        ("meta-data/placment", "did you mean meta-data/placement"),
        ("meta-data/placement/region", "has no model of its own: it is part of Placement"),
        ("meta-data/tags/instance", "has no model of its own: it is part of Tags"),
        ("credentials", "did you mean IamCredentials, IdentityCredentials"),
    ],
)
def test_an_unknown_or_valueless_name_is_a_usage_error(text: str, needle: str) -> None:
    message = error_line(run("--schema", text), 2)
    assert message.startswith("ec2imds: --schema "), message
    assert needle in message


def test_a_name_two_models_answer_to_is_ambiguous() -> None:
    # meta-data/iam/info and meta-data/identity-credentials/ec2/info: both named "info".
    message = error_line(run("--schema", "info"), 2)
    assert message == (
        "ec2imds: --schema 'info' is ambiguous: one of IamInfo, IdentityCredentialsInfo"
    )
    assert schema_name("meta-data/iam/info") == "IamInfo"
