"""The generator: deterministic, headed, self-contained output, and a --check that catches
drift (run on a temporary copy of the repository, never on the real tree)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codegen import generate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the generator reads and writes."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("ec2imds", "codegen", "schema"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.fixture
def in_process(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The generator's ``main`` on the copy, in this process (no interpreter to start):
    its root is the copy. It imports the models again to export the schemas, as a fresh
    process would (none imported yet); they are put back afterwards, so the rest of the
    run keeps the classes it knows."""
    import ec2imds

    monkeypatch.setattr(generate, "ROOT", repo)
    ours = [m for m in sys.modules if m == "ec2imds.schema" or m.startswith("ec2imds.models")]
    saved = {m: sys.modules[m] for m in ours}
    monkeypatch.delattr(ec2imds, "models", raising=False)  # put back by monkeypatch
    monkeypatch.delattr(ec2imds, "schema", raising=False)
    yield repo
    for m in [m for m in sys.modules if m == "ec2imds.schema" or m.startswith("ec2imds.models")]:
        del sys.modules[m]
    sys.modules.update(saved)


def run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "codegen.generate", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_passes_on_a_clean_tree(in_process: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert generate.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.slow
def test_check_fails_when_a_generated_model_is_edited(repo: Path) -> None:
    path = repo / "ec2imds/models/placement.py"
    original = path.read_text()
    path.write_text(original.replace("Where the instance runs.", "Edited by hand."))
    done = run(repo, "--check")
    assert done.returncode == 1
    assert "ec2imds/models/placement.py: differs" in done.stderr
    assert path.read_text() != original  # --check writes nothing
    assert run(repo).returncode == 0
    assert path.read_text() == original
    assert run(repo, "--check").returncode == 0


@pytest.mark.slow
def test_check_fails_when_schema_drifts(repo: Path) -> None:
    schema = repo / "schema"
    (schema / "Placement.json").write_text('{"drifted": true}\n')
    (schema / "Services.json").unlink()
    (schema / "Stale.json").write_text("{}\n")
    done = run(repo, "--check")
    assert done.returncode == 1
    assert "schema/Placement.json: differs" in done.stderr
    assert "schema/Services.json: missing" in done.stderr
    assert "schema/Stale.json: extra" in done.stderr
    assert run(repo).returncode == 0
    assert not (schema / "Stale.json").exists()
    assert (schema / "Services.json").read_text() == (ROOT / "schema/Services.json").read_text()
    assert run(repo, "--check").returncode == 0


def test_check_fails_on_missing_and_extra_model_files(
    in_process: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = in_process
    (repo / "ec2imds/models/tags.py").unlink()
    (repo / "ec2imds/models/stale.py").write_text(generate.HEADER + '"""Left over."""\n')
    (repo / "ec2imds/models/handwritten.py").write_text('"""Not generated: left alone."""\n')
    assert generate.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "ec2imds/models/tags.py: missing" in err
    assert "ec2imds/models/stale.py: extra" in err
    assert "handwritten" not in err


@pytest.mark.slow
def test_a_catalog_change_is_drift_until_regenerated(repo: Path) -> None:
    catalog = repo / "ec2imds/catalog.py"
    catalog.write_text(catalog.read_text().replace('"Dedicated Host ID."', '"The host."'))
    done = run(repo, "--check")
    assert done.returncode == 1
    assert "ec2imds/models/placement.py: differs" in done.stderr
    assert run(repo).returncode == 0
    assert '"The host."' in (repo / "ec2imds/models/placement.py").read_text()
    assert "The host." in (repo / "schema/Placement.json").read_text()
    assert run(repo, "--check").returncode == 0


def test_check_fails_when_the_package_s_public_names_drift(repo: Path) -> None:
    init = repo / "ec2imds/__init__.py"
    text = init.read_text()
    # A name added to the table but not to the type checkers' part (and __all__) is drift.
    init.write_text(text.replace('("Settings",)', '("Settings", "Options")'))
    done = run(repo, "--check")
    assert done.returncode == 1
    assert "ec2imds/__init__.py: differs" in done.stderr
    assert run(repo).returncode == 0
    regenerated = init.read_text()
    assert "from ec2imds.settings import Options, Settings" in regenerated
    assert '    "Options",\n' in regenerated
    assert run(repo, "--check").returncode == 0


def test_generation_is_deterministic_and_matches_the_tree() -> None:
    first = generate.build_models()
    assert first == generate.build_models()
    for rel, text in first.items():
        assert (ROOT / rel).read_text() == text, rel
        if rel == generate.PACKAGE_INIT:  # hand-written, with a generated part fenced off
            assert generate.FENCE in text
            assert generate.FENCE_END in text
        else:
            assert text.startswith(generate.HEADER), rel


ALLOWED_IMPORTS = {"__future__", "collections.abc", "datetime", "ipaddress", "typing", "pydantic"}


def test_generated_modules_import_only_the_base() -> None:
    for rel in generate.build_models():
        if rel == generate.PACKAGE_INIT:
            continue
        tree = ast.parse((ROOT / rel).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert module in ALLOWED_IMPORTS or module.startswith("ec2imds.models."), (
                    rel,
                    module,
                )
            assert not isinstance(node, ast.Import), rel


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("availability-zone", "availability_zone"),
        ("LastUpdated", "last_updated"),
        ("accountId", "account_id"),
        ("AccessKeyId", "access_key_id"),
        ("ec2-instance", "ec2_instance"),
        ("ipv6s", "ipv6s"),
    ],
)
def test_field_names(key: str, name: str) -> None:
    assert generate.field_name(key) == name


def test_field_name_rejects_non_identifiers() -> None:
    with pytest.raises(generate.GenerateError):
        generate.field_name("")


@pytest.mark.parametrize(
    ("annotation", "written"),
    [
        ("Text", "Text"),
        ("Text | None", "Optional[Text]"),
        (
            "Annotated[list[MaintenanceEvent], JSON] | None",
            "Optional[Annotated[list[MaintenanceEvent], JSON]]",
        ),
        ("Literal['a', 'b'] | None", "Optional[Literal['a', 'b']]"),
        ("datetime | str | None", "Union[datetime, str, None]"),
    ],
)
def test_model_annotations_are_written_for_python_3_9(annotation: str, written: str) -> None:
    """Pydantic evaluates the models' annotations at run time, where ``X | None`` needs
    Python 3.10: the generator writes ``Optional``/``Union``."""
    assert generate.run_time_annotation(annotation) == written


@pytest.mark.parametrize("annotation", ["dict[str, int | None]", "list[int | str] | None"])
def test_a_union_inside_a_model_annotation_is_refused(annotation: str) -> None:
    with pytest.raises(generate.GenerateError, match="union inside"):
        generate.run_time_annotation(annotation)


def test_long_strings_are_split_losslessly() -> None:
    text = "word " * 40 + "end"
    literal = generate.py_str(text)
    assert literal.startswith("(")
    assert ast.literal_eval(literal) == text
    assert generate.py_str("short") == "'short'"


def test_imports_are_pruned_and_sorted_as_ruff_check_fix_would(tmp_path: Path) -> None:
    """One ruff run per generation: the generator sorts and prunes imports itself, to the
    byte what ``ruff check --fix --select I,F401`` then ``ruff format`` make of them."""
    long = ", ".join(f"Name{i}" for i in range(12))
    text = (
        '"""A module."""\n\nfrom __future__ import annotations\n\n'
        "from typing import TYPE_CHECKING, Literal, Any, ClassVar, overload\n"
        "from collections.abc import Awaitable\n\nfrom pydantic import Field, SecretStr\n\n"
        "from ec2imds.models.b import dump, JSON, Beta\n"
        f"from ec2imds.models.a import {long}, Alpha\n\n"
        "if TYPE_CHECKING:\n    from ipaddress import IPv6Address, IPv4Address\n\n"
        "x: ClassVar[Alpha | Beta | IPv4Address] = Field()\n"
        "y = (JSON, dump, Name3, Name11, TYPE_CHECKING)\n"
    )
    ours = generate.ruff({"ec2imds/models/m.py": text})["ec2imds/models/m.py"]
    path = tmp_path / "ec2imds/models/m.py"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    config = ["--config", str(ROOT / "pyproject.toml")]
    first_party = ["--config", "lint.isort.known-first-party = ['ec2imds']"]
    for step in (["check", "--fix", "--select", "I,F401", "--exit-zero", *first_party], ["format"]):
        subprocess.run(
            [sys.executable, "-m", "ruff", *step, "--quiet", *config, str(path)],
            cwd=tmp_path,
            check=True,
        )
    assert ours == path.read_text()
    assert "Name11,\n" in ours  # a long import stays one name a line once pruned
    assert "Awaitable" not in ours
    assert "SecretStr" not in ours
