"""``-v`` says what happened, one line each (the endpoint, where the token came from, the
requests and the time); ``-vv`` adds every request. Never a token (``tests/test_leaks.py``
looks for them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds.simulator import IMDSSimulator
from tests.helpers import closed_endpoint, on, run

REQUEST_LINE = re.compile(r"ec2imds: DEBUG: (GET|PUT) /latest/\S+ -> \d{3} \(\d+\.\d ms\)")


@pytest.fixture
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator() as s:
        yield s


def info_lines(err: str) -> list[str]:
    """The INFO lines after the settings' line (tests/test_settings.py checks that one)."""
    return [
        line.removeprefix("ec2imds: INFO: ")
        for line in err.splitlines()
        if "INFO" in line and "INFO: settings: " not in line
    ]


def test_v_says_endpoint_token_requests_and_time(sim: IMDSSimulator, tmp_path: Path) -> None:
    first = run("-v", "--raw", "meta-data/instance-id", *on(sim, tmp_path))
    assert first.code == 0, first.err
    endpoint, token, requests = info_lines(first.err)
    assert endpoint == f"endpoint: 127.0.0.1:{sim.port}"
    assert token == "token: new, 1 PUT (TTL 21600 s)"
    assert re.fullmatch(r"requests: 2 \(1 GET, 1 PUT\) in \d+\.\d ms", requests), requests
    assert first.err.count("\n") == 4  # the settings' line and those three, nothing else

    again = run("-v", "--raw", "meta-data/instance-id", *on(sim, tmp_path))
    assert again.code == 0, again.err
    _, token, requests = info_lines(again.err)
    assert token == f"token: reused from {tmp_path / f'127.0.0.1:{sim.port}'}"
    assert re.fullmatch(r"requests: 1 \(1 GET\) in \d+\.\d ms", requests), requests
    assert sim.stats.puts == 1


def test_v_counts_a_whole_crawl(sim: IMDSSimulator, tmp_path: Path) -> None:
    result = run("-v", "-a", *on(sim, tmp_path))
    assert result.code == 0, result.err
    *_, requests = info_lines(result.err)
    gets = sim.stats.gets
    assert requests.startswith(f"requests: {gets + 1} ({gets} GET, 1 PUT) in ")
    assert not REQUEST_LINE.search(result.err)  # the requests themselves are -vv's


def test_vv_shows_every_request(sim: IMDSSimulator, tmp_path: Path) -> None:
    result = run("-vv", "-a", *on(sim, tmp_path))
    assert result.code == 0, result.err
    logged = [line for line in result.err.splitlines() if REQUEST_LINE.fullmatch(line)]
    assert len(logged) == sim.stats.total
    assert sum(" PUT /latest/api/token -> 200 " in line for line in logged) == 1
    assert len(info_lines(result.err)) == 3


def test_v_on_a_failure_says_what_was_tried(tmp_path: Path) -> None:
    with IMDSSimulator() as sim:
        port = sim.port
        sim.faults.burst(403, 10, method="PUT")
        result = run("-v", "-a", f"--imds=127.0.0.1:{port}", "-t", str(tmp_path))
    assert result.code == 1
    endpoint, token, requests = info_lines(result.err)
    assert endpoint == f"endpoint: 127.0.0.1:{port}"
    assert token == "token: none, 1 PUT failed"
    assert requests.startswith("requests: 1 (1 PUT) in ")
    assert result.err.splitlines()[-1].startswith("ec2imds: IMDS is turned off")


def test_quiet_by_default(sim: IMDSSimulator, tmp_path: Path) -> None:
    result = run("-a", *on(sim, tmp_path))
    assert (result.code, result.err) == (0, "")


def test_v_when_no_endpoint_answers(tmp_path: Path) -> None:
    (h1, p1), (h2, p2) = closed_endpoint(), closed_endpoint()
    imds = f"--imds={h1}:{p1},{h2}:{p2}"
    result = run("-v", "--raw", "meta-data/instance-id", imds, "-t", str(tmp_path))
    assert result.code == 1
    endpoint, token, requests = info_lines(result.err)
    assert endpoint == f"endpoint: none chosen (tried {h1}:{p1}, {h2}:{p2})"
    assert token == "token: none, 2 PUTs failed"
    assert requests.startswith("requests: 2 (2 PUT) in ")


@pytest.mark.parametrize("command", [["--raw", "meta-data/instance-id"], ["-a"]])
def test_v_says_an_ignored_token_file_once(
    sim: IMDSSimulator, tmp_path: Path, command: list[str]
) -> None:
    """A request looks at the token file before and under the endpoint lock (and -a runs
    several at once): the file is said once all the same."""
    tmp_path.chmod(0o700)
    bad = tmp_path / f"127.0.0.1:{sim.port}"
    bad.write_text("not a token file")
    bad.chmod(0o600)
    result = run("-v", *command, *on(sim, tmp_path))
    assert result.code == 0, result.err
    ignored = f"token file 127.0.0.1:{sim.port} ignored: not a valid token file"
    assert info_lines(result.err).count(ignored) == 1, result.err
    assert "token: new, 1 PUT (TTL 21600 s)" in info_lines(result.err)
