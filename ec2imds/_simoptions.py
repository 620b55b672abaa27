"""The simulator's command-line options that ``ec2imds --simulate`` takes too, defined
once: the instance tree to serve and the scheduled events.

Standard library only: ``ec2imds`` builds its parser with them at every start, and
importing :mod:`ec2imds.simulator` (a server) there would cost every call. The
simulator's own command line (:mod:`ec2imds.simulator.cli`) adds the same options.
"""

from __future__ import annotations

import argparse

__all__ = ["EVENT_FLAGS", "add_event_options", "add_tree_options", "non_negative"]

#: The event flags, by argparse dest: each schedules one event, SECONDS after start.
EVENT_FLAGS = {
    "spot_interruption_after": "--spot-interruption-after",
    "rebalance_after": "--rebalance-after",
    "maintenance_after": "--maintenance-after",
    "lifecycle_after": "--lifecycle-after",
}

MAINTENANCE_CODES = (
    "instance-reboot",
    "system-reboot",
    "system-maintenance",
    "instance-retirement",
    "instance-stop",
)


def non_negative(text: str) -> float:
    """A number of seconds, 0 or more (an argparse ``type``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


# ``group``: a parser or one of its argument groups (argparse's common base class).
def add_tree_options(
    group: argparse._ActionsContainer, flag: str = "--tree", dest: str = "tree"
) -> list[argparse.Action]:
    """``FLAG FILE`` (the instance to serve) and ``--allow-invalid-tree``; the actions."""
    tree = group.add_argument(
        flag,
        dest=dest,
        metavar="FILE",
        help="JSON instance tree to serve, such as a saved 'ec2imds --tree' (default: the "
        "built-in instance); refused when its values fail the models",
    )
    allow = group.add_argument(
        "--allow-invalid-tree",
        action="store_true",
        help=f"serve the {flag} FILE even when its values fail the models (fault tests)",
    )
    return [tree, allow]


#: Each event flag, what it schedules, and the option that shapes its event (flag,
#: choices or metavar, default, help).
_EVENTS: tuple[tuple[str, str, tuple[str, tuple[str, ...] | str, str, str]], ...] = (
    (
        "spot_interruption_after",
        "a spot interruption notice (instance-action, termination-time), 2 min ahead",
        ("--spot-action", ("terminate", "stop", "hibernate"), "terminate", "the notice's action"),
    ),
    ("rebalance_after", "a rebalance recommendation", ("", "", "", "")),
    (
        "maintenance_after",
        "a scheduled maintenance event, a day ahead",
        ("--maintenance-code", MAINTENANCE_CODES, "system-reboot", "the maintenance event's code"),
    ),
    (
        "lifecycle_after",
        "an Auto Scaling target lifecycle state change",
        ("--lifecycle-state", "STATE", "Terminated", "the new target lifecycle state"),
    ),
)


def add_event_options(group: argparse._ActionsContainer) -> list[argparse.Action]:
    """The four event flags (:data:`EVENT_FLAGS`) and the three that shape their events;
    the actions."""
    actions = []
    for key, what, (flag, values, default, help_) in _EVENTS:
        actions.append(
            group.add_argument(EVENT_FLAGS[key], type=non_negative, metavar="SECONDS", help=what)
        )
        if not flag:
            continue
        text = f"{help_} (default {default})"
        if isinstance(values, tuple):
            actions.append(group.add_argument(flag, choices=values, default=default, help=text))
        else:
            actions.append(group.add_argument(flag, metavar=values, default=default, help=text))
    return actions
