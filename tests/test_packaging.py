"""What a user installs: the wheel's contents, the metadata, the supported Pythons and the
locks CI installs from, kept in step with each other."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.support.paths import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - tomllib is 3.11+; pytest needs tomli below it
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def _supported() -> list[str]:
    """The one list of supported versions, in scripts/pythons."""
    text = (ROOT / "scripts" / "pythons").read_text(encoding="utf-8")
    found = re.search(r'^SUPPORTED="([0-9. ]+)"$', text, re.MULTILINE)
    assert found is not None
    return found.group(1).split()


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_supported_pythons_agree_with_the_classifiers_requires_python_and_the_locks() -> None:
    supported = _supported()
    assert supported == sorted(supported, key=_version)
    classifiers = [
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert classifiers == supported
    assert PROJECT["requires-python"] == f">={supported[0]}"
    locks = sorted(
        (
            p.name.removeprefix("lock-py").removesuffix(".txt")
            for p in (ROOT / "requirements").glob("lock-py*.txt")
        ),
        key=_version,
    )
    assert locks == supported
    # This interpreter is one of them (CI runs the suite on each).
    assert "{}.{}".format(*sys.version_info[:2]) in supported


def _lock(version: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    text = (ROOT / "requirements" / f"lock-py{version}.txt").read_text(encoding="utf-8")
    assert text.startswith("# DO NOT EDIT: made by scripts/lock")
    assert re.search(r"^# pip==\S+$", text, re.MULTILINE), "scripts/venv installs this pip"
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            assert pinned, f"{line!r}: not an exact pin"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = pinned
    return pins


@pytest.mark.parametrize("version", _supported())
def test_each_lock_pins_every_requirement_within_its_range(version: str) -> None:
    """A requirement added to pyproject without refreshing the locks (scripts/lock) fails
    here, not later in a user's install."""
    pins = _lock(version)
    environment = {"python_version": version, "python_full_version": f"{version}.0"}
    requirements = [
        *PROJECT["dependencies"],
        *(r for extra in PROJECT["optional-dependencies"].values() for r in extra),
        *PYPROJECT["build-system"]["requires"],
    ]
    for text in requirements:
        req = Requirement(text)
        if req.name == PROJECT["name"]:
            continue
        if req.marker is not None and not req.marker.evaluate(environment):
            continue
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"lock-py{version}.txt does not pin {req.name}"
        assert SpecifierSet(str(req.specifier)).contains(pins[name], prereleases=True), (
            f"lock-py{version}.txt: {req.name}=={pins[name]} is outside {req.specifier}"
        )


def test_schemas_are_package_data() -> None:
    """The exported schemas ship in the package (ec2imds/schemas links to schema/)."""
    shipped = resources.files("ec2imds") / "schemas"
    names = sorted(p.name for p in (ROOT / "schema").glob("*.json"))
    assert len(names) > 30
    assert sorted(p.name for p in shipped.iterdir() if p.name.endswith(".json")) == names
    for name in names:
        assert (shipped / name).read_bytes() == (ROOT / "schema" / name).read_bytes()


def test_license_and_changelog() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    base = re.sub(r"\.dev\d+$", "", PROJECT["version"])
    assert re.search(rf"^## {re.escape(base)}\b", changelog, re.MULTILINE), (
        f"CHANGELOG.md has no section for {base}"
    )


@pytest.mark.slow
def test_the_wheel_holds_the_package_its_data_and_the_license(tmp_path: Path) -> None:
    """Build the wheel as a user's pip would (from the files git tracks, with the locked
    setuptools) and read what it holds."""
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    source = tmp_path / "src"
    for name in filter(None, tracked):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        origin = ROOT / name
        if origin.is_symlink():
            target.symlink_to(origin.readlink())
        elif origin.is_file():
            target.write_bytes(origin.read_bytes())
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("ec2imds-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(metadata).decode()
        license_name = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert zf.read(license_name) == (ROOT / "LICENSE").read_bytes()
        for schema in (ROOT / "schema").glob("*.json"):
            assert zf.read(f"ec2imds/schemas/{schema.name}") == schema.read_bytes()
    assert {
        "ec2imds/py.typed",
        "ec2imds/aws_identity_certificates.json",
        "ec2imds/simulator/identity_test_keys.json",
        "ec2imds/models/__init__.py",
    } <= names
    assert not any(n.startswith(("tests/", "codegen/", "bench/", "schema/")) for n in names)
    assert f"Requires-Python: >={_supported()[0]}" in meta
    assert "License-Expression: MIT" in meta
    assert "Classifier: Typing :: Typed" in meta
    # The entry point of the command line.
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as zf:
        assert "ec2imds = ec2imds.cli:main" in zf.read(entry).decode()
