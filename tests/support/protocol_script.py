"""The protocol driven without sockets: a fake :class:`Clock` and :func:`drive`, which runs
an ``exchange()`` or ``token_flow()`` against a script of answers."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Generator, Iterable
from typing import Any

from ec2imds._protocol import (
    ACQUIRE,
    RELEASE,
    TTL_HEADER,
    Answer,
    EndpointSession,
    Failure,
    Request,
    Response,
    Sleep,
    Step,
    exchange,
)
from ec2imds.errors import IMDSError
from ec2imds.settings import Settings
from ec2imds.tokens import MemoryTokenStore

EP = ("127.0.0.1", 1338)
START = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
PATH = "/latest/meta-data/instance-id"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def token_answer(value: str = "tok-1", ttl: int | None = 21600) -> Response:
    headers = {TTL_HEADER.lower(): str(ttl)} if ttl is not None else {}
    return Response(200, value.encode(), headers)


def session(clock: Clock, **settings: Any) -> EndpointSession:
    settings.setdefault("attempts", 3)
    return EndpointSession(
        EP,
        MemoryTokenStore(),
        Settings.resolve(endpoints=[EP], env={}, **settings),
        clock=clock,
        guard=threading.Lock(),
    )


class Run:
    """The steps a flow took and how it ended (``result`` or ``error``)."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.result: Any = None
        self.error: BaseException | None = None

    @property
    def requests(self) -> list[Request]:
        return [s for s in self.steps if isinstance(s, Request)]

    @property
    def sleeps(self) -> list[float]:
        return [s.seconds for s in self.steps if isinstance(s, Sleep)]

    def shape(self) -> list[str]:
        """``["acquire", "PUT", "release", "GET", "sleep", ...]``."""
        out = []
        for s in self.steps:
            if s is ACQUIRE:
                out.append("acquire")
            elif s is RELEASE:
                out.append("release")
            elif isinstance(s, Sleep):
                out.append("sleep")
            else:
                assert isinstance(s, Request)
                out.append(s.method)
        return out


def drive(
    flow: Generator[Step, Answer, Any],
    answers: Iterable[Response | Failure],
    clock: Clock | None = None,
    *,
    during: dict[int, float] | None = None,
) -> Run:
    """Run ``flow`` with the scripted ``answers``; a Sleep moves ``clock`` on by its
    seconds, and ``during[i]`` seconds pass while request ``i`` (0-based) is in flight."""
    run = Run()
    script = iter(answers)
    sent = 0
    try:
        step = next(flow)
        while True:
            run.steps.append(step)
            if isinstance(step, Request):
                if clock is not None and during and sent in during:
                    clock.advance(during[sent])
                sent += 1
                step = flow.send(next(script))
            else:
                if isinstance(step, Sleep) and clock is not None:
                    clock.advance(step.seconds)
                step = flow.send(None)
    except StopIteration as stop:
        run.result = stop.value
    except IMDSError as exc:
        run.error = exc
    assert next(script, None) is None, "the flow ended with answers left over"
    return run


def get(s: EndpointSession, path: str = PATH) -> Generator[Step, Answer, Response]:
    return exchange(s, "GET", path, random.Random(1))
