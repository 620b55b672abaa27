"""Nothing goes where it must not: no proxy sees a request, no redirect is followed, no
token reaches an output, a message, a repr or a log, and IAM credentials' secrets are
never shown unless asked for.

The library side of proxies and redirects is in ``tests/drivers/test_drivers.py`` (all
the drivers); here the command line runs as a real subprocess. The fault matrix
(``tests/test_faults.py``) also looks for every issued token in every error it sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import pprint
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ec2imds._drivers.default import DefaultDriver
from ec2imds.client import IMDS, AsyncIMDS
from ec2imds.errors import IMDSError, IMDSValidationError
from ec2imds.models import IamCredentials, InstanceMetadata, dump, validate_raw
from ec2imds.simulator import IMDSSimulator
from ec2imds.tokens import FileTokenStore, MemoryTokenStore
from tests.support.command import Result, on, run
from tests.support.hooked import HookedSimulator, settings_for, simulator
from tests.support.network import Listener

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
ROLE_PATH = "meta-data/iam/security-credentials/my-app-role"


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def issued(sim: IMDSSimulator) -> list[str]:
    hooked = sim
    assert isinstance(hooked, HookedSimulator)
    assert hooked.issued, "no token was issued: nothing to look for"
    return list(hooked.issued)


# -- proxies -------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "socks5"])
@pytest.mark.parametrize(
    "args", [["--raw", "meta-data/instance-id"], ["-a"], ["-U"]], ids=["raw", "all", "user-data"]
)
def test_the_command_line_ignores_every_proxy_variable(
    args: list[str], scheme: str, listener: Listener, tmp_path: Path
) -> None:
    proxy = f"{scheme}://127.0.0.1:{listener.endpoint[1]}"
    env = {name: proxy for name in PROXY_VARIABLES}
    env |= {name.lower(): proxy for name in PROXY_VARIABLES}
    with IMDSSimulator(seed=2) as sim:
        result = run("-vv", *args, *on(sim, tmp_path), env=env)
        assert result.code == 0, result.err
        assert sim.stats.gets > 0  # the requests went to IMDS, directly
    assert listener.accepted == 0  # and the proxy saw nothing
    assert proxy not in result.err


# -- redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307])
@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["--raw", "meta-data/placement/region"], "meta-data/placement/region"),
        (["-a"], "meta-data/network/interfaces/macs/"),
        (["--raw", "meta-data/instance-id"], "api/token"),
    ],
    ids=["one-key", "all", "token-put"],
)
def test_the_command_line_refuses_redirects(
    args: list[str], path: str, status: int, listener: Listener, tmp_path: Path
) -> None:
    location = f"http://127.0.0.1:{listener.endpoint[1]}/latest/{path}"
    with IMDSSimulator(seed=2) as sim:
        sim.faults.redirect_next(1, status=status, location=location, path=path)
        result = run("-vv", *args, *on(sim, tmp_path))
        assert sim.faults.pending == 0
    assert result.code == 1, result.err
    assert f"redirect ({status})" in result.err
    assert "never followed" in result.err
    assert "Traceback" not in result.err
    assert listener.accepted == 0


# -- tokens never shown ----------------------------------------------------------------------

ERROR_PATHS: list[tuple[str, Callable[[IMDSSimulator], None], list[str]]] = [
    ("ok", lambda s: None, ["-a"]),
    ("ok tree", lambda s: None, ["--tree"]),
    ("ok user data", lambda s: None, ["-U"]),
    ("ok after a 401", lambda s: s.faults.expire_tokens(), ["meta-data/ami-id"]),
    ("500 x3", lambda s: s.faults.burst(500, 3, method="GET"), ["--raw", "meta-data/ami-id"]),
    ("401 always", lambda s: s.faults.burst(401, 1000, method="GET"), ["meta-data/ami-id"]),
    ("403 GET", lambda s: s.faults.burst(403, 1000, method="GET"), ["-a"]),
    ("redirect", lambda s: s.faults.redirect_next(5, method="GET"), ["meta-data/ami-id"]),
    ("dropped x3", lambda s: s.faults.drop_next(3, method="GET"), ["meta-data/ami-id"]),
    ("reset x3", lambda s: s.faults.reset_mid_body_next(3, method="GET"), ["meta-data/ami-id"]),
    ("timeout", lambda s: s.faults.hang_next(3, method="GET"), ["meta-data/ami-id"]),
    ("too large", lambda s: s.set("meta-data/ami-id", "x" * (1 << 21)), ["meta-data/ami-id"]),
    ("bad value", lambda s: s.set("meta-data/ami-launch-index", "zero"), ["-a"]),
    ("bad creds", lambda s: s.set(ROLE_PATH, "not json"), [ROLE_PATH.rsplit("/", 1)[0]]),
    ("PUT 503 x3", lambda s: s.faults.burst(503, 3, method="PUT"), ["--tree"]),
    ("PUT 403", lambda s: s.faults.burst(403, 9, method="PUT"), ["meta-data/ami-id"]),
    ("PUT 400", lambda s: s.faults.burst(400, 9, method="PUT"), ["meta-data/ami-id"]),
    ("PUT timeout", lambda s: setattr(s.faults, "put_hang", True), ["meta-data/ami-id"]),
]


@pytest.mark.slow
def test_no_token_in_any_output_of_the_command_line(tmp_path: Path) -> None:
    """Every error path, at -v and -vv; the token file is the only place a token is."""
    outputs: list[Result] = []
    tokens: list[str] = []
    for name, fault, args in ERROR_PATHS:
        for verbose in ("-v", "-vv"):
            with simulator() as sim:
                token_dir = tmp_path / f"{len(outputs)}"
                if not name.startswith("PUT"):  # a saved token, as a previous run leaves
                    with DefaultDriver(settings_for(sim), FileTokenStore(token_dir)) as warm:
                        warm.token()
                fault(sim)
                env = {"AWS_METADATA_SERVICE_TIMEOUT": "0.3"}
                result = run(verbose, *args, *on(sim, token_dir), env=env)
                assert "Traceback" not in result.err, (name, result.err)
                assert result.code == (0 if name.startswith("ok") else 1), (name, result.err)
                outputs.append(result)
                hooked = sim
                assert isinstance(hooked, HookedSimulator)
                tokens += hooked.issued  # none when every PUT failed
    assert len(set(tokens)) >= len(ERROR_PATHS)
    assert any("GET /latest/" in r.err for r in outputs)  # -vv did log requests
    for token in tokens:
        for result in outputs:
            assert token not in result.err
            assert token.encode() not in result.out


NORMAL_RUNS = [
    ["--raw", "meta-data/instance-id"],
    ["meta-data/tags/instance/Name", "meta-data/placement/region"],
    ["-a"],
    ["--tree"],
    ["-E", "meta-data/iam/.*"],
    ["-U"],
]


@pytest.mark.slow
@pytest.mark.parametrize("verbose", ["-v", "-vv"])
def test_no_token_in_the_verbose_output_of_normal_runs(verbose: str, tmp_path: Path) -> None:
    """What -v and -vv say on runs that work, with a new token and with a saved one."""
    outputs: list[Result] = []
    with simulator() as sim:
        for saved in (False, True):  # the first runs PUT, the others reuse the file
            for i, args in enumerate(NORMAL_RUNS):
                token_dir = tmp_path / f"{i}"
                result = run(verbose, *args, *on(sim, token_dir))
                assert result.code == 0, (args, result.err)
                said = "token: reused from" if saved else "token: new, 1 PUT"
                assert said in result.err, (args, result.err)
                outputs.append(result)
        tokens = issued(sim)
    assert len(tokens) == len(NORMAL_RUNS)
    for token in tokens:
        for result in outputs:
            assert token not in result.err
            assert token.encode() not in result.out


def _everything_said(error: BaseException | None, *objects: object) -> str:
    texts = [repr(o) for o in objects] + [str(o) for o in objects]
    for o in objects:
        with contextlib.suppress(TypeError):
            texts.append(repr(vars(o)))
    if error is not None:
        # The whole chain, causes included (the one-argument form is new in Python 3.10).
        texts += traceback.format_exception(type(error), error, error.__traceback__)
    return "\n".join(texts)


def test_no_token_in_library_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ec2imds")
    said: list[str] = []
    with simulator() as sim, IMDS(endpoints=[sim.endpoint], attempts=2) as imds:
        imds.raw_tree()
        sim.expire_tokens()  # revoked mid-run: 401, a new token
        imds.clear_cache()
        imds.raw_tree()
        faults: list[Callable[[], object]] = [
            lambda: sim.faults.burst(401, 1000, method="GET"),
            lambda: sim.faults.burst(500, 1000, method="GET"),
            lambda: sim.faults.redirect_next(1, method="GET"),
            lambda: sim.set("meta-data/ami-launch-index", "zero"),
            lambda: sim.set(ROLE_PATH, '{"SecretAccessKey": 5'),
        ]
        for fault in faults:
            sim.faults.clear()
            sim.set("meta-data/ami-launch-index", "0")
            fault()
            imds.clear_cache()
            with pytest.raises(IMDSError) as info:
                imds.all()
            said.append(_everything_said(info.value))
        session = next(iter(imds.driver._sessions.values()))
        said.append(_everything_said(None, imds, imds.driver, session, imds.driver.store))
        tokens = issued(sim)
    said.append(caplog.text)
    said += [repr(r.args) for r in caplog.records]
    assert "GET /latest/meta-data/" in caplog.text  # the log did say something
    assert len(tokens) >= 3
    text = "\n".join(said)
    for token in tokens:
        assert token not in text


def test_no_token_in_async_reprs_or_file_store(tmp_path: Path) -> None:
    async def main() -> tuple[str, list[str]]:
        with simulator() as sim:
            store = FileTokenStore(tmp_path / "tokens")
            async with AsyncIMDS(endpoints=[sim.endpoint], store=store) as aimds:
                await aimds.raw_tree()
                session = next(iter(aimds.driver._sessions.values()))
                text = _everything_said(None, aimds, aimds.driver, session, store)
            return text, issued(sim)

    text, tokens = asyncio.run(main())
    for token in tokens:
        assert token not in text
    assert MemoryTokenStore().load(("127.0.0.1", 1)) is None


# -- IAM credentials ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def credentials() -> Iterator[tuple[IMDSSimulator, InstanceMetadata, IamCredentials]]:
    with IMDSSimulator(seed=4) as sim, IMDS(endpoints=[sim.endpoint]) as imds:
        meta = imds.all()
        assert meta.meta_data is not None
        assert meta.meta_data.iam is not None
        creds = meta.meta_data.iam.security_credentials["my-app-role"]
        assert creds.secret_access_key is not None
        assert creds.token is not None
        yield sim, meta, creds


def secrets_of(creds: IamCredentials) -> list[str]:
    assert creds.secret_access_key is not None
    assert creds.token is not None
    return [creds.secret_access_key.get_secret_value(), creds.token.get_secret_value()]


def test_credentials_never_show_their_secrets(
    credentials: tuple[IMDSSimulator, InstanceMetadata, IamCredentials],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, meta, creds = credentials
    secret, token = secrets_of(creds)
    log = logging.getLogger("tests.leaks")
    with caplog.at_level(logging.DEBUG, logger="tests.leaks"):
        log.info("creds %s %r", creds, creds)
        log.info("meta %s", meta)
        log.info("%s", creds.model_dump())  # python mode: SecretStr objects
        log.info(f"{creds} {creds!r} {creds:}")  # f-strings are how leaks happen
    texts = [
        caplog.text,
        repr(creds),
        str(creds),
        f"{creds}",
        pprint.pformat(creds),
        repr(creds.model_dump()),
        creds.model_dump_json(),
        json.dumps(dump(creds)),
        repr(creds.model_copy()),
        repr(meta.meta_data),
        meta.model_dump_json(),
        json.dumps(dump(meta)),
    ]
    for text in texts:
        assert secret not in text
        assert token not in text
    assert dump(creds, reveal_secrets=True)["SecretAccessKey"] == secret  # only when asked


def test_a_lazy_view_of_credentials_shows_no_secret(
    credentials: tuple[IMDSSimulator, InstanceMetadata, IamCredentials],
) -> None:
    sim, _, creds = credentials
    secret, token = secrets_of(creds)
    with IMDS(endpoints=[sim.endpoint]) as imds:
        roles = imds.meta_data.iam.security_credentials
        role = roles["my-app-role"]
        texts = [repr(roles), repr(role), str(role), repr(dict(roles))]
    for text in texts:
        assert secret not in text
        assert token not in text


@pytest.mark.parametrize(
    "body",
    [
        # Not JSON, the secret first: the message used to quote the start of the body.
        b'{"SecretAccessKey":"%s","Token":"%s","Code":"Success",',
        b'["%s", "%s"]',
        b'"%s%s"',
        b'{"Code": "Success", "SecretAccessKey": ["%s"], "Token": "%s"}',
        b'{"Code": "Success", "SecretAccessKey": "%s", "Token": {"t": "%s"}}',
        b'{"Code": "Success", "SecretAccessKey": "%s", "Token": "%s", "Expiration": "soon"}',
    ],
)
def test_a_bad_credentials_document_is_an_error_that_quotes_no_secret(
    body: bytes, credentials: tuple[IMDSSimulator, InstanceMetadata, IamCredentials]
) -> None:
    secret, token = secrets_of(credentials[2])
    raw = body % (secret.encode(), token.encode())
    tree = {"meta-data": {"iam": {"security-credentials": {"my-app-role": raw}}}}
    with pytest.raises(IMDSValidationError) as info:
        validate_raw(InstanceMetadata, tree, path="")
    error = info.value
    assert error.path == ROLE_PATH
    said = _everything_said(error) + repr(error.value)
    assert secret not in said
    assert token not in said


@pytest.mark.slow
def test_the_command_line_shows_secrets_on_stdout_only_when_asked(
    credentials: tuple[IMDSSimulator, InstanceMetadata, IamCredentials], tmp_path: Path
) -> None:
    sim, _, creds = credentials
    secret, token = secrets_of(creds)
    asked = run("-vv", "meta-data/iam/security-credentials", *on(sim, tmp_path))
    assert asked.code == 0, asked.err
    assert asked.json()["meta-data/iam/security-credentials"]["my-app-role"]["Token"] == token
    assert secret not in asked.err
    assert token not in asked.err
    sim.set(ROLE_PATH, b'{"SecretAccessKey":"%s","Token":"%s",' % (secret.encode(), token.encode()))
    try:
        broken = run("-vv", "-a", *on(sim, tmp_path))
    finally:
        sim.set(ROLE_PATH, json.dumps(dump(creds, reveal_secrets=True)))
    assert broken.code == 1
    assert f"{ROLE_PATH}: not a valid IamCredentials document" in broken.err
    assert secret not in broken.err
    assert token not in broken.err
    # Everything else is printed (-a asked for the other credentials, which are shown),
    # but not the broken category.
    assert "meta-data/iam/security-credentials" not in broken.json()
    assert "meta-data/iam/security-credentials-extended" in broken.json()
