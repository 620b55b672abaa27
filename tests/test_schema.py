"""JSON Schema export, and validation of saved dumps with JSON Pointer error paths."""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ec2imds import IMDS, catalog, models
from ec2imds._categories import CATEGORIES
from ec2imds.cli import main
from ec2imds.models import IMDSModel, InstanceMetadata, Placement, validate_raw
from ec2imds.schema import (
    EMPTY_FILE,
    FLAT_HINT,
    DumpError,
    dump,
    is_flat_dump,
    model_schema,
    schemas,
    unknown_keys,
    validate_dump,
    validate_dump_file,
)
from ec2imds.simulator import IMDSSimulator
from ec2imds.simulator.instance import default_tree

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
    assert "GMT" in event["properties"]["NotBefore"]["pattern"]
    assert "GMT" in event["properties"]["NotAfter"]["anyOf"][0]["pattern"]
    assert event["required"] == ["Code", "Description", "EventId", "NotBefore", "State"]


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
    # "" is the whole document (RFC 6901); "/" would be the key "" in it
    assert str(error).startswith('"": not a --tree dump: the file holds an array, ')
    for data, kind in (
        (None, "null"),
        ([], "an empty array"),
        ("x", "a string"),
        (1.5, "a number"),
    ):
        (error,) = validate_dump(data)
        assert f"the file holds {kind}, a dump is a JSON object" in error.message


def test_validate_dump_file(tmp_path: Path, good_dump: Any) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(good_dump))
    assert validate_dump_file(good) == []
    broken = tmp_path / "broken.json"
    broken.write_text('{"meta-data": ')
    (error,) = validate_dump_file(broken)
    assert error.pointer == ""
    assert "cannot read a JSON dump" in error.message
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    assert validate_dump_file(empty) == [DumpError("", EMPTY_FILE)]
    (missing,) = validate_dump_file(tmp_path / "nope.json")
    assert missing.pointer == ""
    bad = tmp_path / "bad.json"
    bad_dump = copy.deepcopy(good_dump)
    bad_dump["meta-data"]["ami-launch-index"] = "x"
    bad.write_text(json.dumps(bad_dump))
    (error,) = validate_dump_file(str(bad))
    assert error.pointer == "/meta-data/ami-launch-index"


# -- what a CI check must catch, and what it must let through --------------------------
ALWAYS_VALUES = [p for p in catalog.always_present() if catalog.entry(p).kind != "dir"]


def flat_dump() -> dict[str, Any]:
    """What ``ec2imds -a`` prints: one object keyed by category path."""
    with IMDSSimulator() as sim, IMDS(endpoints=[sim.endpoint]) as imds:
        return imds.values(list(CATEGORIES))


def misspelt(good: Any) -> Any:
    bad = copy.deepcopy(good)
    placement = bad["meta-data"]["placement"]
    placement["availabilty-zone"] = placement.pop("availability-zone")
    return bad


def with_unknown_category(good: Any) -> Any:
    grown = copy.deepcopy(good)
    grown["meta-data"]["brand-new-category"] = {"thing": "value"}
    grown["meta-data"]["placement"]["new-leaf"] = "x"
    grown["dynamic"]["instance-identity"]["document"]["newKey"] = [1]
    return grown


def test_an_empty_dump_fails_naming_each_missing_path() -> None:
    errors = validate_dump({})
    assert sorted(e.pointer for e in errors) == sorted(f"/{p}" for p in ALWAYS_VALUES)
    assert "/meta-data/instance-id" in {e.pointer for e in errors}
    assert "/dynamic/instance-identity/document" in {e.pointer for e in errors}
    assert all(e.message == "missing, but EC2 serves it on every instance" for e in errors)


def test_each_always_present_value_is_required(good_dump: Any) -> None:
    for path in ALWAYS_VALUES:
        bad = copy.deepcopy(good_dump)
        *parents, name = path.split("/")
        node = bad
        for segment in parents:
            node = node[segment]
        del node[name]
        assert [e.pointer for e in validate_dump(bad)] == [f"/{path}"], path


def test_the_flat_format_is_refused_with_a_hint() -> None:
    flat = flat_dump()
    assert flat["meta-data/instance-id"] == "i-0123456789abcdef0"
    assert is_flat_dump(flat)
    flat["meta-data/ami-launch-index"] = "zero"
    (error,) = validate_dump(flat)
    assert error.pointer == ""
    assert "ec2imds --tree" in error.message
    assert "\n" not in error.message


def test_a_misspelt_key_is_missing_and_reported_with_did_you_mean(good_dump: Any) -> None:
    bad = misspelt(good_dump)
    (error,) = validate_dump(bad)
    assert error.pointer == "/meta-data/placement/availability-zone"
    (unknown,) = unknown_keys(bad)
    assert unknown.pointer == "/meta-data/placement/availabilty-zone"
    assert unknown.message == "unknown key; did you mean 'availability-zone'?"


def test_unknown_categories_are_warnings_unless_strict(good_dump: Any) -> None:
    grown = with_unknown_category(good_dump)
    assert validate_dump(grown) == []
    found = {e.pointer: e.message for e in unknown_keys(grown)}
    assert set(found) == {
        "/meta-data/brand-new-category",
        "/meta-data/placement/new-leaf",
        "/dynamic/instance-identity/document/newKey",
    }
    assert "did you mean" not in found["/meta-data/brand-new-category"]
    assert {e.pointer for e in validate_dump(grown, strict=True)} == set(found)
    assert unknown_keys(good_dump) == []
    assert validate_dump(good_dump, strict=True) == []


def test_a_bad_tag_key_fails(good_dump: Any) -> None:
    bad = copy.deepcopy(good_dump)
    bad["meta-data"]["tags"]["instance"]["has space"] = "x"
    (error,) = validate_dump(bad)
    assert error.pointer == "/meta-data/tags/instance/has space"
    assert "not a tag key" in error.message


# The same verdicts from an independent validator, on the exported schema.
def jsonschema_errors(data: Any) -> list[str]:
    schema = json.loads((ROOT / "schema" / "InstanceMetadata.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(data)]


def test_jsonschema_gives_the_same_verdicts(good_dump: Any) -> None:
    assert jsonschema_errors(good_dump) == []
    assert (
        jsonschema_errors(dump(validate_raw(InstanceMetadata, to_raw(default_tree()), path="")))
        == []
    )
    assert jsonschema_errors(with_unknown_category(good_dump)) == []
    assert sorted(jsonschema_errors({})) == [
        "'dynamic' is a required property",
        "'meta-data' is a required property",
    ]
    assert jsonschema_errors(flat_dump()) != []
    assert jsonschema_errors(misspelt(good_dump)) == ["'availability-zone' is a required property"]
    wrong = copy.deepcopy(good_dump)
    wrong["meta-data"]["ami-launch-index"] = "zero"
    assert jsonschema_errors(wrong) == ["'zero' is not of type 'integer'"]
    bad_tag = copy.deepcopy(good_dump)
    bad_tag["meta-data"]["tags"]["instance"]["has space"] = "x"
    assert jsonschema_errors(bad_tag) != []


@pytest.mark.slow
def test_jsonschema_requires_each_always_present_value(good_dump: Any) -> None:
    for path in ALWAYS_VALUES:
        bad = copy.deepcopy(good_dump)
        *parents, name = path.split("/")
        node = bad
        for segment in parents:
            node = node[segment]
        del node[name]
        assert jsonschema_errors(bad) == [f"{name!r} is a required property"], path


# -- the command line: ec2imds --validate [--strict] ------------------------------------
def validate_cli(tmp_path: Path, data: Any, *flags: str) -> tuple[int, str, str]:
    dump_file = tmp_path / "dump.json"
    dump_file.write_text(json.dumps(data))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--validate", str(dump_file), *flags])
    return (
        code,
        out.getvalue().replace(str(dump_file), "FILE"),
        err.getvalue().replace(str(dump_file), "FILE"),
    )


def test_cli_validate_rejects_an_empty_dump_naming_each_path(tmp_path: Path) -> None:
    code, out, err = validate_cli(tmp_path, {})
    assert code == 1
    assert out.splitlines() == [
        *(
            f"FILE: /{p}: missing, but EC2 serves it on every instance"
            for p in sorted(ALWAYS_VALUES)
        ),
        f"{len(ALWAYS_VALUES)} error(s) in 1 of 1 file(s)",
    ]
    assert err == "ec2imds: --validate: 1 of 1 file(s) invalid\n"


def test_cli_validate_refuses_the_flat_format_in_one_line(tmp_path: Path) -> None:
    code, out, err = validate_cli(tmp_path, flat_dump())
    assert (code, out) == (1, f'FILE: "": {FLAT_HINT}\n1 error(s) in 1 of 1 file(s)\n')
    assert err == "ec2imds: --validate: 1 of 1 file(s) invalid\n"


def test_cli_validate_a_misspelt_key(tmp_path: Path, good_dump: Any) -> None:
    code, out, err = validate_cli(tmp_path, misspelt(good_dump))
    assert code == 1
    assert out == (
        "FILE: /meta-data/placement/availability-zone: missing, but EC2 serves it on every "
        "instance\n1 error(s) in 1 of 1 file(s)\n"
    )
    assert err.splitlines() == [
        "ec2imds: FILE: warning: /meta-data/placement/availabilty-zone: unknown key; did you "
        "mean 'availability-zone'?",
        "ec2imds: --validate: 1 of 1 file(s) invalid",
    ]


def test_cli_validate_unknown_categories_warn_unless_strict(tmp_path: Path, good_dump: Any) -> None:
    code, out, err = validate_cli(tmp_path, with_unknown_category(good_dump))
    assert (code, out) == (0, "FILE: valid\nno errors in 1 file(s)\n")
    assert "warning: /meta-data/brand-new-category: unknown key" in err
    assert len(err.splitlines()) == 3
    code, out, err = validate_cli(tmp_path, with_unknown_category(good_dump), "--strict")
    assert code == 1
    assert "FILE: /meta-data/brand-new-category: unknown key" in out
    assert out.endswith("\n3 error(s) in 1 of 1 file(s)\n")
    assert err == "ec2imds: --validate: 1 of 1 file(s) invalid\n"
    code, out, _ = validate_cli(tmp_path, good_dump, "--strict")
    assert (code, out) == (0, "FILE: valid\nno errors in 1 file(s)\n")


def test_cli_strict_goes_with_validate() -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["--strict", "-L"]) == 2
    assert "--strict goes with --validate" in err.getvalue()
