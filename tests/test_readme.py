"""The README and the manual (``docs/``) say what the code does: the sample output is what
the command prints (the catalog feeds both), the examples run, the numbers are the code's."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

from ec2imds._categories import CATEGORIES
from ec2imds.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def test_sample_output_matches_the_command() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- sample:begin -->\n```json\n(.*?)```\n<!-- sample:end -->", text, re.S)
    assert found is not None, "docs/cli.md lost its sample block"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--simulate", "-E", "meta-data/placement/.*"])
    assert code == 0
    assert out.getvalue() == found.group(1)
    assert "simulator" in err.getvalue()


def test_readme_names_the_test_command_that_ci_runs() -> None:
    text = README.read_text(encoding="utf-8")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/check" in text
    assert "scripts/check" in ci


def _python_block(page: Path, marker: str) -> str:
    """The one Python block of ``page`` that contains ``marker``."""
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"expected one Python block of {page.name} with {marker!r}"
    return str(found[0])


def test_fake_imds_example_runs_as_written() -> None:
    source = _python_block(DOCS / "simulator.md", "fake = FakeIMDS()")
    code = compile(source, "simulator.md", "exec")
    exec(code, {"__name__": "readme"})  # noqa: S102 - our own manual's example


def test_simulator_fixture_example_runs_as_written() -> None:
    from ec2imds.simulator import IMDSSimulator

    namespace: dict[str, object] = {"__name__": "readme"}
    source = _python_block(DOCS / "simulator.md", "def test_region(")
    exec(compile(source, "simulator.md", "exec"), namespace)  # noqa: S102
    assert namespace["pytest_plugins"] == ["ec2imds.testing"]
    test_region = namespace["test_region"]
    assert callable(test_region)
    with IMDSSimulator() as sim:
        test_region(sim)


def _prose(page: Path) -> str:
    """``page`` with each run of whitespace (line breaks too) as one space."""
    return " ".join(page.read_text(encoding="utf-8").split())


def test_the_readme_s_numbers_are_the_code_s() -> None:
    """Every number the README and the manual state that the code defines, checked in
    the page that states it (the test count and timings are the lead's, after each full
    run; benchmark figures are measurements)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # tomllib is new in 3.11; tomli is the same parser (pytest depends on it there)
        import tomli as tomllib

    from ec2imds.crawl import MAX_DEPTH, MAX_NODES
    from ec2imds.settings import Settings
    from ec2imds.watch import DEFAULT_GRACE, DEFAULT_INTERVALS

    s = Settings()
    pyproject = tomllib.loads((README.parent / "pyproject.toml").read_text(encoding="utf-8"))
    python = pyproject["project"]["requires-python"].removeprefix(">=")
    dependencies = [re.split(r"[<>=!~ ]", d)[0] for d in pyproject["project"]["dependencies"]]
    newest = [c for c in pyproject["project"]["classifiers"] if c.count(" :: 3.")][-1]
    assert s.max_body == 1024 * 1024
    timeout = f"| connect and read timeout, seconds | `{s.timeout:g}` |"
    attempts = f"| total attempts per request | `{s.attempts}` |"
    expected = {
        "README.md": [f"Python {python} to {newest.rsplit(' :: ', 1)[1]}, so the system `python3`"],
        "docs/cli.md": [f"`ec2imds -L` lists the {len(CATEGORIES)} of them"],
        "docs/settings.md": [
            f"| `AWS_METADATA_SERVICE_TIMEOUT` {timeout}",
            f"| `AWS_METADATA_SERVICE_NUM_ATTEMPTS` {attempts}",
            f"requested for {s.token_ttl} s and replaced {s.refresh_margin:g} s before it expires",
            f"({s.backoff_base * 1000:g} ms doubling, capped at {s.backoff_cap:g} s)",
            f"IPv6 (`fd00:ec2::254`) {s.race_delay * 1000:g} ms later",
        ],
        "docs/library.md": [f"fetches each leaf once, {s.concurrency} requests in flight"],
        "docs/security.md": [
            "Bodies above 1 MiB are refused",
            f"stops at {MAX_DEPTH} levels or {MAX_NODES:,} paths",
        ],
        "docs/watching.md": [
            f"spot and rebalance every {DEFAULT_INTERVALS['spot']:g} s",
            f"maintenance every {DEFAULT_INTERVALS['maintenance']:g} s",
            f"Auto Scaling every {DEFAULT_INTERVALS['autoscaling']:g} s",
            f"After `grace` seconds (default {DEFAULT_GRACE:g})",
        ],
        "docs/imds.md": [
            f"IPv6 {s.race_delay * 1000:g} ms later",
            f"asks for {s.token_ttl} s",
            f"replaces the token {s.refresh_margin:g} s before it expires",
            f"keeps at most {s.concurrency} requests in flight",
            f"{s.attempts} attempts (not 1)",
        ],
    }
    install = re.search(r"## Install\n(.*?)\n## ", README.read_text(encoding="utf-8"), re.S)
    assert install is not None
    assert dependencies
    assert all(f"`{d}`" in install.group(1) for d in dependencies), dependencies
    assert DEFAULT_INTERVALS["rebalance"] == DEFAULT_INTERVALS["spot"]
    missing = [
        (page, e) for page, said in expected.items() for e in said if e not in _prose(ROOT / page)
    ]
    assert not missing, missing
