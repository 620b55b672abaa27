"""The AWS SDKs' own IMDS cases, read from ``../shared`` (tests.helpers.shared_data):
smithy-rs ``imds-endpoint-tests.json`` (the same 14 as aws-sdk-kotlin's: environment,
profile file and explicit overrides -> the token URL, or an error; the deliberate
deviations are listed in docs/settings.md, by case name, in ``DEVIATIONS``), and its
``default-credential-provider-chain/imds_*`` traffic recorded against EC2, replayed from
loopback (docs/settings.md, "The SDKs' cases")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest

from ec2imds import IMDS
from ec2imds.endpoints import DEFAULT_ENDPOINTS
from ec2imds.errors import IMDSConfigError, IMDSDisabled, IMDSError
from ec2imds.models import IamCredentials
from ec2imds.settings import Settings
from tests.helpers import RawServer, http_answer, shared_data

#: Case name -> why ec2imds differs (also in docs/settings.md, "The SDKs' cases").
DEVIATIONS = {
    "all fields unset, default endpoint": "both endpoints raced, IPv4 first (the SDKs: IPv4 alone)",
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


# -- smithy-rs's default-credential-provider-chain imds_* cases: recorded EC2 traffic -----

CHAIN = ("sdk-cases", "smithy-rs", "default-credential-provider-chain")
CHAIN_CASES = (
    "imds_assume_role",
    "imds_config_with_no_creds",
    "imds_default_chain_error",
    "imds_default_chain_retries",
    "imds_default_chain_success",
    "imds_disabled",
    "imds_no_iam_role",
    "imds_token_fail",
)


class Exchange(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    status: int
    body: bytes


def _traffic(case: Path) -> list[Exchange]:
    """The recorded IMDS exchanges, in order (the STS call of imds_assume_role left out:
    it is the SDK using the credentials, not IMDS)."""
    events = json.loads((case / "http-traffic.json").read_text())["events"]
    found: dict[int, dict[str, Any]] = {}
    for event in events:
        one = found.setdefault(event["connection_id"], {"body": b""})
        action = event["action"]
        if "Request" in action:
            request = action["Request"]["request"]
            one["request"] = request
        elif "Response" in action:
            one["status"] = action["Response"]["response"]["Ok"]["status"]
        elif "Data" in action and action["Data"]["direction"] == "Response":
            one["body"] += action["Data"]["data"]["Utf8"].encode()
    out = []
    for _, one in sorted(found.items()):
        url = urlsplit(one["request"]["uri"])
        if url.hostname != "169.254.169.254":
            continue
        headers = {k.lower(): v[0] for k, v in one["request"]["headers"].items()}
        out.append(
            Exchange(one["request"]["method"], url.path, headers, one["status"], one["body"])
        )
    return out


_REASONS = {200: "OK", 403: "Forbidden", 404: "Not Found", 503: "Service Unavailable"}


@pytest.mark.parametrize("name", CHAIN_CASES)
def test_smithy_rs_credential_chain_traffic(name: str, tmp_path: Path) -> None:
    """ec2imds, asked for the role's credentials, sends exactly the requests the SDK sent
    to EC2 (method, path, the token and TTL headers), in order, and reads the recorded
    answers to the same outcome: the credentials, no role, or IMDS disabled."""
    case = shared_data(*CHAIN, name)
    env = json.loads((case / "env.json").read_text())
    want = json.loads((case / "test-case.json").read_text())["result"]
    traffic = _traffic(case)
    sent: list[Exchange] = []
    wrong: list[str] = []

    def answer(method: str, path: str, headers: Mapping[str, str]) -> bytes:
        if len(sent) >= len(traffic):
            wrong.append(f"extra request {method} {path}")
            return http_answer("500 Internal Server Error", b"")
        expected = traffic[len(sent)]
        sent.append(expected)
        if (method, path) != (expected.method, expected.path):
            wrong.append(f"{method} {path}, recorded {expected.method} {expected.path}")
        for header in ("x-aws-ec2-metadata-token", "x-aws-ec2-metadata-token-ttl-seconds"):
            if headers.get(header) != expected.headers.get(header):
                wrong.append(f"{method} {path}: {header}={headers.get(header)!r}")
        status = f"{expected.status} {_REASONS[expected.status]}"
        return http_answer(status, expected.body, {"Content-Type": "text/plain"})

    config = case / "fs" / "home" / ".aws" / "config"
    env = {
        **{k: v for k, v in env.items() if k.startswith("AWS_")},
        "AWS_CONFIG_FILE": str(config if config.is_file() else tmp_path / "absent"),
    }
    with RawServer(answer) as server:
        imds = IMDS(endpoints=[server.endpoint], backoff_base=0.01, env=env)
        try:
            creds: dict[str, IamCredentials] | IMDSError = dict(
                imds.meta_data.iam.security_credentials.items()
            )
        except IMDSError as exc:
            creds = exc
        finally:
            imds.close()
    assert wrong == []
    assert sent == traffic  # every recorded exchange, no more
    if "Ok" in want:
        assert isinstance(creds, dict), creds
        ((role, got),) = creds.items()
        listing = [x for x in traffic if x.path.endswith("/") and x.status == 200]
        assert role == listing[-1].body.decode()  # the name the listing gave
        if name == "imds_assume_role":  # the result is STS's: compare with what IMDS said
            body = json.loads(traffic[-1].body)
            ok = {
                "access_key_id": body["AccessKeyId"],
                "secret_access_key": body["SecretAccessKey"],
                "session_token": body["Token"],
            }
        else:
            ok = dict(want["Ok"])
        assert got.access_key_id == ok["access_key_id"]
        assert got.secret_access_key is not None
        assert got.secret_access_key.get_secret_value() == ok["secret_access_key"]
        assert got.token is not None
        assert got.token.get_secret_value() == ok["session_token"]
        if "expiry" in ok:
            assert got.expiration is not None
            assert got.expiration.timestamp() == ok["expiry"]
    elif "not enabled" in want["ErrorContains"]:
        # the SDKs' "credential provider not enabled": IMDS off, or no role attached
        if env.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
            assert isinstance(creds, IMDSDisabled), creds
        else:
            assert creds == {}
    else:
        assert want["ErrorContains"] == "request forbidden: IMDS is disabled"
        assert isinstance(creds, IMDSDisabled), creds
