"""A losing racer never holds the process at exit (issue 21 item 1)."""

from __future__ import annotations

import subprocess
import sys
import time

SCRIPT = """
import time
from ec2imds._drivers.race import race
from ec2imds._flow import IO, run
from ec2imds.endpoints import mk_endpoint_from_str

slow, fast = mk_endpoint_from_str("[::1]:9"), mk_endpoint_from_str("127.0.0.1:9")

def attempt(ep):
    return (yield ep)

def call(ep):
    if ep == slow:
        time.sleep(10)  # a connect that hangs for a long timeout
    return "answer"

flow = race([slow, fast], attempt, lambda ep: IO(call), 0.05, first=slow)  # the slow one leads
winner, value = run(flow, IO(print))
assert winner == fast and value == "answer", (winner, value)
"""


def test_process_exits_without_waiting_for_the_loser() -> None:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", SCRIPT], check=True, timeout=30)
    assert time.monotonic() - start < 5  # the loser sleeps 10 s
