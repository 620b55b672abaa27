"""Watching IMDS for the news that the instance is about to go.

``imds.watch()`` (sync) and ``aimds.watch()`` (async) poll the volatile categories that
announce it and yield one typed event each time something appears or changes (one token
serves every poll)::

    for event in imds.watch("spot", "rebalance"):
        if isinstance(event, SpotInstanceActionEvent):
            drain(before=event.value.time)

* ``spot``: ``meta-data/spot/instance-action`` and ``meta-data/spot/termination-time``,
  every 5 s (AWS's advice: the notice comes two minutes ahead);
* ``rebalance``: ``meta-data/events/recommendations/rebalance``, every 5 s (as spot);
* ``maintenance``: ``meta-data/events/maintenance/scheduled``, every 30 s;
* ``autoscaling``: ``meta-data/autoscaling/target-lifecycle-state``, every 10 s.

Maintenance is announced days ahead, so 30 s loses nothing; an Auto Scaling lifecycle
hook waits an hour by default, so 10 s is plenty. ``interval=`` overrides (one number for
all, or a mapping by category).

Three layers, the lower two without I/O (the project's style: logic once, thin drivers):

* :class:`EventTracker`: change detection. It takes one poll's bodies and returns the
  events to emit; what counts as new, changed or nothing is decided there alone.
* :func:`watch_flow`: the schedule, as a flow (:mod:`ec2imds._flow`: a :class:`Get` to
  ask, a :class:`~ec2imds._flow.Sleep`, an :class:`~ec2imds._flow.Emit` of an event):
  intervals per category, backoff after a failed read, the grace period, which failures
  are transient.
* :func:`watch_events` / :func:`awatch_events`: that flow on the blocking and the asyncio
  runner (:func:`ec2imds._flow.events`, :func:`ec2imds._flow.aevents`), over any
  ``get(path) -> bytes | None``: the httpx transports of
  :class:`~ec2imds.client.IMDS` and :class:`~ec2imds.client.AsyncIMDS`, or the command
  line's standard-library :class:`~ec2imds._drivers.default.DefaultDriver`.

Robustness:

* An event is never "gone": a 404 (or a failed read) says nothing, so a notice that
  vanishes during an IMDS hiccup and comes back is not reported again. An event is
  reported once when it appears, and again only if its content changes
  (``change="changed"``, with the ``previous`` value).
* Transient failures (unreachable after having answered, timeouts, 429, 5xx, a token
  rejected twice or refused with 429/5xx) are retried: each category's next read waits
  its interval, doubling after each further failure up to ``max(interval, 30 s)``.
  After ``grace`` seconds (default 60) without a successful read of a category, the last
  error is raised: a watcher that can no longer see IMDS says so within a spot notice's
  two minutes. A watch that never reached IMDS (off EC2) fails at once.
* Permanent failures end the watch at once with their :class:`~ec2imds.errors.IMDSError`:
  IMDS disabled, a token error (400, 404/405 on the token request), a redirect, a 403, a
  body that does not fit its model.
* With ``existing=True`` (the default) what is already there at the first read is
  reported at once, flagged ``existing=True``: a watcher started after the notice still
  sees it. The exception is Auto Scaling's ``InService``, the steady state: only another
  state (``Terminated``, ``Standby``, ...) found at start is news. With
  ``existing=False`` the first read is a silent baseline.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
)
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Final,
    Generic,
    Literal,
    NamedTuple,
    Optional,
    TypeVar,
    Union,
    cast,
)

from ec2imds._compat import SLOTS
from ec2imds._flow import IO, Emit, Sleep, aevents, events
from ec2imds.errors import (
    IMDSConfigError,
    IMDSError,
    IMDSHTTPError,
    IMDSUnavailable,
    RedirectRefused,
    TokenError,
)

if TYPE_CHECKING:  # the models (pydantic) are imported when a body is first parsed
    from ec2imds.models import (  # noqa: F401 - named in the event classes' bases
        MaintenanceEvent,
        RebalanceRecommendation,
        SpotInstanceAction,
    )

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_INTERVALS",
    "EVENT_CATEGORIES",
    "PATHS",
    "Change",
    "Emit",
    "Event",
    "EventCategory",
    "EventKind",
    "EventTracker",
    "Get",
    "LifecycleStateEvent",
    "RebalanceRecommendationEvent",
    "Reply",
    "ScheduledMaintenanceEvent",
    "Sleep",
    "SpotInstanceActionEvent",
    "SpotTerminationTimeEvent",
    "WatchEvent",
    "WatchStep",
    "awatch_events",
    "is_transient",
    "watch_events",
    "watch_flow",
]

log = logging.getLogger("ec2imds")

T = TypeVar("T")

EventCategory = Literal["spot", "rebalance", "maintenance", "autoscaling"]
#: Every category, in the order a poll reads them (spot first: it has the least time).
EVENT_CATEGORIES: Final[tuple[EventCategory, ...]] = (
    "spot",
    "rebalance",
    "maintenance",
    "autoscaling",
)
#: Seconds between two reads of a category (see the module docstring for why).
DEFAULT_INTERVALS: Final[Mapping[EventCategory, float]] = {
    "spot": 5.0,
    "rebalance": 5.0,
    "maintenance": 30.0,
    "autoscaling": 10.0,
}
#: Seconds a category may go without a successful read before the watch gives up.
DEFAULT_GRACE: Final = 60.0
#: The longest wait between two reads of a failing category (unless its interval is longer).
BACKOFF_CAP: Final = 30.0

EventKind = Literal[
    "spot-instance-action",
    "spot-termination-time",
    "rebalance-recommendation",
    "scheduled-maintenance",
    "target-lifecycle-state",
]
#: ``new``: it appeared; ``changed``: its content is not what it was (see ``previous``).
Change = Literal["new", "changed"]

#: Auto Scaling's steady state: not news when found at start.
STEADY_LIFECYCLE_STATE: Final = "InService"


# -- the events ------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    if moment.microsecond:
        return moment.isoformat().replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_value(value: object) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return _iso(value)
    from ec2imds.models._base import dump

    return dump(value)  # type: ignore[arg-type]


@dataclass(frozen=True, **SLOTS)
class Event(Generic[T]):
    """Something a watch saw appear (``change="new"``) or change (``"changed"``).

    ``value`` is validated by the models, ``first_seen`` is when this watch first read it
    (aware UTC; not when IMDS published it), ``existing`` says it was already there at the
    watch's first read. ``kind``, ``category`` and ``path`` are fixed per class.
    """

    kind: ClassVar[EventKind]
    category: ClassVar[EventCategory]
    path: ClassVar[str]

    value: T
    first_seen: datetime
    change: Change = "new"
    previous: T | None = None
    existing: bool = False

    def to_json(self) -> str:
        """The event as one line of JSON, the line ``ec2imds --watch`` prints (no newline):
        :meth:`to_dict` dumped, non-ASCII kept as is."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-compatible data (what :meth:`to_json` writes)::

        {"kind": "spot-instance-action", "category": "spot",
         "path": "meta-data/spot/instance-action", "change": "new", "existing": false,
         "first_seen": "2024-05-01T11:58:00.123456Z",
         "value": {"action": "terminate", "time": "2024-05-01T12:00:00Z"}, "previous": null}

        Values are dumped as the models dump them (IMDS's own keys and time formats).
        """
        return {
            "kind": self.kind,
            "category": self.category,
            "path": self.path,
            "change": self.change,
            "existing": self.existing,
            "first_seen": _iso(self.first_seen),
            "value": _json_value(self.value),
            "previous": _json_value(self.previous),
        }

    @classmethod
    def news_at_start(cls, value: object) -> bool:
        """Whether ``value``, found at the watch's first read, is reported (``existing``)."""
        return True


@dataclass(frozen=True, **SLOTS)
class SpotInstanceActionEvent(Event["SpotInstanceAction"]):
    """A spot interruption notice: ``value.action`` (``terminate``, ``stop``,
    ``hibernate``) at ``value.time``, about two minutes after it appears."""

    kind: ClassVar[Literal["spot-instance-action"]] = "spot-instance-action"
    category: ClassVar[Literal["spot"]] = "spot"
    path: ClassVar[str] = "meta-data/spot/instance-action"


@dataclass(frozen=True, **SLOTS)
class SpotTerminationTimeEvent(Event[datetime]):
    """The older form of the notice: when a spot instance will be terminated.

    A value that is not a time means "not marked" (AWS) and is no event. A time already
    past can be stale (a termination that failed): compare it with the clock.
    """

    kind: ClassVar[Literal["spot-termination-time"]] = "spot-termination-time"
    category: ClassVar[Literal["spot"]] = "spot"
    path: ClassVar[str] = "meta-data/spot/termination-time"


@dataclass(frozen=True, **SLOTS)
class RebalanceRecommendationEvent(Event["RebalanceRecommendation"]):
    """A rebalance recommendation: this spot instance is at elevated risk of interruption
    (``value.notice_time``), usually before the interruption notice."""

    kind: ClassVar[Literal["rebalance-recommendation"]] = "rebalance-recommendation"
    category: ClassVar[Literal["rebalance"]] = "rebalance"
    path: ClassVar[str] = "meta-data/events/recommendations/rebalance"


@dataclass(frozen=True, **SLOTS)
class ScheduledMaintenanceEvent(Event["MaintenanceEvent"]):
    """A scheduled maintenance event, new or changed (matched by ``EventId``): reboot,
    stop, retirement... between ``value.not_before`` and ``value.not_after``."""

    kind: ClassVar[Literal["scheduled-maintenance"]] = "scheduled-maintenance"
    category: ClassVar[Literal["maintenance"]] = "maintenance"
    path: ClassVar[str] = "meta-data/events/maintenance/scheduled"


@dataclass(frozen=True, **SLOTS)
class LifecycleStateEvent(Event[str]):
    """The Auto Scaling target lifecycle state: ``Terminated``, ``Standby``,
    ``Warmed:Stopped``, ``InService``... (a change is ``change="changed"``)."""

    kind: ClassVar[Literal["target-lifecycle-state"]] = "target-lifecycle-state"
    category: ClassVar[Literal["autoscaling"]] = "autoscaling"
    path: ClassVar[str] = "meta-data/autoscaling/target-lifecycle-state"

    @classmethod
    def news_at_start(cls, value: object) -> bool:
        return value != STEADY_LIFECYCLE_STATE


#: What a watch yields; ``isinstance`` (or ``match`` from 3.10 on) or ``event.kind`` narrows it.
WatchEvent = Union[  # evaluated at run time: no X | Y before Python 3.10
    SpotInstanceActionEvent,
    SpotTerminationTimeEvent,
    RebalanceRecommendationEvent,
    ScheduledMaintenanceEvent,
    LifecycleStateEvent,
]

_EVENT_CLASSES: Final[tuple[type[WatchEvent], ...]] = (
    SpotInstanceActionEvent,
    SpotTerminationTimeEvent,
    RebalanceRecommendationEvent,
    ScheduledMaintenanceEvent,
    LifecycleStateEvent,
)
#: The paths each category reads, in order.
PATHS: Final[Mapping[EventCategory, tuple[str, ...]]] = {
    category: tuple(c.path for c in _EVENT_CLASSES if c.category == category)
    for category in EVENT_CATEGORIES
}
_BY_PATH: Final[Mapping[str, type[WatchEvent]]] = {c.path: c for c in _EVENT_CLASSES}


# -- change detection, without I/O -----------------------------------------------------

_ABSENT: Final = object()


class EventTracker:
    """Change detection: :meth:`feed` one poll's bodies, get the events to emit.

    * A path missing from a poll (its read failed, or it was not due) says nothing.
    * A 404 (``None``), or an empty maintenance list, says nothing either: an event is
      never "gone", so one that vanishes and comes back is not new again.
    * A value is compared with the last one seen under the same key (the path; for
      maintenance, the path and the ``EventId``): an unseen key is ``new``, a different
      value ``changed``, the same value nothing.
    * A path's first successful read is the baseline: with ``existing`` its values are
      reported (flagged ``existing``) when the event class calls them news at start;
      otherwise they are recorded silently.

    Feeding the same poll twice never emits anything the second time.
    """

    def __init__(self, *, existing: bool = True) -> None:
        self.existing = existing
        self._last: dict[tuple[str, str], object] = {}
        self._read: set[str] = set()

    def feed(
        self, bodies: Mapping[str, bytes | None], now: datetime | None = None
    ) -> list[WatchEvent]:
        """The events that ``bodies`` (path -> body, ``None`` for 404) bring.

        Raises :class:`~ec2imds.errors.IMDSValidationError` for a body that does not fit
        its model (and then changes nothing), ``ValueError`` for a path no event has.
        """
        unknown = sorted(set(bodies) - set(_BY_PATH))
        if unknown:
            raise ValueError(f"no watch event for {', '.join(unknown)}")
        seen = now if now is not None else datetime.now(timezone.utc)
        readings = [
            (cls, _items(cls, bodies[cls.path])) for cls in _EVENT_CLASSES if cls.path in bodies
        ]
        events: list[WatchEvent] = []
        for cls, items in readings:
            first = cls.path not in self._read
            self._read.add(cls.path)
            for key, value in items:
                previous = self._last.get(key, _ABSENT)
                if previous == value:
                    continue
                self._last[key] = value
                if previous is not _ABSENT:
                    events.append(
                        cls(value=value, first_seen=seen, change="changed", previous=previous)  # type: ignore[arg-type]
                    )
                elif not first or (self.existing and cls.news_at_start(value)):
                    events.append(cls(value=value, first_seen=seen, existing=first))  # type: ignore[arg-type]
        return events


def _items(cls: type[WatchEvent], body: bytes | None) -> list[tuple[tuple[str, str], object]]:
    """``(key, value)`` pairs a body holds: none for 404, one per maintenance event."""
    if body is None:
        return []
    from ec2imds._category_json import validate_at

    value = validate_at(cls.path, body)
    if value is None:
        return []
    if cls is ScheduledMaintenanceEvent:
        # One value per EventId (the last, should IMDS ever list one twice), so that the
        # same poll fed again can never emit again.
        return list({_maintenance_key(item): item for item in value}.items())
    if cls is SpotTerminationTimeEvent and not isinstance(value, datetime):
        return []  # "not a time value": not marked for termination (AWS)
    return [((cls.path, ""), value)]


def _maintenance_key(item: MaintenanceEvent) -> tuple[str, str]:
    if item.event_id:
        return (ScheduledMaintenanceEvent.path, item.event_id)
    # No EventId (not seen on AWS): the whole event is its identity.
    return (ScheduledMaintenanceEvent.path, json.dumps(_json_value(item), sort_keys=True))


# -- the schedule, without I/O ---------------------------------------------------------


class Get(NamedTuple):
    """Ask: read ``path``; the answer is its body, ``None`` for 404 (an IMDSError is
    thrown into the flow)."""

    path: str


WatchStep = Union[Get, Sleep, Emit]  # evaluated at run time: no X | Y before 3.10
Reply = Optional[bytes]


def is_transient(exc: IMDSError) -> bool:
    """Whether a watch retries after ``exc`` (within its grace period)."""
    if isinstance(exc, IMDSUnavailable):
        return True
    if isinstance(exc, RedirectRefused):
        return False
    if isinstance(exc, (IMDSHTTPError, TokenError)):
        status = exc.status
        return status is not None and (status in (401, 429) or status >= 500)
    return False


def _categories(categories: Iterable[str]) -> tuple[EventCategory, ...]:
    wanted = set()
    for name in categories:
        if name not in EVENT_CATEGORIES:
            raise IMDSConfigError(
                f"{name!r}: unknown watch category (one of: {', '.join(EVENT_CATEGORIES)})"
            )
        wanted.add(name)
    return tuple(c for c in EVENT_CATEGORIES if c in wanted) if wanted else EVENT_CATEGORIES


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise IMDSConfigError(f"{name}: {value!r} is not a number of seconds")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise IMDSConfigError(f"{name}: {value!r} must be a positive number of seconds")
    return seconds


def _intervals(
    categories: tuple[EventCategory, ...], interval: float | Mapping[EventCategory, float] | None
) -> dict[EventCategory, float]:
    if interval is None or isinstance(interval, Mapping):
        given = dict(interval or {})
        unknown = sorted(set(given) - set(EVENT_CATEGORIES))
        if unknown:
            raise IMDSConfigError(
                f"interval: {', '.join(map(repr, unknown))}: unknown watch category"
            )
        return {
            c: _positive(f"interval[{c!r}]", given.get(c, DEFAULT_INTERVALS[c])) for c in categories
        }
    seconds = _positive("interval", interval)
    return dict.fromkeys(categories, seconds)


def watch_flow(
    *categories: EventCategory,
    interval: float | Mapping[EventCategory, float] | None = None,
    existing: bool = True,
    grace: float = DEFAULT_GRACE,
    clock: Callable[[], float] = time.monotonic,
) -> Generator[WatchStep, Reply, None]:
    """The whole watch as a flow, without I/O: :class:`Get`, ``Sleep`` or ``Emit(event)``.

    Arguments are checked here, before the first step (``IMDSConfigError``). The
    generator never returns; it raises the IMDSError that ends the watch.
    """
    chosen = _categories(categories)
    intervals = _intervals(chosen, interval)
    grace = _positive("grace", grace)
    return _flow(chosen, intervals, EventTracker(existing=existing), grace, clock)


def _flow(
    categories: tuple[EventCategory, ...],
    intervals: Mapping[EventCategory, float],
    tracker: EventTracker,
    grace: float,
    clock: Callable[[], float],
) -> Generator[WatchStep, Reply, None]:
    start = clock()
    due = dict.fromkeys(categories, start)
    last_ok = dict.fromkeys(categories, start)
    failures = dict.fromkeys(categories, 0)
    reached = False  # IMDS has answered this watch at least once
    while True:
        now = clock()
        ready = [c for c in categories if due[c] <= now]
        if not ready:
            yield Sleep(min(due.values()) - now)
            continue
        for category in ready:
            began = clock()
            bodies: dict[str, bytes | None] = {}
            error: IMDSError | None = None
            for path in PATHS[category]:
                try:
                    bodies[path] = yield Get(path)
                except IMDSError as exc:
                    error = exc
                    break
            if error is None:
                reached = True
                failures[category] = 0
                last_ok[category] = clock()
                due[category] = began + intervals[category]
            else:
                due[category] = _after_failure(
                    category, error, reached, failures, last_ok[category], intervals, grace, clock
                )
            for event in tracker.feed(bodies):
                yield Emit(event)


def _add_note(error: BaseException, note: str) -> None:
    """``error.add_note(note)``: before Python 3.11, which added it, the same ``__notes__``
    list (the command line prints it; tracebacks show it from 3.11 on)."""
    if sys.version_info >= (3, 11):
        error.add_note(note)
    else:
        error.__dict__.setdefault("__notes__", []).append(note)


def _after_failure(
    category: EventCategory,
    error: IMDSError,
    reached: bool,
    failures: dict[EventCategory, int],
    last_ok: float,
    intervals: Mapping[EventCategory, float],
    grace: float,
    clock: Callable[[], float],
) -> float:
    """When to read ``category`` again after ``error``; raises it if the watch ends."""
    if not is_transient(error) or (not reached and isinstance(error, IMDSUnavailable)):
        raise error
    now = clock()
    left = grace - (now - last_ok)
    if left <= 0:
        _add_note(
            error,
            f"ec2imds watch: no successful read of {category} for {now - last_ok:.0f} s "
            f"(grace period {grace:g} s)",
        )
        raise error
    failures[category] += 1
    interval = intervals[category]
    delay = min(interval * 2.0 ** (failures[category] - 1), max(interval, BACKOFF_CAP), left)
    log.info("watch: %s: %s; next read in %.3g s", category, error, delay)
    return now + delay


# -- the drivers -----------------------------------------------------------------------


def watch_events(
    get: Callable[[str], bytes | None],
    *categories: EventCategory,
    interval: float | Mapping[EventCategory, float] | None = None,
    existing: bool = True,
    grace: float = DEFAULT_GRACE,
) -> Generator[WatchEvent, None, None]:
    """The sync driver: events from polling with ``get(path) -> body | None (404)``.

    ``categories``: ``spot``, ``rebalance``, ``maintenance``, ``autoscaling`` (default:
    all). Checks its arguments at once; break out of the loop to stop.
    """
    flow = watch_flow(*categories, interval=interval, existing=existing, grace=grace)
    return cast("Generator[WatchEvent, None, None]", events(flow, IO(lambda ask: get(ask.path))))


def awatch_events(
    get: Callable[[str], Awaitable[bytes | None]],
    *categories: EventCategory,
    interval: float | Mapping[EventCategory, float] | None = None,
    existing: bool = True,
    grace: float = DEFAULT_GRACE,
) -> AsyncGenerator[WatchEvent, None]:
    """The async driver (see :func:`watch_events`); cancel the task or break to stop."""
    flow = watch_flow(*categories, interval=interval, existing=existing, grace=grace)
    return cast("AsyncGenerator[WatchEvent, None]", aevents(flow, IO(lambda ask: get(ask.path))))
