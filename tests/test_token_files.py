"""Token files as the command line meets them (``tests/test_tokens.py`` covers the store
itself): what it must never follow, overwrite or read as a token, what it refuses while
the query still works (and says so with ``-v``), what it ignores and replaces, and two
processes refreshing one endpoint's token at once.

Every run is a real ``ec2imds`` subprocess (``tests/support/command.py``: the real
IMDS guard, no AWS_* or proxy variables) against a simulator on loopback.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds._drivers.default import DefaultDriver
from ec2imds.settings import Settings
from ec2imds.simulator import IMDSSimulator
from ec2imds.tokens import FileTokenStore
from tests.support.command import INSTANCE_ID, Result, on, run

ROOT = os.geteuid() == 0
NOBODY = 65534


@pytest.fixture
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator(seed=13) as s:
        yield s


def token_doc(value: str, *, seconds: float = 3600) -> str:
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    return json.dumps({"token": value, "expiry": expiry.isoformat()})


def private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True)
    path.chmod(0o700)
    return path


def token_path(directory: Path, sim: IMDSSimulator) -> Path:
    return directory / f"127.0.0.1:{sim.port}"


def query(sim: IMDSSimulator, token_dir: Path, *, verbose: bool = True) -> Result:
    """``ec2imds [-v] --raw meta-data/instance-id``; asserts that the query worked."""
    result = run(
        *(["-v"] if verbose else []), "--raw", "meta-data/instance-id", *on(sim, token_dir)
    )
    assert result.code == 0, result.err
    assert result.text == f"{INSTANCE_ID}\n"
    assert "Traceback" not in result.err
    return result


def foreign_file(tmp_path: Path, content: str) -> Path:
    """A file that belongs to another user (as root: given to nobody; otherwise one the
    system owns, whose content is then whatever it is)."""
    if not ROOT:
        return Path("/etc/passwd")
    path = tmp_path / "foreign"
    path.write_text(content)
    os.chown(path, NOBODY, NOBODY)
    return path


def foreign_dir(tmp_path: Path) -> Path:
    """A 0700 directory that belongs to another user (as root: given to nobody)."""
    if not ROOT:
        return Path("/usr")
    path = private_dir(tmp_path / "foreign-dir")
    os.chown(path, NOBODY, NOBODY)
    return path


# -- a symlink where the token file should be -------------------------------------------------


@pytest.mark.parametrize("owner", ["mine", "another user's"])
def test_a_symlinked_token_file_is_never_followed_overwritten_or_read(
    owner: str, sim: IMDSSimulator, tmp_path: Path
) -> None:
    token_dir = private_dir(tmp_path / "tokens")
    doc = token_doc("VICTIM-TOKEN-0123456789")
    if owner == "mine":
        target = tmp_path / "victim"
        target.write_text(doc)
    else:
        target = foreign_file(tmp_path, doc)
    before = target.read_bytes()
    link = token_path(token_dir, sim)
    link.symlink_to(target)

    result = query(sim, token_dir)
    assert sim.stats.puts == 1  # the link's token was not read: a new one was asked for
    assert sim.stats.statuses[401] == 0  # ... and never sent
    assert f"token file {link.name} ignored" in result.err
    assert target.read_bytes() == before  # not written through the link
    assert not link.is_symlink()  # the link itself was replaced by our own file
    assert stat.S_IMODE(link.stat().st_mode) == 0o600
    saved = json.loads(link.read_text())["token"]
    assert saved != "VICTIM-TOKEN-0123456789"
    assert saved not in result.err
    assert query(sim, token_dir).code == 0
    assert sim.stats.puts == 1  # and our file is used from then on


# -- a token directory that cannot be trusted --------------------------------------------------


def _unsafe_dir(kind: str, tmp_path: Path) -> tuple[Path, Path, str]:
    """(the -t argument, the real directory behind it, the reason the message gives)."""
    if kind == "symlink to mine":
        real = private_dir(tmp_path / "real")
        link = tmp_path / "link"
        link.symlink_to(real)
        return link, real, "is a symlink"
    if kind == "symlink to another user's":
        real = foreign_dir(tmp_path)
        link = tmp_path / "link"
        link.symlink_to(real)
        return link, real, "is a symlink"
    if kind == "another user's":
        real = foreign_dir(tmp_path)
        return real, real, "belongs to another user"
    mode = int(kind.split()[-1], 8)
    real = private_dir(tmp_path / "tokens")
    real.chmod(mode)
    return real, real, "writable by group or others"


@pytest.mark.parametrize(
    "kind",
    [
        "symlink to mine",
        "symlink to another user's",
        "another user's",
        "mode 0770",
        "mode 0777",
        "mode 0722",
        "mode 0702",
    ],
)
def test_an_unsafe_token_directory_is_refused_and_the_query_still_works(
    kind: str, sim: IMDSSimulator, tmp_path: Path
) -> None:
    given, real, reason = _unsafe_dir(kind, tmp_path)
    listed = sorted(os.listdir(real))
    first = query(sim, given)
    second = query(sim, given)
    assert sim.stats.puts == 2  # nothing persisted: each run asks for its own token
    for result in (first, second):
        warnings = [line for line in result.err.splitlines() if "not persisted" in line]
        assert len(warnings) == 1, result.err  # said once per run, clearly
        assert reason in warnings[0]
        assert str(given) in warnings[0]
    assert sorted(os.listdir(real)) == listed  # nothing written there


# -- token files that are not token files ---------------------------------------------------------

BAD_FILES = {
    "empty": b"",
    "truncated": token_doc("abc")[:20].encode(),
    "corrupt": b"{not json",
    "binary": b"\x00\xff\xfe\x00" * 100,
    "wrong types": b'{"token": 5, "expiry": []}',
    "not a token": json.dumps(
        {"token": "has space\nand newline", "expiry": "2999-01-01T00:00:00+00:00"}
    ).encode(),
    "expired": token_doc("EXPIRED-TOKEN", seconds=-60).encode(),
    "future-dated": token_doc("FUTURE-TOKEN", seconds=40 * 86400).encode(),
    "huge": token_doc("H" * 100_000).encode(),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_token_file_is_ignored_and_replaced(
    kind: str, sim: IMDSSimulator, tmp_path: Path
) -> None:
    token_dir = private_dir(tmp_path / "tokens")
    path = token_path(token_dir, sim)
    path.write_bytes(BAD_FILES[kind])
    path.chmod(0o600)
    result = query(sim, token_dir)
    assert sim.stats.puts == 1
    assert sim.stats.statuses[401] == 0  # whatever was in it was never sent
    if kind != "expired":  # an expired token is a valid file, simply not usable
        assert f"token file {path.name} ignored" in result.err
    saved = json.loads(path.read_text())
    assert set(saved) == {"token", "expiry"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert saved["token"] not in result.err
    query(sim, token_dir)
    assert sim.stats.puts == 1  # the replacement is used


def test_a_fifo_in_place_of_the_token_file_neither_blocks_nor_stays(
    sim: IMDSSimulator, tmp_path: Path
) -> None:
    token_dir = private_dir(tmp_path / "tokens")
    path = token_path(token_dir, sim)
    os.mkfifo(path, 0o600)
    result = query(sim, token_dir)  # reading it would block forever: run() bounds that
    assert f"token file {path.name} ignored" in result.err
    assert path.is_file()
    assert set(json.loads(path.read_text())) == {"token", "expiry"}


def test_a_directory_in_place_of_the_token_file_is_reported_and_worked_around(
    sim: IMDSSimulator, tmp_path: Path
) -> None:
    token_dir = private_dir(tmp_path / "tokens")
    path = token_path(token_dir, sim)
    path.mkdir()
    result = query(sim, token_dir)
    warnings = [line for line in result.err.splitlines() if "not persisted" in line]
    assert len(warnings) == 1
    assert "cannot write it" in warnings[0]
    assert path.is_dir()
    assert os.listdir(token_dir) == [path.name]  # no temporary file left behind


# -- two processes refreshing at once ---------------------------------------------------------


def _refresh(directory: str, port: int, rounds: int) -> None:
    """Get a token, then refuse it and get another, ``rounds`` times (one PUT each, unless
    the other process just saved one): the command line's refresh, through the file."""
    settings = Settings.resolve(endpoints=[("127.0.0.1", port)], env={})
    with DefaultDriver(settings, FileTokenStore(directory)) as driver:
        for _ in range(rounds):
            driver.token()
            driver.expire_token()
            assert driver.get("meta-data/instance-id") == INSTANCE_ID.encode()


@pytest.mark.slow
def test_two_processes_refreshing_one_token_50_times_leave_a_whole_file(
    sim: IMDSSimulator, tmp_path: Path
) -> None:
    token_dir = tmp_path / "tokens"
    name = f"127.0.0.1:{sim.port}"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_refresh, args=(str(token_dir), sim.port, 50)) for _ in range(2)]
    for p in procs:
        p.start()
    reads = 0
    deadline = time.monotonic() + 60  # never hangs
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        try:
            fd = os.open(token_dir / name, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            continue
        with os.fdopen(fd, "rb") as f:
            raw = f.read()
        doc = json.loads(raw)  # never torn: always a whole document ...
        assert set(doc) == {"token", "expiry"}  # ... of the right shape
        reads += 1
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    assert reads > 0
    assert sorted(os.listdir(token_dir)) == [name]  # no temporary file left behind
    assert sim.stats.puts >= 50  # they did refresh (a PUT per round, some shared)
    assert sim.stats.statuses[401] == 0
    final = FileTokenStore(token_dir).load(("127.0.0.1", sim.port))
    assert final is not None
    with DefaultDriver(
        Settings.resolve(endpoints=[sim.endpoint], env={}), FileTokenStore(token_dir)
    ) as d:
        assert d.get("meta-data/instance-id") == INSTANCE_ID.encode()
        assert d.token_puts == 0  # the file's token is one IMDS accepts
