"""Shared fixtures: the real-IMDS guard, and sync/async clients behind one facade."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import settings as hypothesis_settings

from ec2imds.settings import Settings
from ec2imds.tokens import TokenStore

# The real-IMDS guard: importing it makes any connection to, or name lookup of,
# 169.254.169.254 or fd00:ec2::254 fail loudly, for the whole test process. It is the
# module the command-line tests' subprocesses load as their sitecustomize.
from tests._guard.sitecustomize import RealIMDSAccess
from tests.helpers import NO_CONFIG_FILE, Client, ClientFactory

T = TypeVar("T")

# Property tests are deterministic: the same examples on every run and in CI, so a
# failure is reproducible and a pass means the same thing each time. The fast tier
# (scripts/check) picks the "ec2imds-fast" profile: a quarter of each test's examples
# (see helpers.examples); everything else (--full, CI, a bare pytest) runs them all.
hypothesis_settings.register_profile("ec2imds", derandomize=True, deadline=None)
hypothesis_settings.register_profile(
    "ec2imds-fast", hypothesis_settings.get_profile("ec2imds"), max_examples=25
)
hypothesis_settings.load_profile("ec2imds")

__all__ = ["RealIMDSAccess"]


@pytest.fixture(autouse=True)
def _clean_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start without the AWS_* IMDS variables or proxies of the machine running them."""
    for name in (
        "AWS_EC2_METADATA_DISABLED",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
        "AWS_METADATA_SERVICE_TIMEOUT",
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
        "AWS_CONFIG_FILE",
        "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    # Never the real ~/.aws/config or credentials: a path that does not exist, unless a
    # test sets one.
    import ec2imds._awsconfig

    monkeypatch.setattr(ec2imds._awsconfig, "DEFAULT_CONFIG_FILE", NO_CONFIG_FILE)
    monkeypatch.setattr(ec2imds._awsconfig, "DEFAULT_CREDENTIALS_FILE", NO_CONFIG_FILE)


@pytest.fixture(scope="session")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal("asyncio") as p:
        yield p


@pytest.fixture(params=["sync", "async", "stdlib", "aio"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(mode: str, portal: BlockingPortal) -> Iterator[ClientFactory]:
    """``make_client(settings, store=None, mock=None)``: a :class:`Client` in this mode."""
    made: list[Client] = []

    def factory(
        settings: Settings,
        store: TokenStore | None = None,
        mock: httpx.MockTransport | None = None,
    ) -> Client:
        client = Client(mode, settings, store, portal, mock)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the fault matrix's counts and the soak's figures, when they ran."""
    from tests.helpers import TALLY

    lines = TALLY.summary()
    if lines:
        terminalreporter.write_sep("=", "reliability (tests/test_faults.py, tests/test_soak.py)")
        for line in lines:
            terminalreporter.write_line(line)
