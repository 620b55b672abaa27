"""The error tree (``ec2imds/errors.py``): the tree its docstring draws is the classes'
tree, every public error is exported, and the raise-or-collect contract."""

from __future__ import annotations

import re

import pytest

import ec2imds
from ec2imds import errors
from ec2imds.errors import (
    ALWAYS_PRESENT,
    IMDSError,
    IMDSHTTPError,
    IMDSValidationError,
    absent_error,
    collect,
    hand_over,
)


def _drawn_tree() -> dict[str, str]:
    """``{class: parent}`` as the module docstring draws it (indentation is depth)."""
    doc = errors.__doc__
    assert doc is not None
    drawing = doc.split("::", 1)[1].split("\n\n", 2)[1]
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in drawing.splitlines():
        found = re.match(r"^(\s*)(?:[│ ]*[├└]── )?(\w+)", line)
        assert found is not None, line
        name = found.group(2)
        depth = line.index(name)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_drawn_tree_is_the_class_tree() -> None:
    drawn = _drawn_tree()
    assert set(drawn) | {"IMDSError"} == set(errors.__all__)
    for name, parent in drawn.items():
        cls = getattr(errors, name)
        assert issubclass(cls, IMDSError), name
        assert getattr(errors, parent) in cls.__bases__, (name, parent)


def test_every_error_is_exported_by_the_package() -> None:
    for name in errors.__all__:
        assert getattr(ec2imds, name) is getattr(errors, name), name


def test_the_value_errors_are_value_errors_too() -> None:
    assert issubclass(errors.IMDSConfigError, ValueError)
    assert issubclass(errors.UserDataError, ValueError)
    assert not issubclass(errors.IMDSHTTPError, ValueError)


def test_an_absent_always_present_value_names_its_path() -> None:
    error = absent_error("meta-data/instance-id")
    assert isinstance(error, IMDSValidationError)
    assert error.path == "meta-data/instance-id"
    assert str(error) == f"meta-data/instance-id: {ALWAYS_PRESENT} (IMDS answered 404)"


def test_collect_raises_without_a_dict_and_records_with_one() -> None:
    error = IMDSHTTPError("500", status=500, path="meta-data/x")
    with pytest.raises(IMDSHTTPError) as raised:
        collect(None, "meta-data/x/", error)
    assert raised.value is error
    failures: errors.Failures = {}
    collect(failures, "meta-data/x/", error)
    assert failures == {"meta-data/x": error}  # no trailing slash


def test_hand_over_updates_the_callers_dict_or_raises_the_first() -> None:
    first = IMDSHTTPError("500", status=500, path="a")
    second = IMDSHTTPError("503", status=503, path="b")
    mine: errors.Failures = {"z": first}
    hand_over({"a": first, "b": second}, mine)
    assert mine == {"z": first, "a": first, "b": second}
    with pytest.raises(IMDSHTTPError) as raised:
        hand_over({"a": first, "b": second}, None)
    assert raised.value is first
    hand_over({}, None)  # nothing collected: nothing raised
