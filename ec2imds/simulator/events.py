"""The simulator's events: spot interruption, rebalance, maintenance, Auto Scaling state.

:class:`EventInjector` writes each event where EC2 puts it, in EC2's formats, now or
``after`` seconds (a scheduled change of the :class:`~ec2imds.simulator.editing.TreeEditor`
it is given).  Times
are wall-clock: ISO ``Z`` for spot and rebalance notices (:func:`format_iso_z`), IMDS's
``21 Jan 2019 09:00:43 GMT`` for maintenance events (:func:`format_imds_time`).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

from ec2imds.simulator.editing import TreeEditor

__all__ = ["EventInjector", "format_imds_time", "format_iso_z"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MAINTENANCE_DESCRIPTIONS = {
    "instance-reboot": "scheduled reboot",
    "system-reboot": "scheduled reboot",
    "system-maintenance": "scheduled maintenance",
    "instance-retirement": "scheduled retirement",
    "instance-stop": "scheduled stop",
}


def format_iso_z(moment: datetime) -> str:
    """``2024-05-01T12:00:00Z``: the form of spot and rebalance notices."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_imds_time(moment: datetime) -> str:
    """``21 Jan 2019 09:00:43 GMT``: the form of maintenance event times (locale-free)."""
    m = moment.astimezone(timezone.utc)
    return f"{m.day:02d} {_MONTHS[m.month - 1]} {m.year} {m:%H:%M:%S} GMT"


class EventInjector:
    """The events an instance sees, injected into the tree of ``editor``.

    ``seed`` makes the generated maintenance event ids reproducible.
    """

    def __init__(self, editor: TreeEditor, *, seed: int = 0) -> None:
        self._editor = editor
        self._rng = random.Random(seed)

    def inject_spot_interruption(
        self, action: str = "terminate", after: float = 0.0, *, notice: float = 120.0
    ) -> str:
        """Mark the instance for interruption ``after`` seconds from now.

        Sets ``meta-data/spot/instance-action`` to ``{"action": action, "time": T}`` and
        ``meta-data/spot/termination-time`` to ``T``, where ``T`` (ISO ``Z``) is ``notice``
        seconds (2 minutes) after the notice appears.  Returns ``T``.
        """
        when = format_iso_z(datetime.now(timezone.utc) + timedelta(seconds=after + notice))
        doc = json.dumps({"action": action, "time": when})

        def apply() -> None:
            self._editor.set_parts(["meta-data", "spot", "instance-action"], doc)
            self._editor.set_parts(["meta-data", "spot", "termination-time"], when)

        self._editor.schedule_action(after, apply)
        return when

    def inject_rebalance(self, after: float = 0.0) -> str:
        """Emit a rebalance recommendation ``after`` seconds from now: sets
        ``meta-data/events/recommendations/rebalance`` to ``{"noticeTime": T}``; returns T."""
        when = format_iso_z(datetime.now(timezone.utc) + timedelta(seconds=after))
        doc = json.dumps({"noticeTime": when})
        self._editor.schedule_action(
            after,
            lambda: self._editor.set_parts(
                ["meta-data", "events", "recommendations", "rebalance"], doc
            ),
        )
        return when

    def inject_maintenance(
        self,
        after: float = 0.0,
        code: str = "system-reboot",
        *,
        description: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        not_before_deadline: datetime | None = None,
        state: str = "active",
        event_id: str | None = None,
    ) -> dict[str, str]:
        """Append a scheduled maintenance event ``after`` seconds from now.

        The event goes into the JSON array at ``meta-data/events/maintenance/scheduled``
        (created if absent), with IMDS's time format (``21 Jan 2019 09:00:43 GMT``).
        Defaults: ``NotBefore`` one day after the event appears, ``NotAfter`` two hours
        later, no ``NotBeforeDeadline``, an ``EventId`` from the seeded generator.
        Returns the event object.
        """
        start = not_before or datetime.now(timezone.utc) + timedelta(seconds=after, days=1)
        end = not_after or start + timedelta(hours=2)
        with self._editor.lock:
            eid = event_id or f"instance-event-{self._rng.getrandbits(68):017x}"
        event = {
            "NotBefore": format_imds_time(start),
            "Code": code,
            "Description": description or _MAINTENANCE_DESCRIPTIONS.get(code, "scheduled event"),
            "EventId": eid,
            "NotAfter": format_imds_time(end),
            "State": state,
        }
        if not_before_deadline is not None:
            event["NotBeforeDeadline"] = format_imds_time(not_before_deadline)
        parts = ["meta-data", "events", "maintenance", "scheduled"]

        def apply() -> None:
            events: list[object] = []
            current = self._editor.node_at(parts)
            if isinstance(current, (str, bytes)):
                try:
                    loaded = json.loads(current)
                except ValueError:
                    loaded = None
                if isinstance(loaded, list):
                    events = loaded
            events.append(event)
            self._editor.set_parts(parts, json.dumps(events, indent=2))

        self._editor.schedule_action(after, apply)
        return dict(event)

    def set_lifecycle_state(self, state: str, after: float = 0.0) -> None:
        """Set ``meta-data/autoscaling/target-lifecycle-state`` (e.g. ``Terminated``)."""
        self._editor.schedule_action(
            after,
            lambda: self._editor.set_parts(
                ["meta-data", "autoscaling", "target-lifecycle-state"], state
            ),
        )
