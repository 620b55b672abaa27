"""The layers of docs/development.md's Layout section, as the imports and calls say them:
nothing imports upwards; only ``ec2imds/_drivers/`` (and the simulator) uses sockets; only
the flow runners sleep or wait on locks for a flow; only a few named modules touch files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ec2imds"

#: The lowest layers first; a module may import only from its own layer or those below.
FOUNDATIONS = {"errors", "_log", "endpoints", "settings", "tokens"}
LAYERS: list[tuple[str, set[str]]] = [
    ("foundations", FOUNDATIONS),
    ("flow", {"_flow"}),
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


@pytest.mark.parametrize("module", ["_protocol", "crawl", "watch", "identity", "models/_views"])
def test_the_flows_leave_sleeping_waiting_and_event_loops_to_the_runners(module: str) -> None:
    """The protocol and the walk import nothing that performs I/O or keeps time; the other
    flows (the watch, the identity check, the views) neither sleep
    nor import an event loop or threads: the runners of ``_flow.py`` do."""
    path = PACKAGE / f"{module}.py"
    if module in ("_protocol", "crawl"):
        assert not _imports(path) & IO
    assert not _imports(path) & {"asyncio", "threading", "concurrent"}
    assert not {"time.sleep", "asyncio.sleep"} & _calls(path)


def test_the_flow_runners_depend_on_nothing_of_the_package() -> None:
    assert not {
        name for name in _imports(PACKAGE / "_flow.py") if (PACKAGE / f"{name}.py").exists()
    }


#: File and ``os`` I/O: ``open``, ``io.open``, these ``os`` and ``os.path`` calls, and the
#: methods of ``pathlib.Path`` that read or write.
OS_IO = {
    "os.open", "os.fdopen", "os.read", "os.write", "os.close", "os.fsync", "os.replace",
    "os.rename", "os.unlink", "os.remove", "os.mkdir", "os.makedirs", "os.rmdir",
    "os.listdir", "os.scandir", "os.stat", "os.lstat", "os.fstat", "os.chmod", "os.walk",
    "os.truncate", "os.ftruncate", "os.symlink", "os.link", "os.utime", "os.path.exists",
    "os.path.isfile", "os.path.isdir", "os.path.getsize", "os.path.getmtime", "io.open",
}  # fmt: skip
PATH_IO = {"read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "touch"}

#: Who may touch files, and why (docs/development.md, Layout).
FILE_USERS = {
    "tokens.py": "FileTokenStore; the flows call it in Blocking steps (off the event loop)",
    "_awsconfig.py": "the AWS config file, read once when the settings are resolved",
    "cli.py": "the command line's own files: --user-data-file, a certificate, /dev/null",
    "identity.py": "a certificate given as a path; the pinned certificates",
    "schema.py": "the JSON schemas shipped in the package",
    "doctor.py": "the machine's DMI and hypervisor files (is this EC2?), --doctor only",
}


def _calls(path: Path) -> set[str]:
    """Dotted names of what ``path`` calls (``open``, ``os.replace``, ``.read_text``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        parts: list[str] = []
        func: ast.expr = node.func
        while isinstance(func, ast.Attribute):
            parts.insert(0, func.attr)
            func = func.value
        if isinstance(func, ast.Name):
            parts.insert(0, func.id)
            found.add(".".join(parts))
        elif parts:
            found.add("." + parts[-1])
        if len(parts) > 1:
            found.add("." + parts[-1])
    return found


def _touches_files(path: Path) -> bool:
    calls = _calls(path)
    return "open" in calls or bool(calls & OS_IO) or any(f".{m}" in calls for m in PATH_IO)


def test_only_the_named_modules_touch_files() -> None:
    """File and ``os`` I/O outside the simulator happens in :data:`FILE_USERS` only: above
    all, no flow opens, reads, writes or syncs a file (the token store is called through a
    Blocking step, which the async runner runs in a worker thread)."""
    users = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if _touches_files(path)
    }
    outside = {p for p in users if not p.startswith("simulator/")}
    assert outside == set(FILE_USERS), sorted(outside ^ set(FILE_USERS))


def test_the_file_check_sees_file_io(tmp_path: Path) -> None:
    """The check above is not blind: each kind of file or ``os`` I/O is seen."""
    for line in [
        "open('x')",
        "os.replace(a, b)",
        "os.fsync(fd)",
        "os.open('x', 0)",
        "os.path.isfile('x')",
        "Path('x').read_text()",
        "self.directory.write_bytes(b'')",
    ]:
        probe = tmp_path / "probe.py"
        probe.write_text(f"import os\n{line}\n")
        assert _touches_files(probe), line
    probe.write_text("'a'.replace('a', 'b')\nos.environ.get('X')\n")
    assert not _touches_files(probe)


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
