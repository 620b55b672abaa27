"""Settings: arguments > AWS_* environment > defaults, and invalid values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ec2imds.endpoints import DEFAULT_ENDPOINTS, IPV4_ENDPOINT, IPV6_ENDPOINT
from ec2imds.errors import IMDSConfigError
from ec2imds.settings import Settings
from ec2imds.simulator import IMDSSimulator
from tests.helpers import error_line, run


def test_defaults() -> None:
    s = Settings.resolve(env={})
    assert s.endpoints == DEFAULT_ENDPOINTS
    assert (s.token_ttl, s.timeout, s.attempts, s.disabled) == (21600, 1.0, 3, False)
    assert s.concurrency == 8
    assert s.refresh_margin == 120.0
    assert Settings(token_ttl=2).refresh_margin == pytest.approx(0.2)


def test_endpoint_url_variable_overrides_the_mode() -> None:
    env = {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1338",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6",
    }
    assert Settings.resolve(env=env).endpoints == (("127.0.0.1", 1338),)


@pytest.mark.parametrize(
    ("mode", "endpoint"),
    [("IPv4", IPV4_ENDPOINT), ("ipv6", IPV6_ENDPOINT), ("IPV6", IPV6_ENDPOINT)],
)
def test_endpoint_mode(mode: str, endpoint: tuple[str, None]) -> None:
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": mode}
    assert Settings.resolve(env=env).endpoints == (endpoint,)


def test_arguments_win_over_the_environment() -> None:
    env = {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1338",
        "AWS_METADATA_SERVICE_TIMEOUT": "5",
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "7",
    }
    s = Settings.resolve(endpoints="127.0.0.2:99", timeout=0.5, attempts=2, env=env)
    assert s.endpoints == (("127.0.0.2", 99),)
    assert (s.timeout, s.attempts) == (0.5, 2)
    s = Settings.resolve(env=env)
    assert (s.timeout, s.attempts) == (5.0, 7)


@pytest.mark.parametrize(("value", "disabled"), [("true", True), ("TRUE", True), ("false", False)])
def test_disabled(value: str, disabled: bool) -> None:
    assert Settings.resolve(env={"AWS_EC2_METADATA_DISABLED": value}).disabled is disabled


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AWS_EC2_METADATA_DISABLED", "maybe"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "https://169.254.169.254"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://not a host"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5"),
        ("AWS_METADATA_SERVICE_TIMEOUT", "soon"),
        ("AWS_METADATA_SERVICE_TIMEOUT", "-1"),
        ("AWS_METADATA_SERVICE_TIMEOUT", "inf"),
        ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "0"),
        ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2.5"),
    ],
)
def test_invalid_variable_is_named(name: str, value: str) -> None:
    with pytest.raises(IMDSConfigError, match=name):
        Settings.resolve(env={name: value})


VALID = {
    "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1338",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv4",
    "AWS_METADATA_SERVICE_TIMEOUT": "2",
    "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2",
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipv5"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "https://169.254.169.254"),
        ("AWS_METADATA_SERVICE_TIMEOUT", "soon"),
        ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "0"),
    ],
)
def test_invalid_variable_is_named_even_when_overridden(name: str, value: str) -> None:
    """Another variable, or an argument, winning over it does not hide the mistake."""
    env = {**VALID, name: value}
    with pytest.raises(IMDSConfigError, match=name):
        Settings.resolve(env=env)
    with pytest.raises(IMDSConfigError, match=name):
        Settings.resolve(endpoints="127.0.0.1:1338", timeout=1.0, attempts=3, env=env)


def test_valid_overridden_variables_are_fine() -> None:
    s = Settings.resolve(endpoints="127.0.0.1:1", timeout=1.0, attempts=3, env=VALID)
    assert (s.endpoints, s.timeout, s.attempts) == ((("127.0.0.1", 1),), 1.0, 3)


@pytest.mark.parametrize("ttl", [0, -1, 21601, 2.5, True])
def test_token_ttl_outside_range_is_a_value_error(ttl: object) -> None:
    with pytest.raises(ValueError, match="token_ttl"):
        Settings.resolve(token_ttl=ttl, env={})  # type: ignore[arg-type]


def test_other_fields_and_unknown_names() -> None:
    assert Settings.resolve(env={}, concurrency=2).concurrency == 2
    with pytest.raises(IMDSConfigError, match="unknown setting"):
        Settings.resolve(env={}, nonsense=1)
    with pytest.raises(IMDSConfigError, match="endpoints"):
        Settings.resolve(endpoints=[("h", "80")], env={})  # type: ignore[list-item]


@pytest.mark.parametrize("args", [["--raw", "meta-data/instance-id"], ["-a"]])
def test_the_command_line_names_an_invalid_mode_with_imds_given(
    args: list[str], tmp_path: Path
) -> None:
    with IMDSSimulator() as sim:
        result = run(
            f"--imds=127.0.0.1:{sim.port}",
            "-t",
            str(tmp_path),
            *args,
            env={"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "ipv5"},
        )
        assert sim.stats.total == 0
    message = error_line(result, 2)
    assert "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE='ipv5'" in message


@pytest.mark.parametrize(
    "env",
    [
        {"AWS_EC2_METADATA_DISABLED": "true"},
        {"AWS_EC2_METADATA_DISABLED": "maybe"},
        {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1"},
        {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "https://nowhere"},
        {"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "ipv5"},
    ],
)
def test_simulate_ignores_disabled_and_endpoint_variables(env: dict[str, str]) -> None:
    """--simulate always reaches the simulator, and -v says which variable it ignored."""
    r = run("--simulate", "--raw", "meta-data/instance-id", env=env)
    assert r.code == 0, r.err
    assert r.text.strip().startswith("i-")
    r = run("-v", "--simulate", "--raw", "meta-data/instance-id", env=env)
    assert r.code == 0, r.err
    ignoring = next(line for line in r.err.splitlines() if "--simulate: ignoring" in line)
    assert next(iter(env)) in ignoring


@pytest.mark.parametrize(("mode", "want"), [("IPv4", IPV4_ENDPOINT), ("ipv6", IPV6_ENDPOINT)])
def test_explicit_endpoint_mode_beats_the_environment_mode(mode: str, want: object) -> None:
    other = "IPv6" if mode == "IPv4" else "IPv4"
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": other}
    assert Settings.resolve(endpoint_mode=mode, env=env).endpoints == (want,)
    assert Settings.resolve(endpoint_mode=mode, env={}).endpoints == (want,)


def test_any_endpoint_beats_any_mode() -> None:
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1338"}
    s = Settings.resolve(endpoint_mode="IPv6", env=env)
    assert s.endpoints == (("127.0.0.1", 1338),)
    s = Settings.resolve(endpoints="127.0.0.1:9", endpoint_mode="IPv6", env={})
    assert s.endpoints == (("127.0.0.1", 9),)


def test_bad_explicit_endpoint_mode_is_named() -> None:
    with pytest.raises(IMDSConfigError, match="endpoint_mode"):
        Settings.resolve(endpoint_mode="ipv5", env={})


def test_client_takes_endpoint_mode() -> None:
    from ec2imds.client import _settings

    assert _settings(None, "IMDS", {"endpoint_mode": "ipv4", "env": {}}).endpoints == (
        IPV4_ENDPOINT,
    )
    with pytest.raises(TypeError, match="endpoint_mode"):
        _settings(None, "IMDS", {"endpoint_mode": 4})  # type: ignore[typeddict-item]


def test_cli_endpoint_mode_is_checked() -> None:
    r = run("--endpoint-mode", "ipv5", "--raw", "meta-data/instance-id")
    assert r.code == 2
    assert "--endpoint-mode" in r.err


def _config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "config"
    path.write_text(text)
    return {"AWS_CONFIG_FILE": str(path)}


def test_profile_keys_are_read(tmp_path: Path) -> None:
    env = _config(
        tmp_path,
        "[default]\nmetadata_service_timeout = 4\nmetadata_service_num_attempts = 5\n"
        "ec2_metadata_service_endpoint_mode = ipv4\n"
        "[profile other]\nec2_metadata_service_endpoint = http://127.0.0.1:1338\n",
    )
    s = Settings.resolve(env=env)
    assert (s.timeout, s.attempts, s.endpoints) == (4.0, 5, (IPV4_ENDPOINT,))
    s = Settings.resolve(env={**env, "AWS_PROFILE": "other"})
    assert (s.timeout, s.attempts, s.endpoints) == (1.0, 3, (("127.0.0.1", 1338),))
    assert Settings.resolve(profile="other", env=env).endpoints == (("127.0.0.1", 1338),)


def test_environment_and_arguments_beat_the_profile(tmp_path: Path) -> None:
    env = _config(
        tmp_path,
        "[default]\nmetadata_service_timeout = 4\nmetadata_service_num_attempts = 5\n"
        "ec2_metadata_service_endpoint = http://127.0.0.1:1338\n",
    )
    env = {**env, "AWS_METADATA_SERVICE_TIMEOUT": "2"}
    s = Settings.resolve(attempts=1, env=env)
    assert (s.timeout, s.attempts) == (2.0, 1)
    # an endpoint from any source beats a mode from any source
    assert Settings.resolve(endpoint_mode="IPv6", env=env).endpoints == (("127.0.0.1", 1338),)
    env = {**env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"}
    assert Settings.resolve(env=env).endpoints == (("127.0.0.1", 1338),)


def test_missing_file_is_no_error(tmp_path: Path) -> None:
    env = {"AWS_CONFIG_FILE": str(tmp_path / "absent")}
    assert Settings.resolve(env=env).endpoints == DEFAULT_ENDPOINTS


def test_missing_named_profile_is_an_error(tmp_path: Path) -> None:
    env = _config(tmp_path, "[default]\n")
    with pytest.raises(IMDSConfigError, match="profile 'nope' not found"):
        Settings.resolve(env={**env, "AWS_PROFILE": "nope"})


def test_missing_named_profile_without_any_file_is_an_error(tmp_path: Path) -> None:
    # botocore raises ProfileNotFound whether or not the config file exists
    env = {
        "AWS_CONFIG_FILE": str(tmp_path / "absent"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "absent-too"),
        "AWS_PROFILE": "nope",
    }
    with pytest.raises(IMDSConfigError, match="profile 'nope' not found"):
        Settings.resolve(env=env)
    # the default profile may be absent everywhere
    assert Settings.resolve(env={**env, "AWS_PROFILE": ""}).endpoints == DEFAULT_ENDPOINTS


def test_profile_in_credentials_file_only_is_no_error(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("[ci]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = s3cr3t\n")
    env = {
        "AWS_CONFIG_FILE": str(tmp_path / "absent"),
        "AWS_SHARED_CREDENTIALS_FILE": str(creds),
        "AWS_PROFILE": "ci",
    }
    assert Settings.resolve(env=env).endpoints == DEFAULT_ENDPOINTS


def test_credentials_file_keys_override_the_config_file(tmp_path: Path) -> None:
    # botocore merges the credentials file's section over the config file's profile
    env = _config(
        tmp_path, "[profile p]\nmetadata_service_timeout = 4\nmetadata_service_num_attempts = 5\n"
    )
    creds = tmp_path / "credentials"
    creds.write_text("[p]\nmetadata_service_timeout = 7\n")
    s = Settings.resolve(profile="p", env={**env, "AWS_SHARED_CREDENTIALS_FILE": str(creds)})
    assert (s.timeout, s.attempts) == (7.0, 5)
    creds.write_text("[p]\nmetadata_service_timeout = never\n")
    with pytest.raises(IMDSConfigError) as info:
        Settings.resolve(profile="p", env={**env, "AWS_SHARED_CREDENTIALS_FILE": str(creds)})
    assert str(creds) in str(info.value)
    assert "metadata_service_timeout" in str(info.value)


def test_verbose_names_the_source_of_each_setting(tmp_path: Path) -> None:
    env = _config(tmp_path, "[default]\nmetadata_service_num_attempts = 5\n")
    with IMDSSimulator() as sim:
        port = sim.port
        r = run(
            "-v",
            "--imds",
            f"127.0.0.1:{port}",
            "--raw",
            "meta-data/instance-id",
            env={**env, "AWS_METADATA_SERVICE_TIMEOUT": "2"},
        )
    assert r.code == 0, r.err
    line = next(x for x in r.err.splitlines() if "settings:" in x)
    assert f"endpoints 127.0.0.1:{port} (from argument)" in line
    assert "timeout 2 s (from AWS_METADATA_SERVICE_TIMEOUT)" in line
    assert f"attempts 5 (from {env['AWS_CONFIG_FILE']} [profile default] " in line
    r = run("-v", "--simulate", "--raw", "meta-data/instance-id")
    assert "timeout 1 s (from default), attempts 3 (from default)" in r.err


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("metadata_service_timeout", "soon"),
        ("metadata_service_num_attempts", "0"),
        ("ec2_metadata_service_endpoint", "https://x"),
        ("ec2_metadata_service_endpoint_mode", "ipv5"),
    ],
)
def test_bad_profile_value_names_file_profile_and_key(tmp_path: Path, key: str, value: str) -> None:
    env = _config(tmp_path, f"[profile p]\n{key} = {value}\n")
    with pytest.raises(IMDSConfigError) as info:
        Settings.resolve(profile="p", env=env)
    assert env["AWS_CONFIG_FILE"] in str(info.value)
    assert "profile p" in str(info.value)
    assert key in str(info.value)


def test_cli_profile_and_verbose_source(tmp_path: Path) -> None:
    env = _config(tmp_path, "[profile p]\nec2_metadata_service_endpoint = http://127.0.0.1:1\n")
    with IMDSSimulator() as sim:
        (tmp_path / "config").write_text(
            f"[profile p]\nec2_metadata_service_endpoint = {sim.url}\n"
        )
        r = run("-v", "--profile", "p", "--raw", "meta-data/instance-id", env=env)
    assert r.code == 0, r.err
    assert r.text.strip().startswith("i-")
    assert "[profile p] ec2_metadata_service_endpoint" in r.err


def test_simulate_ignores_profile_endpoint(tmp_path: Path) -> None:
    env = _config(tmp_path, "[default]\nec2_metadata_service_endpoint_mode = ipv5\n")
    r = run("--simulate", "--raw", "meta-data/instance-id", env=env)
    assert r.code == 0, r.err
