"""An embedded IMDS simulator: the real protocol on loopback, with faults and live events.

* :class:`IMDSSimulator`: the server (``with IMDSSimulator(tree) as sim: sim.url``).
* :class:`SimulatorCore`: the same behaviour without sockets; the server and
  :class:`ec2imds.testing.FakeIMDS` each hold one (``sim.core``) and offer its controls
  (:class:`SimulatorControls`).  The core is made of parts, a module each:
  :mod:`~ec2imds.simulator.protocol` (the IMDS protocol, the core itself),
  :mod:`~ec2imds.simulator.editing` (the tree, edited live: :class:`TreeEditor`),
  :mod:`~ec2imds.simulator.events` (spot, rebalance, maintenance: :class:`EventInjector`),
  :mod:`~ec2imds.simulator.faults`, :mod:`~ec2imds.simulator.stats`.
* :mod:`ec2imds.simulator.tree`: the tree format and its JSON file form;
  :func:`default_tree` (:mod:`ec2imds.simulator.instance`): the default instance, built
  from the catalog's examples and signed with the simulator's TEST keys.
* :class:`DeadListener`: an address where no connection completes (an endpoint not
  enabled, such as IPv6's by default).
* ``python -m ec2imds.simulator --help``: the command line.
"""

from __future__ import annotations

from ec2imds.catalog import Node
from ec2imds.simulator.controls import SimulatorControls
from ec2imds.simulator.editing import TreeEditor
from ec2imds.simulator.events import EventInjector, format_imds_time, format_iso_z
from ec2imds.simulator.faults import DEFAULT_ERROR_STATUSES, Faults
from ec2imds.simulator.instance import default_tree
from ec2imds.simulator.listeners import DeadListener
from ec2imds.simulator.protocol import METADATA_VERSIONS, SimResponse, SimulatorCore
from ec2imds.simulator.server import IMDSSimulator
from ec2imds.simulator.stats import Stats
from ec2imds.simulator.tree import (
    TreeError,
    TreeLike,
    copy_tree,
    dump_tree,
    load_tree,
    tree_from_json,
    tree_to_json,
)

__all__ = [
    "DEFAULT_ERROR_STATUSES",
    "METADATA_VERSIONS",
    "DeadListener",
    "EventInjector",
    "Faults",
    "IMDSSimulator",
    "Node",
    "SimResponse",
    "SimulatorControls",
    "SimulatorCore",
    "Stats",
    "TreeEditor",
    "TreeError",
    "TreeLike",
    "copy_tree",
    "default_tree",
    "dump_tree",
    "format_imds_time",
    "format_iso_z",
    "load_tree",
    "tree_from_json",
    "tree_to_json",
]
