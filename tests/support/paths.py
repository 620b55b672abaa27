"""Where the repository's files are, and the third-party test data beside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
TESTS = ROOT / "tests"
GUARD_DIR = TESTS / "_guard"
GOLDEN = TESTS / "golden"
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def shared_data(*parts: str) -> Path:
    """A file or folder of third-party test data (the AWS SDKs' IMDS cases, Wycheproof's
    vectors, AWS's published certificates) in the ``shared/`` folder CI lays beside the
    repository. The data is not copied into the repository: where that folder is absent
    (a user's clone) the test is skipped, saying so; under CI (``CI=true``) a missing
    folder fails the test, so CI never passes without running it."""
    for parent in ROOT.parents:
        candidate = parent.joinpath("shared", *parts)
        if candidate.exists():
            return candidate
    where = "/".join(("shared", *parts))
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI=true but {where} is not beside the repository ({ROOT})")
    pytest.skip(f"third-party test data {where} is not beside this clone (CI has it)")
