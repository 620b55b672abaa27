"""The README's sample output is what the command prints (the catalog feeds both)."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

from ec2imds._categories import CATEGORIES
from ec2imds.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def test_sample_output_matches_the_command() -> None:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- sample:begin -->\n```json\n(.*?)```\n<!-- sample:end -->", text, re.S)
    assert found is not None, "the README lost its sample block"
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


def _python_block(marker: str) -> str:
    """The README's one Python block that contains ``marker``."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"expected one README Python block with {marker!r}"
    return str(found[0])


def test_fake_imds_example_runs_as_written() -> None:
    code = compile(_python_block("fake = FakeIMDS()"), "README.md", "exec")
    exec(code, {"__name__": "readme"})  # noqa: S102 - our own README's example


def test_simulator_fixture_example_runs_as_written() -> None:
    from ec2imds.simulator import IMDSSimulator

    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(_python_block("def test_region("), "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["pytest_plugins"] == ["ec2imds.testing"]
    test_region = namespace["test_region"]
    assert callable(test_region)
    with IMDSSimulator() as sim:
        test_region(sim)


def _prose() -> str:
    """The README with each run of whitespace (line breaks too) as one space."""
    return " ".join(README.read_text(encoding="utf-8").split())


def test_the_readme_s_numbers_are_the_code_s() -> None:
    """Every number the README states that the code defines (the test count and timings
    are the lead's, after each full run; benchmark figures are measurements)."""
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
    assert s.max_body == 1024 * 1024
    expected = [
        f"Python {python} or newer.",
        f"`ec2imds -L` lists the {len(CATEGORIES)} of them",
        f"| `AWS_METADATA_SERVICE_TIMEOUT` | connect and read timeout, seconds | `{s.timeout:g}` |",
        f"| `AWS_METADATA_SERVICE_NUM_ATTEMPTS` | total attempts per request | `{s.attempts}` |",
        f"requested for {s.token_ttl} s and replaced {s.refresh_margin:g} s before it expires",
        f"fetches each leaf once, {s.concurrency} requests in flight",
        f"({s.backoff_base * 1000:g} ms doubling, capped at {s.backoff_cap:g} s)",
        f"IPv4 (`169.254.169.254`) {s.race_delay * 1000:g} ms later",
        "Bodies above 1 MiB are refused",
        f"stops at {MAX_DEPTH} levels or {MAX_NODES:,} paths",
        f"spot and rebalance every {DEFAULT_INTERVALS['spot']:g} s",
        f"maintenance every {DEFAULT_INTERVALS['maintenance']:g} s",
        f"Auto Scaling every {DEFAULT_INTERVALS['autoscaling']:g} s",
        f"After `grace` seconds (default {DEFAULT_GRACE:g})",
    ]
    install = re.search(r"## Install\n(.*?)\n## ", README.read_text(encoding="utf-8"), re.S)
    assert install is not None
    assert dependencies
    assert all(f"`{d}`" in install.group(1) for d in dependencies), dependencies
    assert DEFAULT_INTERVALS["rebalance"] == DEFAULT_INTERVALS["spot"]
    prose = _prose()
    missing = [e for e in expected if e not in prose]
    assert not missing, missing
