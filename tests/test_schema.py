"""JSON Schema export, and validation of saved dumps with JSON Pointer error paths."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ec2imds import models
from ec2imds.catalog import default_tree
from ec2imds.models import IMDSModel, InstanceMetadata, Placement, validate_raw
from ec2imds.schema import DumpError, dump, model_schema, schemas, validate_dump, validate_dump_file

ROOT = Path(__file__).resolve().parent.parent
MAC0 = "0e:49:61:0f:c3:11"


def to_raw(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: to_raw(v) for k, v in node.items()}
    return node if isinstance(node, bytes) else node.encode()


@pytest.fixture(scope="module")
def good_dump() -> Any:
    meta = validate_raw(InstanceMetadata, to_raw(default_tree()), path="")
    return dump(meta, reveal_secrets=True)


def test_schemas_cover_every_model() -> None:
    exported = schemas()
    expected = {
        f"{n}.json"
        for n in models.__all__
        if isinstance(getattr(models, n), type)
        and issubclass(getattr(models, n), IMDSModel)
        and n != "IMDSModel"
    }
    assert set(exported) == expected
    assert "InstanceMetadata.json" in exported


def test_committed_schemas_match_the_models() -> None:
    for name, schema in schemas().items():
        assert json.loads((ROOT / "schema" / name).read_text()) == schema, name


def test_schema_uses_imds_keys_and_descriptions() -> None:
    root = model_schema(InstanceMetadata)
    assert root["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"meta-data", "dynamic", "user-data"} <= set(root["properties"])
    assert root["properties"]["user-data"]["anyOf"][0]["contentEncoding"] == "base64"
    placement = model_schema(Placement)
    assert placement["properties"]["availability-zone"]["description"]
    assert "availability_zone" not in placement["properties"]
    event = model_schema(models.MaintenanceEvent)
    assert "GMT" in event["properties"]["NotBefore"]["anyOf"][0]["pattern"]


def test_a_dump_of_the_default_instance_is_valid(good_dump: Any) -> None:
    assert validate_dump(good_dump) == []
    assert validate_dump(json.loads(json.dumps(good_dump))) == []


def test_a_masked_dump_is_valid_too() -> None:
    meta = validate_raw(InstanceMetadata, to_raw(default_tree()), path="")
    masked = dump(meta)
    creds = masked["meta-data"]["iam"]["security-credentials"]["my-app-role"]
    assert creds["SecretAccessKey"] == "**********"
    assert validate_dump(masked) == []


def test_user_data_is_base64_in_a_dump(good_dump: Any) -> None:
    assert base64.b64decode(good_dump["user-data"]) == default_tree()["user-data"]


def test_every_error_is_reported_with_a_json_pointer(good_dump: Any) -> None:
    bad = copy.deepcopy(good_dump)
    md = bad["meta-data"]
    md["placement"]["region"] = 5
    md["network"]["interfaces"]["macs"][MAC0]["device-number"] = "zero"
    md["public-keys"]["0=my-key"]["openssh-key"] = ["not", "text"]
    md["events"]["maintenance"]["history"][0]["NotBefore"] = "someday"
    md["tags"]["instance"]["a~b/c"] = 7
    bad["dynamic"]["instance-identity"]["document"]["architecture"] = "sparc"
    bad["user-data"] = "***"
    errors = validate_dump(bad)
    assert all(isinstance(e, DumpError) for e in errors)
    by_pointer = {e.pointer: e for e in errors}
    assert set(by_pointer) == {
        "/meta-data/placement/region",
        f"/meta-data/network/interfaces/macs/{MAC0}/device-number",
        "/meta-data/public-keys/0=my-key/openssh-key",
        "/meta-data/events/maintenance/history/0/NotBefore",
        "/meta-data/tags/instance/a~0b~1c",
        "/dynamic/instance-identity/document/architecture",
        "/user-data",
    }
    assert by_pointer["/meta-data/placement/region"].value == 5
    assert "'zero' is not an integer" in str(
        by_pointer[f"/meta-data/network/interfaces/macs/{MAC0}/device-number"]
    )
    assert "base64" in by_pointer["/user-data"].message


def test_a_dump_that_is_not_an_object() -> None:
    (error,) = validate_dump([1, 2])
    assert error.pointer == ""
    assert str(error).startswith("/: ")


def test_validate_dump_file(tmp_path: Path, good_dump: Any) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(good_dump))
    assert validate_dump_file(good) == []
    broken = tmp_path / "broken.json"
    broken.write_text('{"meta-data": ')
    (error,) = validate_dump_file(broken)
    assert error.pointer == ""
    assert "cannot read a JSON dump" in error.message
    (missing,) = validate_dump_file(tmp_path / "nope.json")
    assert missing.pointer == ""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"meta-data": {"ami-launch-index": "x"}}))
    (error,) = validate_dump_file(str(bad))
    assert error.pointer == "/meta-data/ami-launch-index"
