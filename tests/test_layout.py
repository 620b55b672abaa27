"""The layers of docs/development.md's Layout section, as the imports say them: nothing imports
upwards, and only ``ec2imds/_drivers/`` performs I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ec2imds"

#: The lowest layers first; a module may import only from its own layer or those below.
FOUNDATIONS = {"errors", "_log", "endpoints", "settings", "tokens"}
LAYERS: list[tuple[str, set[str]]] = [
    ("foundations", FOUNDATIONS),
    ("protocol", {"_protocol"}),
    ("walk", {"crawl"}),
    ("drivers", {"_drivers"}),
]
#: Standard-library modules that perform I/O or keep time; the protocol and the walk have none.
IO = {"socket", "selectors", "asyncio", "threading", "time", "concurrent", "httpx", "httpcore"}


def _imports(path: Path) -> set[str]:
    """Top-level names of what ``path`` imports: ``ec2imds.x`` as ``x``, others as is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module == "ec2imds":
            names = [f"ec2imds.{alias.name}" for alias in node.names]  # modules or names
        elif isinstance(node, ast.ImportFrom) and node.module is not None and not node.level:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            found.add(parts[1] if parts[0] == "ec2imds" and len(parts) > 1 else parts[0])
    return found


def _layer_of(module: str) -> int | None:
    for index, (_, members) in enumerate(LAYERS):
        if module in members:
            return index
    return None


def _modules() -> list[tuple[str, Path]]:
    out = [(p.stem, p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"]
    out += [("_drivers", p) for p in (PACKAGE / "_drivers").glob("*.py")]
    return [(name, path) for name, path in out if _layer_of(name) is not None]


@pytest.mark.parametrize(
    ("module", "path"),
    _modules(),
    ids=lambda v: v.relative_to(PACKAGE).as_posix() if isinstance(v, Path) else v,
)
def test_nothing_imports_upwards(module: str, path: Path) -> None:
    own = _layer_of(module)
    assert own is not None
    for imported in _imports(path):
        layer = _layer_of(imported)
        assert layer is None or layer <= own, f"{path.name} imports {imported}, a layer above"
        # Above the layers (client, cli, models, ...) is out of bounds too.
        assert imported not in {"client", "cli", "wrapper", "models", "_category_json", "watch"}


@pytest.mark.parametrize("module", ["_protocol", "crawl"])
def test_the_protocol_and_the_walk_perform_no_io(module: str) -> None:
    assert not _imports(PACKAGE / f"{module}.py") & IO


def test_every_module_that_opens_a_socket_is_a_driver() -> None:
    """Outside the simulator (a server) and the identity verifier, only the drivers use
    sockets or an event loop."""
    users = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if {"socket", "selectors"} & _imports(path)
    }
    allowed = {p for p in users if p.startswith(("_drivers/", "simulator/"))}
    assert users == allowed, sorted(users - allowed)
    assert {"_drivers/http11.py"} <= users
