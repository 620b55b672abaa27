"""The AWS SDKs' own IMDS endpoint cases (smithy-rs ``imds-endpoint-tests.json``, the same
14 as aws-sdk-kotlin's), read from ``../shared`` (tests.support.paths.shared_data): environment,
profile file and explicit overrides -> the token URL, or an error. The deliberate
deviations are listed in docs/settings.md, by case name, in ``DEVIATIONS``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ec2imds.endpoints import DEFAULT_ENDPOINTS
from ec2imds.errors import IMDSConfigError
from ec2imds.settings import Settings
from tests.support.paths import shared_data

#: Case name -> why ec2imds differs (also in docs/settings.md, "The SDKs' cases").
DEVIATIONS = {
    "all fields unset, default endpoint": "both endpoints raced (the SDKs: IPv4 alone)",
    "explicit endpoint override": "plain HTTP only: an https:// endpoint is refused",
}


def _cases() -> list[dict[str, Any]]:
    path = shared_data("sdk-cases", "smithy-rs", "imds-endpoint-tests.json")
    return list(json.loads(path.read_text())["tests"])


def _url(settings: Settings) -> str:
    if len(settings.endpoints) != 1:
        return "raced: " + ", ".join(map(str, settings.endpoints))
    ((host, port),) = settings.endpoints
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}{'' if port is None else f':{port}'}/latest/api/token"


def _resolve(case: dict[str, Any], tmp_path: Path) -> Settings:
    for name, text in case["fs"].items():
        (tmp_path / name).write_text(text)
    env = dict(case["env"])
    if "AWS_CONFIG_FILE" in env:
        env["AWS_CONFIG_FILE"] = str(tmp_path / env["AWS_CONFIG_FILE"])
    else:
        env["AWS_CONFIG_FILE"] = str(tmp_path / "absent")
    override = case.get("endpoint_override")
    endpoints = None
    if override is not None:
        if not override.startswith("http://"):
            raise IMDSConfigError(f"{override!r}: plain HTTP only")
        endpoints = override[len("http://") :]
    return Settings.resolve(endpoints=endpoints, endpoint_mode=case.get("mode_override"), env=env)


def test_smithy_rs_endpoint_cases(tmp_path: Path) -> None:
    cases = _cases()
    assert len(cases) == 14
    passed: list[str] = []
    failed: list[str] = []
    for i, case in enumerate(cases):
        name = case["docs"]
        where = tmp_path / str(i)
        where.mkdir()
        want = case["result"]
        try:
            got: str | None = _url(_resolve(case, where))
        except IMDSConfigError:
            got = None
        ok = got is None if "Err" in want else got == want["Ok"]
        (passed if ok else failed).append(name)
    assert sorted(failed) == sorted(DEVIATIONS), (failed, passed)


def test_deviation_default_races_both(tmp_path: Path) -> None:
    assert Settings.resolve(env={"AWS_CONFIG_FILE": str(tmp_path / "x")}).endpoints == (
        DEFAULT_ENDPOINTS
    )


def test_deviations_are_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "settings.md").read_text()
    for name in DEVIATIONS:
        assert f"`{name}`" in doc
