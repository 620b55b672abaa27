"""Instance trees written to files for the simulator's ``--tree`` (and ``ec2imds
--simulate-tree``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ec2imds.simulator.instance import default_tree
from ec2imds.simulator.tree import tree_to_json


def bad_tree(tmp_path: Path) -> Path:
    """The default instance, with ``instance-id`` a number and no ``ami-id``."""
    data: Any = tree_to_json(default_tree())
    data["meta-data"]["instance-id"] = 5
    del data["meta-data"]["ami-id"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path
