""":func:`examples`: a property test's example count, scaled down in the fast tier."""

from __future__ import annotations

from hypothesis import settings as hypothesis_settings


def examples(count: int) -> int:
    """``count`` hypothesis examples in a full run, scaled by the loaded profile: the
    default (100 examples) keeps ``count``, the fast tier's ``ec2imds-fast`` (25) runs a
    quarter of them (``conftest.py``). Read when the test module is imported, after
    pytest's ``--hypothesis-profile`` is applied."""
    loaded: int = hypothesis_settings().max_examples  # typed Any by some hypothesis releases
    return max(1, count * loaded // 100)
