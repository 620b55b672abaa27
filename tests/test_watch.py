"""The interruption and event watcher: the change detection and the schedule without I/O,
the sync and async watches against the simulator (events, faults, cancellation), and
``ec2imds --watch`` as a real subprocess.

Times against the simulator use short intervals (0.2 s) and generous bounds: they check
the order of magnitude (an event within about one interval), never a tight threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import json
import os
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any, NamedTuple, Union

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ec2imds import IMDS, AsyncIMDS
from ec2imds._drivers.aio import timeout
from ec2imds._flow import Emit, Sleep
from ec2imds._leaves import parse_iso_time
from ec2imds.errors import (
    IMDSConfigError,
    IMDSDisabled,
    IMDSError,
    IMDSHTTPError,
    IMDSTimeout,
    IMDSUnavailable,
    IMDSValidationError,
    RedirectRefused,
    ResponseTooLarge,
    TokenError,
)
from ec2imds.models import MaintenanceEvent, SpotInstanceAction
from ec2imds.simulator import IMDSSimulator, format_imds_time
from ec2imds.watch import (
    DEFAULT_INTERVALS,
    EVENT_CATEGORIES,
    EventTracker,
    Get,
    LifecycleStateEvent,
    RebalanceRecommendationEvent,
    ScheduledMaintenanceEvent,
    SpotInstanceActionEvent,
    SpotTerminationTimeEvent,
    WatchEvent,
    is_transient,
    watch_flow,
)
from tests.support.command import PYTHON_M, cli_env
from tests.support.properties import examples

#: What a scripted read answers: a body, None (404) or the error the runner throws in.
Reply = Union[bytes, IMDSError, None]

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


ACTION = "meta-data/spot/instance-action"
TERMINATION = "meta-data/spot/termination-time"
REBALANCE = "meta-data/events/recommendations/rebalance"
SCHEDULED = "meta-data/events/maintenance/scheduled"
LIFECYCLE = "meta-data/autoscaling/target-lifecycle-state"
ALL_PATHS = (ACTION, TERMINATION, REBALANCE, SCHEDULED, LIFECYCLE)

T0 = dt.datetime(2024, 5, 1, 11, 58, tzinfo=dt.timezone.utc)
INTERVAL = 0.2


def action_body(action: str = "terminate", when: str = "2024-05-01T12:00:00Z") -> bytes:
    return json.dumps({"action": action, "time": when}).encode()


def maintenance(event_id: str, not_before: str = "21 Jan 2030 09:00:43 GMT") -> dict[str, str]:
    return {
        "Code": "system-reboot",
        "Description": "scheduled reboot",
        "EventId": event_id,
        "NotBefore": not_before,
        "NotAfter": "21 Jan 2030 11:00:43 GMT",
        "State": "active",
    }


def scheduled_body(*events: dict[str, str]) -> bytes:
    return json.dumps(list(events)).encode()


def summary(events: list[WatchEvent]) -> list[tuple[str, str, bool]]:
    return [(e.kind, e.change, e.existing) for e in events]


# -- change detection (no I/O) -------------------------------------------------------


def test_a_notice_present_at_the_first_read_is_reported_at_once_as_existing() -> None:
    tracker = EventTracker()
    events = tracker.feed({ACTION: action_body(), TERMINATION: b"2024-05-01T12:00:00Z"}, T0)
    assert summary(events) == [
        ("spot-instance-action", "new", True),
        ("spot-termination-time", "new", True),
    ]
    first = events[0]
    assert isinstance(first, SpotInstanceActionEvent)
    assert first.value == SpotInstanceAction(action="terminate", time=T0.replace(minute=0, hour=12))
    assert first.first_seen == T0
    assert first.path == ACTION
    assert first.category == "spot"
    assert events[1].value == dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)


def test_without_existing_the_first_read_is_a_silent_baseline() -> None:
    tracker = EventTracker(existing=False)
    assert tracker.feed({ACTION: action_body("stop"), REBALANCE: None}, T0) == []
    events = tracker.feed(
        {ACTION: action_body("terminate"), REBALANCE: b'{"noticeTime": "2024-05-01T11:50:00Z"}'}
    )
    assert summary(events) == [
        ("spot-instance-action", "changed", False),
        ("rebalance-recommendation", "new", False),
    ]


def test_a_404_or_a_missing_read_never_clears_an_event() -> None:
    """An IMDS hiccup (a 404 answered during an outage, or a failed read) must not turn
    into "gone" and then "new" again."""
    tracker = EventTracker()
    assert len(tracker.feed({ACTION: action_body()})) == 1
    assert tracker.feed({ACTION: None}) == []
    assert tracker.feed({}) == []
    assert tracker.feed({ACTION: action_body()}) == []


def test_a_changed_notice_is_reported_with_the_previous_value() -> None:
    tracker = EventTracker()
    tracker.feed({ACTION: action_body("hibernate")})
    (event,) = tracker.feed({ACTION: None}) + tracker.feed({ACTION: action_body("terminate")})
    assert isinstance(event, SpotInstanceActionEvent)
    assert (event.change, event.existing) == ("changed", False)
    assert event.value.action == "terminate"
    assert event.previous is not None
    assert event.previous.action == "hibernate"


def test_maintenance_events_are_matched_by_event_id() -> None:
    tracker = EventTracker()
    assert tracker.feed({SCHEDULED: b"[]"}) == []
    one, two = maintenance("instance-event-1"), maintenance("instance-event-2")
    new = tracker.feed({SCHEDULED: scheduled_body(one, two)})
    assert summary(new) == [("scheduled-maintenance", "new", False)] * 2
    assert [e.value.event_id for e in new if isinstance(e, ScheduledMaintenanceEvent)] == [
        "instance-event-1",
        "instance-event-2",
    ]
    moved = maintenance("instance-event-2", not_before="22 Jan 2030 09:00:43 GMT")
    (changed,) = tracker.feed({SCHEDULED: scheduled_body(one, moved)})
    assert isinstance(changed, ScheduledMaintenanceEvent)
    assert changed.change == "changed"
    assert changed.value.not_before == dt.datetime(2030, 1, 22, 9, 0, 43, tzinfo=dt.timezone.utc)
    assert changed.previous is not None
    assert changed.previous.not_before == dt.datetime(2030, 1, 21, 9, 0, 43, tzinfo=dt.timezone.utc)
    # Gone (completed) and back in the same form: nothing; an empty list says nothing.
    assert tracker.feed({SCHEDULED: b"[]"}) == []
    assert tracker.feed({SCHEDULED: scheduled_body(moved)}) == []


def test_autoscaling_in_service_at_start_is_the_baseline_and_transitions_are_events() -> None:
    tracker = EventTracker()
    assert tracker.feed({LIFECYCLE: b"InService"}) == []
    standby = tracker.feed({LIFECYCLE: b"Standby"})
    back = tracker.feed({LIFECYCLE: b"InService"})
    assert [(e.value, e.previous, e.change) for e in standby + back] == [
        ("Standby", "InService", "changed"),
        ("InService", "Standby", "changed"),
    ]
    # Any other state found at start is news.
    (terminated,) = EventTracker().feed({LIFECYCLE: b"Terminated"})
    assert (terminated.value, terminated.existing) == ("Terminated", True)
    # Joining the group after the watch started is news too, InService included.
    late = EventTracker()
    assert late.feed({LIFECYCLE: None}) == []
    assert summary(late.feed({LIFECYCLE: b"InService"})) == [
        ("target-lifecycle-state", "new", False)
    ]


def test_a_termination_time_that_is_not_a_time_is_no_event() -> None:
    tracker = EventTracker()
    assert tracker.feed({TERMINATION: b"not-a-time"}) == []
    (event,) = tracker.feed({TERMINATION: b"2024-05-01T12:00:00Z"})
    assert isinstance(event, SpotTerminationTimeEvent)
    assert event.existing is False  # the path was read before: a change, not a leftover


def test_a_bad_body_raises_and_changes_nothing() -> None:
    tracker = EventTracker()
    with pytest.raises(IMDSValidationError) as caught:
        tracker.feed({REBALANCE: b'{"noticeTime": "2024-05-01T11:50:00Z"}', ACTION: b"{oops"})
    assert caught.value.path.startswith(ACTION)
    # Nothing was recorded: the rebalance is still new, and still existing.
    assert summary(tracker.feed({REBALANCE: b'{"noticeTime": "2024-05-01T11:50:00Z"}'})) == [
        ("rebalance-recommendation", "new", True)
    ]
    with pytest.raises(ValueError, match="meta-data/ami-id"):
        tracker.feed({"meta-data/ami-id": b"ami-1"})


def test_events_are_typed_and_serialize_to_json() -> None:
    tracker = EventTracker()
    events = tracker.feed(
        {
            ACTION: action_body(),
            TERMINATION: b"2024-05-01T12:00:00Z",
            REBALANCE: b'{"noticeTime": "2024-05-01T11:50:00Z"}',
            SCHEDULED: scheduled_body(maintenance("instance-event-1")),
            LIFECYCLE: b"Terminated",
        },
        T0.replace(microsecond=250000),
    )
    assert [e.kind for e in events] == [
        "spot-instance-action",
        "spot-termination-time",
        "rebalance-recommendation",
        "scheduled-maintenance",
        "target-lifecycle-state",
    ]
    lines = [e.to_dict() for e in events]
    for event, line in zip(events, lines):
        text = event.to_json()  # the line ec2imds --watch prints: one line of JSON
        assert isinstance(text, str)
        assert "\n" not in text
        assert json.loads(text) == line
        assert text == json.dumps(line, ensure_ascii=False)
    assert_type(events[0].to_json(), str)
    assert_type(events[0].to_dict(), dict[str, Any])
    assert lines[0] == {
        "kind": "spot-instance-action",
        "category": "spot",
        "path": ACTION,
        "change": "new",
        "existing": True,
        "first_seen": "2024-05-01T11:58:00.250000Z",
        "value": {"action": "terminate", "time": "2024-05-01T12:00:00Z"},
        "previous": None,
    }
    assert lines[1]["value"] == "2024-05-01T12:00:00Z"
    assert lines[2]["value"] == {"noticeTime": "2024-05-01T11:50:00Z"}
    assert lines[3]["value"] == maintenance("instance-event-1")  # IMDS's keys and times
    assert lines[4]["value"] == "Terminated"
    assert {line["category"] for line in lines} == set(EVENT_CATEGORIES)
    for event in events:  # mypy narrows the union on the kind
        if event.kind == "spot-instance-action":
            assert_type(event, SpotInstanceActionEvent)
            assert_type(event.value, SpotInstanceAction)
        elif event.kind == "scheduled-maintenance":
            assert_type(event.value, MaintenanceEvent)
        elif event.kind == "target-lifecycle-state":
            assert_type(event, LifecycleStateEvent)
            assert_type(event.value, str)


_BODIES: dict[str, list[bytes | None]] = {
    ACTION: [None, action_body("terminate"), action_body("stop")],
    TERMINATION: [None, b"2024-05-01T12:00:00Z", b"2024-05-01T12:05:00Z", b"not-a-time"],
    REBALANCE: [None, b'{"noticeTime": "2024-05-01T11:50:00Z"}'],
    SCHEDULED: [
        None,
        b"[]",
        scheduled_body(maintenance("e-1")),
        scheduled_body(maintenance("e-1"), maintenance("e-2")),
        scheduled_body(maintenance("e-1", not_before="22 Jan 2030 09:00:43 GMT")),
        scheduled_body(
            maintenance("e-2"), maintenance("e-2", not_before="1 Feb 2030 09:00:43 GMT")
        ),
    ],
    LIFECYCLE: [None, b"InService", b"Standby", b"Terminated"],
}


@st.composite
def polls(draw: st.DrawFn, *, full: bool = False) -> dict[str, bytes | None]:
    """One poll: some paths read (all with ``full``), each with one of a few bodies."""
    return {
        path: draw(st.sampled_from(bodies))
        for path, bodies in _BODIES.items()
        if full or draw(st.booleans())
    }


@st.composite
def blank_polls(draw: st.DrawFn) -> dict[str, bytes | None]:
    """What an outage looks like: reads that fail (missing) or answer 404 or ``[]``."""
    return {
        path: draw(st.sampled_from([None, b"[]"] if path == SCHEDULED else [None]))
        for path in ALL_PATHS
        if draw(st.booleans())
    }


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(polls(), max_size=6), polls(), st.booleans())
def test_feeding_the_same_poll_twice_never_emits_twice(
    history: list[dict[str, bytes | None]], poll: dict[str, bytes | None], existing: bool
) -> None:
    tracker = EventTracker(existing=existing)
    for earlier in history:
        tracker.feed(earlier, T0)
    tracker.feed(poll, T0)
    assert tracker.feed(poll, T0) == []


@settings(max_examples=examples(150), deadline=None)
@given(polls(full=True), st.lists(st.tuples(polls(), st.lists(blank_polls(), max_size=3))))
def test_outages_between_polls_change_no_event(
    first: dict[str, bytes | None],
    rest: list[tuple[dict[str, bytes | None], list[dict[str, bytes | None]]]],
) -> None:
    """Failed reads and 404s inserted anywhere after the first poll emit nothing and
    change nothing later: no false "new again", no lost change."""
    plain, noisy = EventTracker(), EventTracker()
    expected = plain.feed(first, T0)
    got = noisy.feed(first, T0)
    for poll, outage in rest:
        for blank in outage:
            assert noisy.feed(blank, T0) == []
        expected += plain.feed(poll, T0)
        got += noisy.feed(poll, T0)
    assert got == expected


# -- the schedule (no I/O, a fake clock) ---------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Run(NamedTuple):
    gets: list[tuple[float, str]]
    waits: list[float]
    events: list[WatchEvent]
    error: IMDSError | None


def run_flow(
    replies: Callable[[str, float], Reply],
    *categories: Any,
    until: float = 1e9,
    **options: Any,
) -> Run:
    """Drive a watch on a fake clock until ``until`` or until it raises an IMDSError:
    what it read and when, how long it waited, what it yielded, how it ended."""
    clock = FakeClock()
    flow = watch_flow(*categories, clock=clock, **options)
    run = Run([], [], [], None)
    with contextlib.closing(flow):
        while clock.now < until:
            try:
                step = flow.send(None)
            except IMDSError as exc:
                return run._replace(error=exc)
            while isinstance(step, Get):
                run.gets.append((clock.now, step.path))
                answer = replies(step.path, clock.now)
                try:  # a runner throws a failed read's IMDSError into the flow
                    step = (
                        flow.throw(answer) if isinstance(answer, IMDSError) else flow.send(answer)
                    )
                except IMDSError as exc:
                    return run._replace(error=exc)
            if isinstance(step, Sleep):
                assert step.seconds > 0
                run.waits.append(step.seconds)
                clock.now += step.seconds
            else:
                assert isinstance(step, Emit)
                run.events.append(step.value)
    return run


def test_each_category_is_read_at_its_own_interval() -> None:
    run = run_flow(lambda path, now: None, until=60.5)
    per_path = {p: [t for t, q in run.gets if q == p] for p in ALL_PATHS}
    assert per_path[ACTION] == [5.0 * i for i in range(13)]  # every 5 s, from the start
    assert per_path[TERMINATION] == per_path[ACTION]
    assert per_path[REBALANCE] == per_path[ACTION]
    assert per_path[SCHEDULED] == [0.0, 30.0, 60.0]
    assert per_path[LIFECYCLE] == [10.0 * i for i in range(7)]
    assert run.events == []
    assert run.error is None
    assert DEFAULT_INTERVALS == {"spot": 5, "rebalance": 5, "maintenance": 30, "autoscaling": 10}


def test_only_the_chosen_categories_are_read_at_the_chosen_interval() -> None:
    gets = run_flow(lambda p, n: None, "autoscaling", "spot", interval=2, until=4.5).gets
    assert [p for t, p in gets if t == 0] == [ACTION, TERMINATION, LIFECYCLE]  # spot first
    assert {t for t, _ in gets} == {0.0, 2.0, 4.0}
    gets = run_flow(lambda p, n: None, interval={"maintenance": 1}, until=2.5).gets
    assert [t for t, p in gets if p == SCHEDULED] == [0.0, 1.0, 2.0]
    assert [t for t, p in gets if p == LIFECYCLE] == [0.0]  # its default, 10 s


def test_an_event_is_yielded_right_after_the_read_that_saw_it() -> None:
    def replies(path: str, now: float) -> Reply:
        return action_body() if path == ACTION and now >= 12 else None

    run = run_flow(replies, "spot", until=31)
    assert summary(run.events) == [("spot-instance-action", "new", False)]
    assert [t for t, p in run.gets if p == ACTION] == [0, 5, 10, 15, 20, 25, 30]


def test_transient_failures_back_off_and_end_the_watch_after_the_grace_period() -> None:
    def replies(path: str, now: float) -> Reply:
        if now < 10:
            return None
        return IMDSHTTPError("503", status=503, path=path)

    run = run_flow(replies, "spot")
    # Reads at 0 and 5 succeed; then 5, 10, 20 s apart (doubling from the interval), and a
    # last read right at the grace period's end (65 s = the last success + 60 s).
    assert run.waits == [5.0, 5.0, 5.0, 10.0, 20.0, 20.0]
    assert [t for t, p in run.gets if p == ACTION] == [0, 5, 10, 15, 25, 45, 65]
    assert isinstance(run.error, IMDSHTTPError)
    assert getattr(run.error, "__notes__", None) == [
        "ec2imds watch: no successful read of spot for 60 s (grace period 60 s)"
    ]


def test_the_backoff_is_capped() -> None:
    run = run_flow(
        lambda p, n: IMDSHTTPError("503", status=503, path=p) if n else None,
        "spot",
        interval=4,
        grace=1000,
    )
    assert run.waits[:9] == [4.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0, 30.0]
    long = run_flow(
        lambda p, n: IMDSHTTPError("503", status=503, path=p) if n else None,
        "maintenance",
        interval=100,
        grace=1000,
    )
    assert long.waits[:3] == [100.0, 100.0, 100.0]  # never faster than the interval


def test_a_success_resets_the_backoff_and_nothing_is_lost() -> None:
    def replies(path: str, now: float) -> Reply:
        if 10 <= now < 30:
            return IMDSUnavailable("down")
        return action_body() if path == ACTION and now >= 12 else None

    run = run_flow(replies, "spot", until=50.5)
    assert [t for t, p in run.gets if p == ACTION] == [0, 5, 10, 15, 25, 45, 50]
    assert run.waits[-1] == 5.0  # back to the interval after the success at 45
    assert summary(run.events) == [("spot-instance-action", "new", False)]
    assert run.error is None


@pytest.mark.parametrize(
    "error",
    [
        IMDSDisabled("off"),
        TokenError("400", status=400),
        TokenError("v2 unavailable", status=404),
        TokenError("not a token"),
        RedirectRefused("302", status=302, path="x"),
        IMDSHTTPError("403", status=403, path="x"),
        ResponseTooLarge("big", path="x", limit=1),
    ],
    ids=lambda e: type(e).__name__ + str(getattr(e, "status", "")),
)
def test_a_permanent_failure_ends_the_watch_at_once(error: IMDSError) -> None:
    calls: list[float] = []

    def replies(path: str, now: float) -> Reply:
        calls.append(now)
        return None if now < 5 else error

    assert run_flow(replies, "autoscaling", interval=5).error is error
    assert calls == [0.0, 5.0]


def test_a_watch_that_never_reached_imds_fails_at_once() -> None:
    run = run_flow(lambda p, n: IMDSUnavailable("refused"), "spot")
    assert isinstance(run.error, IMDSUnavailable)
    assert run.gets == [(0.0, ACTION)]
    # ... but a 503 at start is a hiccup, not an absence of IMDS: retried for 60 s.
    run = run_flow(lambda p, n: IMDSHTTPError("503", status=503, path=p), "spot")
    assert isinstance(run.error, IMDSHTTPError)
    assert run.gets[-1][0] == 60.0


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (IMDSUnavailable("refused"), True),
        (IMDSTimeout("slow"), True),
        (IMDSHTTPError("500", status=500, path="x"), True),
        (IMDSHTTPError("429", status=429, path="x"), True),
        (IMDSHTTPError("403", status=403, path="x"), False),
        (TokenError("401 twice", status=401), True),
        (TokenError("503 on the PUT", status=503), True),
        (TokenError("400 on the PUT", status=400), False),
        (TokenError("405 on the PUT", status=405), False),
        (TokenError("malformed token"), False),
        (RedirectRefused("301", status=301, path="x"), False),
        (IMDSDisabled("off"), False),
        (IMDSValidationError("bad", path="x"), False),
    ],
)
def test_which_failures_are_transient(error: IMDSError, transient: bool) -> None:
    assert is_transient(error) is transient


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (("spto",), {}, "'spto': unknown watch category"),
        ((), {"interval": 0}, "interval: 0 must be a positive"),
        ((), {"interval": float("nan")}, "interval: nan"),
        ((), {"interval": {"spot": -1}}, "interval\\['spot'\\]: -1"),
        ((), {"interval": {"spto": 1}}, "'spto': unknown watch category"),
        ((), {"interval": True}, "interval: True is not a number"),
        ((), {"grace": 0}, "grace: 0"),
    ],
)
def test_bad_arguments_are_refused_before_any_read(
    args: tuple[Any, ...], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(IMDSConfigError, match=message):
        watch_flow(*args, **options)
    with IMDS(endpoints=[("127.0.0.1", 9)]) as imds, pytest.raises(IMDSConfigError):
        imds.watch(*args, **options)  # raised by the call, not by the first next()


def test_token_errors_carry_the_status_behind_them() -> None:
    """What the watch's classification relies on, from the real exchange."""
    with IMDSSimulator() as sim, IMDS(endpoints=[sim.endpoint], attempts=2) as imds:
        sim.faults.burst(503, 2, method="PUT")
        with pytest.raises(TokenError) as caught:
            imds.driver.get("meta-data/ami-id")
        assert caught.value.status == 503
        sim.faults.burst(400, 1, method="PUT")
        with pytest.raises(TokenError) as caught:
            imds.driver.get("meta-data/ami-id")
        assert caught.value.status == 400
        assert is_transient(caught.value) is False


# -- against the simulator -----------------------------------------------------------


class _Deadline(BaseException):
    """Raised in the main thread by SIGALRM to end a collection."""


def collect(
    events: Iterator[WatchEvent],
    seconds: float,
    stop: Callable[[list[WatchEvent]], bool] = lambda got: False,
) -> list[WatchEvent]:
    """The events a sync watch yields within ``seconds`` (or until ``stop`` says so); the
    watch is then interrupted, as Ctrl-C would, and closed."""
    got: list[WatchEvent] = []
    armed = True

    def alarm(signum: int, frame: FrameType | None) -> None:
        if armed:
            raise _Deadline

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        for event in events:
            got.append(event)
            if stop(got):
                break
        armed = False
    except _Deadline:
        pass
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        close = getattr(events, "close", None)
        if close is not None:
            close()
    return got


@pytest.fixture
def sim() -> Iterator[IMDSSimulator]:
    with IMDSSimulator(seed=7) as s:
        yield s


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def seen_within(event: WatchEvent, due: dt.datetime, interval: float = INTERVAL) -> bool:
    """First seen after it appeared, within about one interval (a generous bound)."""
    delay = (event.first_seen - due).total_seconds()
    return -0.1 <= delay <= interval + 1.5


@pytest.mark.slow
def test_a_spot_interruption_is_reported_once_within_an_interval(sim: IMDSSimulator) -> None:
    started = now_utc()
    when = sim.inject_spot_interruption("stop", after=1.0)
    with IMDS(endpoints=[sim.endpoint]) as imds:
        events = collect(imds.watch("spot", interval=INTERVAL), seconds=2.5)
    assert summary(events) == [
        ("spot-instance-action", "new", False),
        ("spot-termination-time", "new", False),
    ]
    action, termination = events
    assert isinstance(action, SpotInstanceActionEvent)
    assert action.value.action == "stop"
    assert action.value.time == parse_iso_time(when)
    assert termination.value == parse_iso_time(when)
    assert seen_within(action, started + dt.timedelta(seconds=1.0))
    # One token for every poll, and only the spot paths were read (about every 0.2 s).
    assert sim.stats.tokens_issued == 1
    paths = {p for (m, p) in sim.stats.requests if m == "GET"}
    assert paths == {"/latest/" + ACTION, "/latest/" + TERMINATION}
    assert 5 <= sim.stats.count("/latest/" + ACTION) <= 30


@pytest.mark.slow
def test_rebalance_and_maintenance_new_and_changed_async(sim: IMDSSimulator) -> None:
    started = now_utc()
    notice = sim.inject_rebalance(after=0.5)
    scheduled = sim.inject_maintenance(after=0.5, code="instance-stop")
    moved = {**scheduled, "NotBefore": format_imds_time(T0)}
    sim.schedule(1.5, SCHEDULED, json.dumps([moved]))

    async def main() -> list[WatchEvent]:
        got: list[WatchEvent] = []
        async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:
            with contextlib.suppress(TimeoutError):
                async with timeout(3.0):
                    async for event in aimds.watch("rebalance", "maintenance", interval=INTERVAL):
                        got.append(event)
        return got

    events = asyncio.run(main())
    kinds = [(e.kind, e.change) for e in events]
    assert sorted(kinds[:2]) == [
        ("rebalance-recommendation", "new"),
        ("scheduled-maintenance", "new"),
    ]
    assert kinds[2:] == [("scheduled-maintenance", "changed")]
    rebalance = next(e for e in events if isinstance(e, RebalanceRecommendationEvent))
    assert rebalance.value.notice_time == parse_iso_time(notice)
    assert seen_within(rebalance, started + dt.timedelta(seconds=0.5))
    changed = events[2]
    assert isinstance(changed, ScheduledMaintenanceEvent)
    assert changed.value.event_id == scheduled["EventId"]
    assert changed.value.code == "instance-stop"
    assert changed.value.not_before == T0
    assert changed.previous is not None
    assert changed.previous.not_before != T0
    assert seen_within(changed, started + dt.timedelta(seconds=1.5))


@pytest.mark.slow
def test_an_auto_scaling_transition_is_one_event(sim: IMDSSimulator) -> None:
    sim.set_lifecycle_state("InService")  # the default instance is in no Auto Scaling group
    sim.set_lifecycle_state("Terminated", after=0.6)
    with IMDS(endpoints=[sim.endpoint]) as imds:
        events = collect(imds.watch("autoscaling", interval=INTERVAL), seconds=1.6)
    (event,) = events
    assert isinstance(event, LifecycleStateEvent)
    assert (event.previous, event.value, event.change) == ("InService", "Terminated", "changed")


def test_a_watch_started_after_the_notice_still_sees_it(sim: IMDSSimulator) -> None:
    sim.inject_spot_interruption()
    with IMDS(endpoints=[sim.endpoint]) as imds:
        started = time.monotonic()
        (first,) = collect(imds.watch(interval=10), seconds=5, stop=lambda got: True)
        assert time.monotonic() - started < 2  # the first read, not the next one
        assert (first.kind, first.existing) == ("spot-instance-action", True)
        # Without existing, the notice is the baseline: nothing comes.
        assert collect(imds.watch("spot", interval=INTERVAL, existing=False), seconds=0.8) == []


@pytest.mark.slow
def test_503s_a_token_expiry_and_404s_during_the_watch_give_no_false_or_lost_event(
    sim: IMDSSimulator,
) -> None:
    sim.inject_spot_interruption()
    done = False

    def outage(got: list[WatchEvent]) -> bool:
        nonlocal done
        if len(got) == 2 and not done:  # the existing notice is in: now the trouble
            done = True
            sim.faults.burst(503, 8, path="meta-data/*")
            sim.expire_tokens()
            sim.faults.burst(404, 4, path="meta-data/spot/*")
            sim.inject_rebalance()  # appears during the outage: must not be lost
            sim.set_lifecycle_state("Terminated", after=2.0)  # after it
        return got[-1].kind == "target-lifecycle-state"

    with IMDS(endpoints=[sim.endpoint]) as imds:
        events = collect(imds.watch(interval=INTERVAL), seconds=6, stop=outage)
    assert sorted(e.kind for e in events) == [
        "rebalance-recommendation",
        "spot-instance-action",
        "spot-termination-time",
        "target-lifecycle-state",
    ]
    assert sim.faults.pending == 0  # every fault fired
    assert {503, 404, 401} <= set(sim.stats.statuses)
    assert sim.stats.tokens_issued == 2  # the expired token was replaced, once


@pytest.mark.slow
def test_imds_lost_past_the_grace_period_ends_the_watch(sim: IMDSSimulator) -> None:
    sim.inject_spot_interruption()
    stopped: list[float] = []

    def stop_imds(got: list[WatchEvent]) -> bool:
        if not stopped:  # the notice is in: now IMDS goes away
            sim.stop()
            stopped.append(time.monotonic())
        return False

    with IMDS(endpoints=[sim.endpoint], timeout=0.2) as imds:
        watch = imds.watch("spot", interval=INTERVAL, grace=1.0)
        with pytest.raises(IMDSUnavailable) as caught:
            collect(watch, seconds=8, stop=stop_imds)
        elapsed = time.monotonic() - stopped[0]
    assert "grace period 1 s" in " ".join(getattr(caught.value, "__notes__", ()))
    assert 0.7 <= elapsed <= 5


def test_imds_turned_off_during_the_watch_ends_it_at_once(sim: IMDSSimulator) -> None:
    with IMDS(endpoints=[sim.endpoint]) as imds:
        watch = imds.watch("autoscaling", interval=INTERVAL)
        sim.expire_tokens()
        sim.faults.burst(403, 1, method="PUT")
        started = time.monotonic()
        with pytest.raises(IMDSDisabled):
            collect(watch, seconds=5)
        assert time.monotonic() - started < 2


def test_off_ec2_the_watch_fails_at_once() -> None:
    port = _closed_port()
    with IMDS(endpoints=[("127.0.0.1", port)]) as imds:
        started = time.monotonic()
        with pytest.raises(IMDSUnavailable):
            next(imds.watch())
        assert time.monotonic() - started < 2  # not the 60 s grace period


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- cancellation: no thread, no socket left behind ----------------------------------


def resources() -> tuple[int, int]:
    return threading.active_count(), len(os.listdir("/proc/self/fd"))


def settled(baseline: tuple[int, int], timeout: float = 5.0) -> bool:
    """Whether the thread and fd counts come back to ``baseline`` (or below: a thread of
    an earlier test may end meanwhile) within ``timeout``; the simulator's side of a
    closed connection ends asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        threads, fds = resources()
        if threads <= baseline[0] and fds <= baseline[1]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_breaking_out_of_a_sync_watch_leaves_nothing_behind(sim: IMDSSimulator) -> None:
    sim.inject_spot_interruption()
    baseline = resources()
    with IMDS(endpoints=[sim.endpoint]) as imds:
        watch = imds.watch(interval=INTERVAL)
        assert len(collect(watch, seconds=5, stop=lambda got: True)) == 1  # then break
        assert inspect.getgeneratorstate(watch) == inspect.GEN_CLOSED
        assert sim.stats.connections == sim.stats.total  # EC2 closes each one
    assert settled(baseline), (baseline, resources())


def test_cancelling_an_async_watch_leaves_nothing_behind(sim: IMDSSimulator) -> None:
    async def main() -> None:
        async with AsyncIMDS(endpoints=[sim.endpoint]) as aimds:

            async def consume() -> None:
                async for _event in aimds.watch(interval=INTERVAL):
                    pass  # no event comes: the task is cancelled mid-wait

            task = asyncio.create_task(consume())
            async with timeout(5):
                while sim.stats.gets < 6:  # a few polls, then cancel it between two
                    await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Breaking out of an async for closes the generator too.
            sim.inject_spot_interruption()
            watch = aimds.watch("spot", interval=INTERVAL)
            async with timeout(5):
                async for _event in watch:
                    break
            await watch.aclose()

    baseline = resources()
    asyncio.run(main())
    assert settled(baseline), (baseline, resources())


# -- the command line ----------------------------------------------------------------


def watch_env() -> dict[str, str]:
    """:func:`cli_env`, block-buffered as a real pipeline is: the watch must flush."""
    env = cli_env()
    env.pop("PYTHONUNBUFFERED", None)
    return env


def watch_cli(sim: IMDSSimulator, tmp_path: Path, *args: str) -> list[str]:
    return [
        *PYTHON_M,
        f"--imds=127.0.0.1:{sim.port}",
        "-t",
        str(tmp_path / "tokens"),
        "--watch",
        "--interval",
        str(INTERVAL),
        *args,
    ]


def copy_stdin_to(path: Path, status: int = 0) -> str:
    """An --exec command (run without a shell) that saves its stdin to ``path``."""
    code = (
        f"import sys; open({str(path)!r}, 'ab').write(sys.stdin.buffer.read()); "
        f"print('from the command'); sys.exit({status})"
    )
    return shlex.join([sys.executable, "-c", code])


def test_once_with_exec_waits_for_a_spot_interruption(sim: IMDSSimulator, tmp_path: Path) -> None:
    sim.inject_spot_interruption(after=0.5)
    saved = tmp_path / "event.json"
    proc = subprocess.run(
        watch_cli(sim, tmp_path, "spot", "--once", "--exec", copy_stdin_to(saved)),
        capture_output=True,
        env=watch_env(),
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.decode().splitlines()  # the command's output is not in the stream
    event = json.loads(line)
    # The two spot documents appear together; a poll that reads instance-action just
    # before they do and termination-time just after sees the second one first (as it
    # could on EC2): either is the first spot event.
    if event["kind"] == "spot-termination-time":
        assert isinstance(event["value"], str)
        assert event["value"].endswith("Z")
    else:
        assert (event["kind"], event["value"]["action"]) == ("spot-instance-action", "terminate")
    assert event["change"] == "new"
    assert saved.read_bytes() == proc.stdout  # the same line, newline included
    assert proc.stderr.decode() == "from the command\n"


def test_once_reports_a_failing_command_with_status_1(sim: IMDSSimulator, tmp_path: Path) -> None:
    sim.inject_spot_interruption()
    proc = subprocess.run(
        watch_cli(sim, tmp_path, "spot", "--once", "--exec", copy_stdin_to(tmp_path / "x", 3)),
        capture_output=True,
        env=watch_env(),
        timeout=30,
        check=False,
    )
    assert proc.returncode == 1
    assert len(proc.stdout.splitlines()) == 1
    assert proc.stderr.decode().splitlines()[-1].endswith("exit status 3")


@contextlib.contextmanager
def running(args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """The command, running with pipes; killed on the way out if it has not ended."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=watch_env())
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def read_lines(
    stream: IO[bytes] | None,
    count: int,
    keep: Callable[[str], bool] = lambda line: True,
    timeout: float = 10,
) -> list[str]:
    """The first ``count`` lines of a running command's output that ``keep`` accepts, as
    they come (fewer at ``timeout`` or if it ends): only lines it flushed get here."""
    assert stream is not None
    fd = stream.fileno()
    lines: list[str] = []
    pending = b""
    deadline = time.monotonic() + timeout
    while len(lines) < count and (left := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split(b"\n")
        lines += [text for line in complete if keep(text := line.decode() + "\n")]
    return lines[:count]


@pytest.mark.slow
def test_a_failing_command_is_reported_and_the_watch_goes_on(
    sim: IMDSSimulator, tmp_path: Path
) -> None:
    sim.inject_rebalance(after=0.3)
    sim.set_lifecycle_state("Standby", after=0.9)
    saved = tmp_path / "events.jsonl"
    with running(
        watch_cli(sim, tmp_path, "rebalance", "autoscaling", "--exec", copy_stdin_to(saved, 4))
    ) as proc:
        lines = read_lines(proc.stdout, 2)  # read while it runs: each line is flushed
        failures = read_lines(proc.stderr, 2, lambda line: line.startswith("ec2imds:"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert [json.loads(line)["kind"] for line in lines] == [
        "rebalance-recommendation",
        "target-lifecycle-state",
    ]
    assert saved.read_text() == "".join(lines)
    assert len(failures) == 2
    assert all(line.rstrip().endswith("exit status 4") for line in failures)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_the_watch_with_status_0(
    sim: IMDSSimulator, tmp_path: Path, signum: int
) -> None:
    sim.inject_rebalance(after=0.3)
    with running(watch_cli(sim, tmp_path)) as proc:
        (line,) = read_lines(proc.stdout, 1)  # printed, and flushed, as it came
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=10)
    assert json.loads(line)["kind"] == "rebalance-recommendation"
    assert proc.returncode == 0, err
    assert (out, err) == (b"", b"")


def test_a_watch_that_cannot_reach_imds_fails_with_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*PYTHON_M, f"--imds=127.0.0.1:{_closed_port()}", "-t", str(tmp_path), "--watch"],
        capture_output=True,
        env=watch_env(),
        timeout=30,
        check=False,
    )
    assert proc.returncode == 1
    (line,) = proc.stderr.decode().splitlines()
    assert line.startswith("ec2imds: ")
    assert "cannot reach IMDS" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--watch", "spto"], "'spto': unknown category (did you mean spot? one of: spot,"),
        (["--watch", "meta-data/autoscaling"], "did you mean autoscaling?"),
        (["--once"], "--once goes with --watch"),
        (["-a", "--exec", "true"], "--exec goes with --watch"),
        (["--watch", "--interval", "0"], "--interval '0': not a positive number"),
        (["--watch", "--interval", "soon"], "--interval 'soon'"),
        (["--watch", "--exec", "no-such-command-here --now"], "command not found"),
        (["--watch", "--exec", "'unbalanced"], "No closing quotation"),
        (["--watch", "--tree"], "conflicting commands: --tree, --watch"),
        # Options of other commands are named in one order: --watch's, then
        # --verify-identity's, then --validate's.
        (["--once", "--strict"], "--once goes with --watch"),
        (["--watch", "--signature", "rsa2048", "--strict"], "--signature goes with --verify"),
    ],
)
def test_bad_watch_arguments_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [*PYTHON_M, *args], capture_output=True, env=cli_env(), timeout=30, check=False
    )
    assert proc.returncode == 2
    first, help_line = proc.stderr.decode().splitlines()
    assert message in first
    assert help_line == "Run 'ec2imds -h' for help."
    assert proc.stdout == b""


def test_help_documents_the_watch() -> None:
    proc = subprocess.run(
        [*PYTHON_M, "-h"], capture_output=True, env=cli_env(), timeout=30, check=True
    )
    text = proc.stdout.decode()
    for flag in ("--watch", "--exec CMD", "--once", "--interval SECONDS"):
        assert flag in text
    assert "ec2imds --watch spot --once --exec 'systemctl start drain.service'" in text
