"""``ec2imds --simulate`` with the simulator's own options: ``--simulate-tree FILE`` (refused
when its values fail the models, unless ``--allow-invalid-tree``) and the event flags, so
that ``--watch`` can be tried in one command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ec2imds.simulator.instance import default_tree
from ec2imds.simulator.tree import dump_tree
from tests.support.command import HELP_LINE, cli_env, error_line, run
from tests.support.trees import bad_tree

SIMULATOR_LINE = "ec2imds: querying the embedded IMDS simulator at http://127.0.0.1:"


def watch(*args: str) -> subprocess.CompletedProcess[str]:
    """``ec2imds ARGS`` to its end: no bound but a generous one against a hang (a watch
    polls; how long it takes is the machine's business, not the test's)."""
    return subprocess.run(
        [sys.executable, "-m", "ec2imds", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
        check=False,
    )


@pytest.mark.slow  # the spot poll's default interval, 5 s: the command as a user types it
def test_the_issue_s_command_prints_one_spot_event_and_exits_0() -> None:
    done = watch("--simulate", "--spot-interruption-after", "1", "--watch", "--once")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    event = json.loads(line)
    assert event["kind"] == "spot-instance-action"
    assert event["value"]["action"] == "terminate"
    assert done.stderr.startswith(SIMULATOR_LINE), done.stderr


@pytest.mark.parametrize(
    ("flag", "category", "kind"),
    [
        ("--spot-interruption-after", "spot", "spot-instance-action"),
        ("--rebalance-after", "rebalance", "rebalance-recommendation"),
        ("--maintenance-after", "maintenance", "scheduled-maintenance"),
        ("--lifecycle-after", "autoscaling", "target-lifecycle-state"),
    ],
)
def test_each_event_flag_reaches_watch_in_one_command(flag: str, category: str, kind: str) -> None:
    shaped = ["--spot-action", "hibernate", "--maintenance-code", "instance-stop"]
    shaped += ["--lifecycle-state", "Terminating:Wait"]
    done = watch("--simulate", flag, "0", *shaped, "--watch", category, "--once")
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout)
    assert event["kind"] == kind
    shown = {
        "spot": ("action", "hibernate"),
        "maintenance": ("Code", "instance-stop"),
    }
    if category in shown:
        key, value = shown[category]
        assert event["value"][key] == value
    elif category == "autoscaling":
        assert event["value"] == "Terminating:Wait"


def test_a_tree_file_is_served(tmp_path: Path) -> None:
    tree = default_tree()
    meta = tree["meta-data"]
    assert isinstance(meta, dict)
    meta["instance-id"] = "i-0feedfacecafe0001"
    path = tmp_path / "tree.json"
    dump_tree(tree, path)
    result = run("--simulate", "--simulate-tree", str(path), "--raw", "meta-data/instance-id")
    assert result.code == 0, result.err
    assert result.text == "i-0feedfacecafe0001\n"


def test_a_tree_the_models_refuse_is_not_served_each_path_named(tmp_path: Path) -> None:
    path = bad_tree(tmp_path)
    result = run("--simulate", "--simulate-tree", str(path), "meta-data/instance-id")
    assert result.code == 1, result.err
    assert result.out == b""
    assert "Traceback" not in result.err
    assert result.err.splitlines() == [
        f"ec2imds: {path}: /meta-data/ami-id: missing, but EC2 serves it on every instance",
        f"ec2imds: {path}: /meta-data/instance-id: 5 is not text",
        f"ec2imds: --simulate-tree {path}: 2 value(s) fail the models (each named above; "
        "--allow-invalid-tree serves it anyway)",
    ]


def test_allow_invalid_tree_serves_it_anyway(tmp_path: Path) -> None:
    path = bad_tree(tmp_path)
    args = ["--simulate", "--simulate-tree", str(path), "--allow-invalid-tree"]
    result = run(*args, "--raw", "meta-data/instance-id")
    assert result.code == 0, result.err
    assert result.text == "5\n"  # what the tree says, served as text
    absent = run(*args, "--raw", "meta-data/ami-id")  # a fault test's point: the 404
    assert absent.code == 1, absent.err
    assert absent.err.splitlines()[1:] == [
        "ec2imds: meta-data/ami-id: missing, but EC2 serves it on every instance "
        "(IMDS answered 404)"
    ]


@pytest.mark.parametrize(
    ("problem", "needle"),
    [("missing", "cannot read it"), ("not-json", "not valid JSON")],
)
def test_an_unreadable_tree_file_is_one_line(problem: str, needle: str, tmp_path: Path) -> None:
    path = tmp_path / "tree.json"
    if problem == "not-json":
        path.write_text("{")
    message = error_line(run("--simulate", "--simulate-tree", str(path), "-a"), 1)
    assert message.startswith("ec2imds: --simulate-tree "), message
    assert needle in message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--spot-interruption-after", "1", "--watch"],
            "--spot-interruption-after goes with --simulate",
        ),
        (["--rebalance-after", "0", "-a"], "--rebalance-after goes with --simulate"),
        (["--maintenance-code", "instance-stop", "-a"], "--maintenance-code goes with --simulate"),
        (["--lifecycle-state", "X", "-a"], "--lifecycle-state goes with --simulate"),
        (["--simulate-tree", "x.json", "-a"], "--simulate-tree goes with --simulate"),
        (
            ["--simulate", "--allow-invalid-tree"],
            "--allow-invalid-tree goes with --simulate-tree FILE",
        ),
        (
            ["--simulate", "--spot-interruption-after", "-1"],
            "argument --spot-interruption-after: must be >= 0, not -1",
        ),
        (["--simulate", "--spot-action", "explode"], "argument --spot-action: invalid choice"),
    ],
)
def test_simulate_options_misused_are_usage_errors(args: list[str], message: str) -> None:
    result = run(*args)
    line = error_line(result, 2)
    assert line.startswith(f"ec2imds: {message}"), line
    assert result.err.splitlines()[1] == HELP_LINE


def test_help_lists_the_simulate_options() -> None:
    text = run("-h").text
    options = ["--simulate-tree FILE", "--allow-invalid-tree", "--spot-interruption-after"]
    options += ["--rebalance-after", "--maintenance-after", "--lifecycle-after"]
    for option in options:
        assert option in text, option
