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

from ec2imds.catalog import Node
from ec2imds.endpoints import mk_endpoint_from_str
from ec2imds.simulator.listeners import DeadListener
from ec2imds.simulator.server import IMDSSimulator
from ec2imds.simulator.tree import load_tree

__all__ = ["build_parser", "main"]


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


def _rate(text: str) -> float:
    value = _non_negative(text)
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
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=1338, help="port to bind, 0 for any (default 1338)"
    )
    parser.add_argument(
        "--tree", metavar="FILE", help="JSON instance tree to serve (default: built-in instance)"
    )
    parser.add_argument(
        "--allow-v1", action="store_true", help="answer GETs without a token (IMDSv1)"
    )
    parser.add_argument(
        "--latency-ms", type=_non_negative, default=0.0, metavar="N", help="delay every answer"
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
    parser.add_argument(
        "--put-hang",
        action="store_true",
        help="never answer the token PUT (GETs still answered), as behind a hop limit of 1",
    )
    parser.add_argument(
        "--tags-off",
        action="store_true",
        help="no meta-data/tags/ (404), as an instance without InstanceMetadataTags",
    )
    parser.add_argument(
        "--no-iam-role", action="store_true", help="no meta-data/iam/ (404): no role attached"
    )
    parser.add_argument(
        "--dead-listener",
        metavar="HOST:PORT",
        action="append",
        default=[],
        help="also hold HOST:PORT (e.g. [::1]:1339) where no connection ever completes, "
        "as an IMDS endpoint not enabled (repeatable)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    events = parser.add_argument_group(
        "events", "scheduled SECONDS after start (0: at once), for ec2imds --watch"
    )
    events.add_argument(
        "--spot-interruption-after",
        type=_non_negative,
        metavar="SECONDS",
        help="a spot interruption notice (instance-action, termination-time), 2 min ahead",
    )
    events.add_argument(
        "--spot-action",
        choices=("terminate", "stop", "hibernate"),
        default="terminate",
        help="the notice's action (default terminate)",
    )
    events.add_argument(
        "--rebalance-after",
        type=_non_negative,
        metavar="SECONDS",
        help="a rebalance recommendation",
    )
    events.add_argument(
        "--maintenance-after",
        type=_non_negative,
        metavar="SECONDS",
        help="a scheduled maintenance event, a day ahead",
    )
    events.add_argument(
        "--maintenance-code",
        choices=(
            "instance-reboot",
            "system-reboot",
            "system-maintenance",
            "instance-retirement",
            "instance-stop",
        ),
        default="system-reboot",
        help="the maintenance event's code (default system-reboot)",
    )
    events.add_argument(
        "--lifecycle-after",
        type=_non_negative,
        metavar="SECONDS",
        help="an Auto Scaling target lifecycle state change",
    )
    events.add_argument(
        "--lifecycle-state",
        default="Terminated",
        metavar="STATE",
        help="the new target lifecycle state (default Terminated)",
    )
    return parser


def _schedule_events(sim: IMDSSimulator, args: argparse.Namespace) -> None:
    """The events asked for on the command line, through the simulator's own machinery."""
    if args.spot_interruption_after is not None:
        sim.inject_spot_interruption(args.spot_action, args.spot_interruption_after)
    if args.rebalance_after is not None:
        sim.inject_rebalance(args.rebalance_after)
    if args.maintenance_after is not None:
        sim.inject_maintenance(args.maintenance_after, args.maintenance_code)
    if args.lifecycle_after is not None:
        sim.set_lifecycle_state(args.lifecycle_state, args.lifecycle_after)


def _instance_options(sim: IMDSSimulator, args: argparse.Namespace) -> None:
    """The instance's metadata options asked for on the command line."""
    sim.faults.put_hang = args.put_hang
    if args.tags_off:
        sim.delete("meta-data/tags")
    if args.no_iam_role:
        sim.delete("meta-data/iam")


def _dead_listeners(texts: list[str]) -> list[DeadListener]:
    out: list[DeadListener] = []
    try:
        for text in texts:
            host, port = mk_endpoint_from_str(text)
            if port is None:
                raise ValueError(f"--dead-listener {text!r}: give HOST:PORT")
            out.append(DeadListener(host, port))
    except BaseException:
        for dead in out:
            dead.close()
        raise
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGINT/SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    tree: dict[str, Node] | None = None
    dead: list[DeadListener] = []
    try:
        if args.tree is not None:
            tree = load_tree(args.tree)
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
        _instance_options(sim, args)
        _schedule_events(sim, args)
        dead = _dead_listeners(args.dead_listener)
        sim.start()
    except (OSError, ValueError, ImportError) as exc:
        for listener in dead:
            listener.close()
        print(f"ec2imds.simulator: error: {exc}", file=sys.stderr, flush=True)
        return 1

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"IMDS simulator listening on {sim.url}", flush=True)
        for listener in dead:
            print(f"dead listener on {listener.url}", flush=True)
        while not done.wait(0.5):
            pass
    finally:
        sim.stop()
        for listener in dead:
            listener.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
