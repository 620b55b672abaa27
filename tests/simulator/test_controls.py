"""The simulator by composition (``ec2imds/simulator/controls.py``): the server and the
in-process fake each hold one core and offer the same controls, each a call into it."""

from __future__ import annotations

import http.client
import inspect
from collections.abc import Mapping

import pytest

from ec2imds.simulator import (
    EventInjector,
    IMDSSimulator,
    SimResponse,
    SimulatorControls,
    SimulatorCore,
    TreeEditor,
)
from ec2imds.testing import FakeIMDS

#: What the core's parts offer that the server and the fake must offer too.
EDITOR = ("get", "set", "delete", "schedule", "snapshot", "pending_changes")
EVENTS = ("inject_spot_interruption", "inject_rebalance", "inject_maintenance")


def test_the_server_and_the_fake_hold_a_core_instead_of_being_one() -> None:
    for cls in (IMDSSimulator, FakeIMDS):
        assert cls.__mro__ == (cls, SimulatorControls, object)
        assert not issubclass(cls, SimulatorCore)
    fake = FakeIMDS(seed=3)
    assert isinstance(fake.core, SimulatorCore)
    assert fake.faults is fake.core.faults
    assert fake.stats is fake.core.stats
    assert fake.lock is fake.core.lock is fake.core.editor.lock


def test_the_controls_have_the_signatures_of_the_parts_they_call() -> None:
    for part, names in ((TreeEditor, EDITOR), (EventInjector, (*EVENTS, "set_lifecycle_state"))):
        for name in names:
            theirs = getattr(part, name)
            ours = getattr(SimulatorControls, name)
            if isinstance(theirs, property):
                assert isinstance(ours, property), name
                continue
            assert inspect.signature(ours) == inspect.signature(theirs), name


def test_a_control_changes_the_core_it_delegates_to() -> None:
    now = [0.0]
    fake = FakeIMDS({"meta-data": {"instance-id": "i-1"}}, clock=lambda: now[0])
    fake.set("meta-data/placement/region", "eu-west-1")
    assert fake.core.editor.get("meta-data/placement/region") == "eu-west-1"
    fake.schedule(10, "meta-data/placement/region", None)
    assert fake.pending_changes == fake.core.editor.pending_changes == 1
    fake.inject_rebalance(after=5)
    now[0] = 10.0
    assert fake.get("meta-data/placement/region") is None
    assert fake.core.editor.get("meta-data/events/recommendations/rebalance") is not None
    fake.allow_v1 = True
    assert fake.core.allow_v1
    answer = fake.core.handle("GET", "/latest/meta-data/instance-id", {})
    assert (answer.status, answer.body) == (200, b"i-1")


def test_the_server_hands_each_request_to_its_handle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The socket server asks ``sim.handle`` per request (a test can wrap it while it
    serves), and counts what the core answered."""
    with IMDSSimulator({"meta-data": {"instance-id": "i-2"}}, allow_v1=True) as sim:
        seen: list[str] = []
        handle = sim.handle

        def recording(method: str, path: str, headers: Mapping[str, str]) -> SimResponse:
            seen.append(path)
            return handle(method, path, headers)

        monkeypatch.setattr(sim, "handle", recording)
        conn = http.client.HTTPConnection(sim.host, sim.port, timeout=30)
        try:
            conn.request("GET", "/latest/meta-data/instance-id")
            assert conn.getresponse().read() == b"i-2"
        finally:
            conn.close()
        assert seen == ["/latest/meta-data/instance-id"]
        assert sim.stats.count("/latest/meta-data/instance-id") == 1
