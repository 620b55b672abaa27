"""``python -m ec2imds.simulator``: serve an IMDS on loopback until SIGINT or SIGTERM.

Events can be scheduled from the command line, to try ``ec2imds --watch`` without
Python: ``--spot-interruption-after 10`` serves a spot interruption notice 10 s after
start (likewise ``--rebalance-after``, ``--maintenance-after``, ``--lifecycle-after``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ec2imds._simoptions import add_event_options, add_tree_options, non_negative
from ec2imds.catalog import Node
from ec2imds.simulator.server import IMDSSimulator
from ec2imds.simulator.tree import TreeError, load_tree, tree_file_errors

__all__ = [
    "InvalidTree",
    "build_parser",
    "exposure_warning",
    "main",
    "schedule_events",
    "tree_to_serve",
]

PROG = "ec2imds.simulator"


def exposure_warning(host: str) -> str | None:
    """Why binding ``host`` deserves a warning, or None for a loopback address.

    The simulator answers anyone who connects: its fake IAM credentials, tokens and user
    data, with no hop limit. On loopback only this machine reaches it; bound to
    ``0.0.0.0``, ``::`` or any other address, so can every machine that reaches this one,
    and a client there that is pointed at it (or tricked into it) takes its answers for
    its own instance's."""
    import ipaddress

    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return None
    try:
        if ipaddress.ip_address(name).is_loopback:
            return None
        kind = "every interface" if ipaddress.ip_address(name).is_unspecified else "not loopback"
    except ValueError:
        kind = "a name, maybe not loopback" if name else "every interface"
    return (
        f"--host {host!r} ({kind}): other machines can reach this simulator and read its "
        "fake credentials, tokens and user data; bind 127.0.0.1 unless that is the point"
    )


class InvalidTree(TreeError):
    """A ``--tree`` file whose values fail the models; ``errors`` names each path."""

    def __init__(self, file: str, errors: list[str]) -> None:
        self.file = file
        self.errors = errors
        super().__init__(
            f"{file}: {len(errors)} value(s) fail the models (each named above; "
            "--allow-invalid-tree serves it anyway)"
        )


def tree_to_serve(file: str, *, allow_invalid: bool) -> dict[str, Node]:
    """The tree of ``--tree FILE``, once the models accept its values (as ``ec2imds
    --validate`` checks a saved dump); :class:`InvalidTree` otherwise, unless
    ``allow_invalid`` (``--allow-invalid-tree``: serve it anyway, for fault tests)."""
    tree = load_tree(file)
    if not allow_invalid:
        errors = tree_file_errors(file)
        if errors:
            raise InvalidTree(file, errors)
    return tree


def _rate(text: str) -> float:
    value = non_negative(text)
    if value > 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0..1, not {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be within 0..65535, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The simulator's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m ec2imds.simulator",
        description="Serve a simulated EC2 Instance Metadata Service (IMDSv2) on loopback.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1); any other than loopback is warned about",
    )
    parser.add_argument(
        "--port", type=_port, default=1338, help="port to bind, 0 for any (default 1338)"
    )
    add_tree_options(parser)
    parser.add_argument(
        "--allow-v1", action="store_true", help="answer GETs without a token (IMDSv1)"
    )
    parser.add_argument(
        "--latency-ms", type=non_negative, default=0.0, metavar="N", help="delay every answer"
    )
    parser.add_argument(
        "--error-rate",
        type=_rate,
        default=0.0,
        metavar="F",
        help="share (0..1) of requests answered 500/503/429",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="keep connections open between requests (EC2 closes them after every answer)",
    )
    parser.add_argument(
        "--disabled",
        action="store_true",
        help="answer 403 to everything, as an instance with HttpEndpoint=disabled",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    events = parser.add_argument_group(
        "events", "scheduled SECONDS after start (0: at once), for ec2imds --watch"
    )
    add_event_options(events)
    return parser


def schedule_events(sim: IMDSSimulator, args: argparse.Namespace) -> None:
    """The events asked for on the command line (:func:`ec2imds._simoptions.add_event_options`),
    through the simulator's own machinery."""
    if args.spot_interruption_after is not None:
        sim.inject_spot_interruption(args.spot_action, args.spot_interruption_after)
    if args.rebalance_after is not None:
        sim.inject_rebalance(args.rebalance_after)
    if args.maintenance_after is not None:
        sim.inject_maintenance(args.maintenance_after, args.maintenance_code)
    if args.lifecycle_after is not None:
        sim.set_lifecycle_state(args.lifecycle_state, args.lifecycle_after)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGINT/SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    tree: dict[str, Node] | None = None
    warning = exposure_warning(args.host)
    if warning is not None:
        print(f"{PROG}: warning: {warning}", file=sys.stderr, flush=True)
    try:
        if args.tree is not None:
            tree = tree_to_serve(args.tree, allow_invalid=args.allow_invalid_tree)
        sim = IMDSSimulator(
            tree,
            host=args.host,
            port=args.port,
            allow_v1=args.allow_v1,
            latency=args.latency_ms / 1000.0,
            seed=args.seed,
            verbose=args.verbose,
            keep_alive=args.keep_alive,
            disabled=args.disabled,
        )
        sim.faults.error_rate = args.error_rate
        schedule_events(sim, args)
        sim.start()
    except InvalidTree as exc:
        for error in exc.errors:
            print(f"{PROG}: error: {exc.file}: {error}", file=sys.stderr)
        print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except (OSError, ValueError, ImportError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
        return 1

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"IMDS simulator listening on {sim.url}", flush=True)
        while not done.wait(0.5):
            pass
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
