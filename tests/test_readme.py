"""The README's sample output is what the command prints (the catalog feeds both)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

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
