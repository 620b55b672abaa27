"""Token stores: memory, the private file store (every unsafe case), the 0.0.3 callbacks."""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import os
import stat
import threading
from pathlib import Path

import pytest

from ec2imds._drivers.base import utc_now
from ec2imds.endpoints import Endpoint
from ec2imds.tokens import (
    CallbackTokenStore,
    FileTokenStore,
    MemoryTokenStore,
    Token,
    TokenStore,
    TokenStoreError,
    default_token_dir,
)

EP: Endpoint = ("169.254.169.254", None)
NAME = "169.254.169.254:80"
SECRET = "AQAEAKxyzSECRETSECRET0123456789=="


def _token(seconds: float = 3600, value: str = SECRET) -> Token:
    return Token(value, dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds))


def test_token_repr_hides_the_value() -> None:
    token = _token()
    assert SECRET not in repr(token)
    assert SECRET not in str(token)
    assert "hidden" in repr(token)


def test_token_usable_and_plausible() -> None:
    assert _token(100).usable(margin=10)
    assert not _token(5).usable(margin=10)
    assert not _token(-1).usable(margin=0)
    assert not _token(10 * 3600).plausible()  # longer than IMDS ever grants
    assert not _token(value="has space\n").plausible()
    naive = Token(SECRET, dt.datetime.now() + dt.timedelta(hours=1))
    assert naive.expiry.tzinfo is dt.timezone.utc


def test_stores_satisfy_the_protocol(tmp_path: Path) -> None:
    for store in (MemoryTokenStore(), FileTokenStore(tmp_path), CallbackTokenStore()):
        assert isinstance(store, TokenStore)


def test_memory_store() -> None:
    store = MemoryTokenStore()
    assert store.load(EP) is None
    token = _token()
    store.save(EP, token)
    assert store.load(EP) is token
    store.discard(EP)
    assert store.load(EP) is None


def test_default_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_token_dir() == str(tmp_path / "ec2imds" / "tokens")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_token_dir() == str(tmp_path / ".cache" / "ec2imds" / "tokens")


def test_file_store_round_trip_and_modes(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "tokens"
    store = FileTokenStore(directory)
    assert store.load(EP) is None  # no directory yet: nothing, no error
    token = _token()
    store.save(EP, token)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    path = directory / NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The 0.0.3 format, so existing token directories keep working.
    doc = json.loads(path.read_text())
    assert doc == {"token": SECRET, "expiry": token.expiry.isoformat()}
    loaded = store.load(EP)
    assert loaded is not None
    assert (loaded.value, loaded.expiry) == (token.value, token.expiry)
    assert list(directory.iterdir()) == [path]  # no temporary file left behind
    store.discard(EP)
    assert store.load(EP) is None
    store.discard(EP)  # discarding twice is fine


def test_reads_a_file_written_by_0_0_3(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    (tmp_path / NAME).write_text(json.dumps({"token": SECRET, "expiry": expiry.isoformat()}))
    loaded = FileTokenStore(tmp_path).load(EP)
    assert loaded is not None
    assert loaded.value == SECRET


def test_reads_an_expiry_written_with_a_z(tmp_path: Path) -> None:
    """``...Z`` (as IMDS writes times), which ``datetime.fromisoformat`` reads only from
    Python 3.11 on: read on every Python."""
    tmp_path.chmod(0o700)
    expiry = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).replace(microsecond=0)
    written = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / NAME).write_text(json.dumps({"token": SECRET, "expiry": written}))
    loaded = FileTokenStore(tmp_path).load(EP)
    assert loaded is not None
    assert loaded.expiry == expiry
    assert loaded.expiry.tzinfo is dt.timezone.utc


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b'{"token": "abc"}',  # truncated document
        b'{"token": 5, "expiry": "2030-01-01T00:00:00+00:00"}',
        b'{"token": "abc", "expiry": "yesterday"}',
        b"\x00\xff\xfe binary",
        b"[]",
        b'"just a string"',
    ],
)
def test_corrupt_files_are_ignored_and_replaced(tmp_path: Path, content: bytes) -> None:
    tmp_path.chmod(0o700)
    (tmp_path / NAME).write_bytes(content)
    store = FileTokenStore(tmp_path)
    assert store.load(EP) is None
    store.save(EP, _token())
    assert store.load(EP) is not None


def _write_doc(directory: Path, expiry: dt.datetime, token: str = SECRET) -> None:
    directory.chmod(0o700)
    (directory / NAME).write_text(json.dumps({"token": token, "expiry": expiry.isoformat()}))


def test_expired_file_is_loaded_but_not_usable(tmp_path: Path) -> None:
    _write_doc(tmp_path, dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5))
    loaded = FileTokenStore(tmp_path).load(EP)
    assert loaded is None or not loaded.usable(margin=0)


def test_future_dated_file_is_ignored(tmp_path: Path) -> None:
    _write_doc(tmp_path, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30))
    assert FileTokenStore(tmp_path).load(EP) is None


def test_huge_file_is_ignored(tmp_path: Path) -> None:
    _write_doc(
        tmp_path, dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1), token="x" * 100_000
    )
    assert FileTokenStore(tmp_path).load(EP) is None


def test_symlinked_token_file_is_never_followed(tmp_path: Path) -> None:
    directory = tmp_path / "tokens"
    directory.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    original = json.dumps({"token": "VICTIMTOKEN", "expiry": expiry.isoformat()})
    victim.write_text(original)
    (directory / NAME).symlink_to(victim)
    store = FileTokenStore(directory)
    assert store.load(EP) is None  # not read through the link
    store.save(EP, _token())
    assert victim.read_text() == original  # the target is untouched
    assert not (directory / NAME).is_symlink()  # the link was replaced by our own file
    loaded = store.load(EP)
    assert loaded is not None
    assert loaded.value == SECRET


def test_symlink_to_a_file_of_another_user_is_not_read(tmp_path: Path) -> None:
    directory = tmp_path / "tokens"
    directory.mkdir(mode=0o700)
    foreign = tmp_path / "foreign"
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    foreign.write_text(json.dumps({"token": "FOREIGN", "expiry": expiry.isoformat()}))
    if os.geteuid() == 0:
        os.chown(foreign, 65534, 65534)
    (directory / NAME).symlink_to(foreign)
    assert FileTokenStore(directory).load(EP) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_file_owned_by_another_user_is_ignored(tmp_path: Path) -> None:
    _write_doc(tmp_path, dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    os.chown(tmp_path / NAME, 65534, 65534)
    assert FileTokenStore(tmp_path).load(EP) is None


def test_symlinked_directory_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    store = FileTokenStore(link)
    with pytest.raises(TokenStoreError, match="symlink"):
        store.save(EP, _token())
    with pytest.raises(TokenStoreError, match="symlink"):
        store.load(EP)
    assert list(real.iterdir()) == []


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o722])
def test_group_or_world_writable_directory_is_refused(tmp_path: Path, mode: int) -> None:
    directory = tmp_path / "tokens"
    directory.mkdir()
    directory.chmod(mode)
    with pytest.raises(TokenStoreError, match="writable by group or others"):
        FileTokenStore(directory).save(EP, _token())
    assert list(directory.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "tokens"
    directory.mkdir(mode=0o700)
    os.chown(directory, 65534, 65534)
    with pytest.raises(TokenStoreError, match="another user"):
        FileTokenStore(directory).save(EP, _token())


def test_callback_store_adapts_0_0_3_callbacks() -> None:
    saved: list[tuple[str, dt.datetime, Endpoint]] = []
    answer: list[tuple[str, dt.datetime] | None] = [None]

    def on_new_token(token: str, expiry: dt.datetime, endpoint: Endpoint) -> None:
        saved.append((token, expiry, endpoint))

    def on_load_token(endpoint: Endpoint) -> tuple[str, dt.datetime] | None:
        assert endpoint == EP
        return answer[0]

    store = CallbackTokenStore(on_new_token, on_load_token)
    assert store.load(EP) is None
    token = _token()
    store.save(EP, token)
    assert saved == [(SECRET, token.expiry, EP)]
    answer[0] = (SECRET, token.expiry)
    loaded = store.load(EP)
    assert loaded is not None
    assert loaded.value == SECRET
    answer[0] = ("bad\nvalue", token.expiry)
    assert store.load(EP) is None
    assert CallbackTokenStore().load(EP) is None


def _hammer(directory: str, worker: int, rounds: int) -> None:
    store = FileTokenStore(directory)
    for i in range(rounds):
        store.save(EP, _token(value=f"TOKEN-{worker}-{i}-" + "x" * 200))


def test_two_processes_saving_at_once_leave_a_complete_file(tmp_path: Path) -> None:
    directory = tmp_path / "tokens"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(directory), w, 50)) for w in range(2)]
    for p in procs:
        p.start()
    store = FileTokenStore(directory)
    seen = 0
    while any(p.is_alive() for p in procs):
        loaded = store.load(EP)  # never a torn file: either None (not yet) or a whole token
        if loaded is not None:
            assert loaded.value.startswith("TOKEN-")
            assert loaded.value.endswith("x" * 200)
            seen += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    final = store.load(EP)
    assert final is not None
    assert final.value.endswith("x" * 200)
    assert sorted(os.listdir(directory)) == [NAME]


def test_token_store_warning_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ec2imds._flow import IO, run
    from ec2imds._protocol import EndpointSession
    from ec2imds.settings import Settings

    directory = tmp_path / "tokens"
    directory.mkdir()
    directory.chmod(0o777)
    session = EndpointSession(
        EP, FileTokenStore(directory), Settings(), clock=utc_now, guard=threading.Lock()
    )
    with caplog.at_level(logging.WARNING, logger="ec2imds"):
        for _ in range(3):
            # the session's store calls are flows: the blocking runner does their file I/O
            run(session.set_token(_token()), IO(print))
            assert run(session.usable_token(), IO(print)) is not None  # memory still works
    warnings = [r for r in caplog.records if "not persisted" in r.getMessage()]
    assert len(warnings) == 1
    assert SECRET not in caplog.text
