"""The lazily imported ``ec2imds`` logger (``ec2imds._log``)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from ec2imds._log import DEBUG, log


def test_nothing_is_imported_until_a_warning_which_then_reaches_stderr() -> None:
    code = (
        "import sys\n"
        "from ec2imds._log import log\n"
        "assert not log.isEnabledFor(10) and not log.isEnabledFor(20)\n"
        "log.debug('dropped %s', 1)\n"
        "log.info('dropped %s', 2)\n"
        "print('logging' in sys.modules)\n"
        "log.warning('shown %s', 3)\n"
        "print('logging' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "True"]
    assert done.stderr.strip() == "shown 3"  # logging's last resort: WARNING and above


def test_records_carry_the_callers_location(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="ec2imds"):
        assert log.isEnabledFor(DEBUG)
        log.debug("a %s", "debug")
        log.info("an info")
        log.warning("a warning")
        log.error("an error")  # not wrapped: the real logger's own method
    assert [r.getMessage() for r in caplog.records] == [
        "a debug",
        "an info",
        "a warning",
        "an error",
    ]
    assert {r.funcName for r in caplog.records} == {"test_records_carry_the_callers_location"}
    assert {r.name for r in caplog.records} == {"ec2imds"}
