"""Every module's tests can be found: by name (``ec2imds/x.py`` is ``tests/test_x.py``,
``ec2imds/folder/_x.py`` is ``tests/folder/test_x.py``) or in docs/development.md's table
of the modules tested elsewhere; and that table names only files that exist."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.paths import DOCS, ROOT

PACKAGE = ROOT / "ec2imds"
TESTS = ROOT / "tests"
GENERATED = "# DO NOT EDIT: generated"


def _by_name(module: Path) -> Path:
    """Where the tests of ``module`` are by the naming rule."""
    rel = module.relative_to(PACKAGE)
    folders = [part.lstrip("_") for part in rel.parts[:-1]]
    return TESTS.joinpath(*folders, f"test_{rel.stem.lstrip('_')}.py")


def _table() -> list[tuple[list[str], list[str], str]]:
    """The rows of the table after "## The tests": (modules, test files, first cell)."""
    text = (DOCS / "development.md").read_text(encoding="utf-8")
    section = text.split("## The tests", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) < 4 or not cells[1].strip().startswith("`"):
            continue
        modules: list[str] = []
        folder = ""
        for name in re.findall(r"`([^`]+)`", cells[1]):
            if "/" in name:
                folder = name.rsplit("/", 1)[0] + "/"
                modules.append(name)
            else:
                modules.append(folder + name)
        tests = re.findall(r"`([^`]+)`", cells[2])
        rows.append((modules, tests, cells[1]))
    return rows


def test_every_module_has_tests_by_name_or_in_the_table() -> None:
    listed: set[str] = set()
    generated_models = False
    for modules, _, first in _table():
        listed.update(modules)
        generated_models |= "generated models" in first
    missing = []
    for module in sorted(PACKAGE.rglob("*.py")):
        rel = module.relative_to(PACKAGE).as_posix()
        if module.name == "__init__.py" or _by_name(module).exists() or rel in listed:
            continue
        is_model = rel.startswith("models/")
        if is_model and generated_models and module.read_text().startswith(GENERATED):
            continue
        missing.append(rel)
    assert missing == [], "no tests/test_<module>.py and not in docs/development.md's table"


def test_the_table_names_modules_and_test_files_that_exist() -> None:
    rows = _table()
    assert len(rows) >= 5
    for modules, tests, _ in rows:
        assert tests, modules
        for module in modules:
            assert (PACKAGE / module).is_file(), module
            assert not _by_name(PACKAGE / module).exists(), f"{module} is found by name"
        for test in tests:
            assert (ROOT / test).is_file(), test
