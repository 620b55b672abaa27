"""What differs between the Python versions ec2imds runs on (3.9 to 3.13), where one
name can hide it. Standard library ``sys`` only: cheap to import.

The other differences are handled where they occur, each with a comment: ISO 8601 times
(:mod:`ec2imds._leaves`), ``socket.timeout`` (:mod:`ec2imds._drivers.http11`),
``asyncio.timeout`` (:mod:`ec2imds._drivers.aio`), exception notes (:mod:`ec2imds.watch`).
:mod:`ec2imds.catalog` keeps its own copy of ``SLOTS``: the simulator's start-up imports it,
and nothing more than it did before.
"""

from __future__ import annotations

import sys

__all__ = ["SLOTS"]

#: ``@dataclass(frozen=True, **SLOTS)``: slotted where dataclasses can be (Python 3.10+).
SLOTS: dict[str, bool] = {"slots": True} if sys.version_info >= (3, 10) else {}
