"""The simulator's control surface, delegated to the one core that does the work.

:class:`~ec2imds.simulator.IMDSSimulator` (sockets) and :class:`ec2imds.testing.FakeIMDS`
(no sockets) each hold a :class:`~ec2imds.simulator.protocol.SimulatorCore` as ``core``.
:class:`SimulatorControls` gives both the same methods, each a one-line call into the
core's part that owns it: the tree (``core.editor``), the events (``core.events``), the
faults, the counters and the tokens (the core itself).  Nothing here keeps state.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime

from ec2imds.catalog import Node
from ec2imds.simulator.faults import Faults
from ec2imds.simulator.protocol import SimResponse, SimulatorCore
from ec2imds.simulator.stats import Stats

__all__ = ["SimulatorControls"]


class SimulatorControls:
    """The methods of a simulator, delegated to :attr:`core`."""

    #: The simulator's one core: the tree, events, faults, counters and tokens.
    core: SimulatorCore

    # -- the protocol ------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str]) -> SimResponse:
        """Answer one request (``core.handle``): what the server and the fake carry out."""
        return self.core.handle(method, path, headers)

    @property
    def allow_v1(self) -> bool:
        """Whether token-less GETs are answered (IMDSv1)."""
        return self.core.allow_v1

    @allow_v1.setter
    def allow_v1(self, value: bool) -> None:
        self.core.allow_v1 = value

    @property
    def disabled(self) -> bool:
        """``HttpEndpoint=disabled``: every request is answered 403."""
        return self.core.disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        self.core.disabled = value

    @property
    def faults(self) -> Faults:
        """Fault settings (see :class:`~ec2imds.simulator.faults.Faults`)."""
        return self.core.faults

    @property
    def stats(self) -> Stats:
        """Request counters (see :class:`~ec2imds.simulator.stats.Stats`)."""
        return self.core.stats

    @property
    def lock(self) -> threading.RLock:
        """The one lock guarding the tree, tokens, schedule, stats and faults."""
        return self.core.lock

    # -- tokens ------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid now."""
        self.core.expire_tokens()

    @property
    def live_tokens(self) -> int:
        """Tokens issued and not yet expired."""
        return self.core.live_tokens

    # -- the tree (core.editor) --------------------------------------------------------

    def snapshot(self) -> dict[str, Node]:
        """A deep copy of the tree as served now (scheduled changes that are due applied)."""
        return self.core.editor.snapshot()

    def get(self, path: str) -> Node | None:
        """The node at ``path`` (a copy), or ``None`` when absent."""
        return self.core.editor.get(path)

    def set(self, path: str, value: Node) -> None:
        """Set the node at ``path`` (``"meta-data/spot/instance-action"``), creating
        directories as needed.  Raises ``ValueError`` if a parent is a leaf."""
        self.core.editor.set(path, value)

    def delete(self, path: str) -> bool:
        """Remove the node at ``path``; returns whether there was one."""
        return self.core.editor.delete(path)

    def schedule(self, after: float, path: str, value: Node | None) -> None:
        """Set (or, with ``None``, delete) ``path`` ``after`` seconds from now, applied
        before the first answer at or after that time (no timer thread runs)."""
        self.core.editor.schedule(after, path, value)

    @property
    def pending_changes(self) -> int:
        """Scheduled changes not applied yet."""
        return self.core.editor.pending_changes

    # -- the events (core.events) ------------------------------------------------------

    def inject_spot_interruption(
        self, action: str = "terminate", after: float = 0.0, *, notice: float = 120.0
    ) -> str:
        """Mark the instance for interruption ``after`` seconds from now; returns the
        interruption time (see :meth:`EventInjector.inject_spot_interruption
        <ec2imds.simulator.events.EventInjector.inject_spot_interruption>`)."""
        return self.core.events.inject_spot_interruption(action, after, notice=notice)

    def inject_rebalance(self, after: float = 0.0) -> str:
        """Emit a rebalance recommendation ``after`` seconds from now; returns its time."""
        return self.core.events.inject_rebalance(after)

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
        """Append a scheduled maintenance event ``after`` seconds from now; returns the
        event (see :meth:`EventInjector.inject_maintenance
        <ec2imds.simulator.events.EventInjector.inject_maintenance>`)."""
        return self.core.events.inject_maintenance(
            after,
            code,
            description=description,
            not_before=not_before,
            not_after=not_after,
            not_before_deadline=not_before_deadline,
            state=state,
            event_id=event_id,
        )

    def set_lifecycle_state(self, state: str, after: float = 0.0) -> None:
        """Set ``meta-data/autoscaling/target-lifecycle-state`` (e.g. ``Terminated``)."""
        self.core.events.set_lifecycle_state(state, after)
