"""The simulator's default instance: the catalog's example values laid out as a tree.

:func:`default_tree` is what :class:`~ec2imds.simulator.IMDSSimulator`,
:class:`ec2imds.testing.FakeIMDS` and ``python -m ec2imds.simulator`` serve when no tree is
given (and the sample in docs/cli.md).  It is built from the examples of
:data:`ec2imds.catalog.ENTRIES`, so the catalog and the instance can never drift; its
identity document is laid out as AWS serves it and signed with the simulator's TEST keys
(:mod:`ec2imds.simulator.identity`).  The catalog describes; this module builds.
"""

from __future__ import annotations

from ec2imds.catalog import ENTRIES, Node, leaf_text
from ec2imds.simulator.identity import sign_default

__all__ = ["default_tree"]


def _insert(tree: dict[str, Node], segs: list[str], value: Node) -> None:
    node = tree
    for s in segs[:-1]:
        child = node.setdefault(s, {})
        assert isinstance(child, dict)
        node = child
    node[segs[-1]] = value


def _sort(node: Node) -> Node:
    if isinstance(node, dict):
        return {k: _sort(node[k]) for k in sorted(node)}
    return node


def default_tree() -> dict[str, Node]:
    """The default instance, built from the catalog's examples (a fresh copy each call).

    Entries flagged ``absent_by_default`` are left out (spot, rebalance, kernel-id, ...);
    directory keys are sorted, as IMDS lists them; the identity document carries the
    signatures of the simulator's TEST keys.
    """
    tree: dict[str, Node] = {}
    key_names: dict[str, str] = {}  # public-keys index -> "index=name"
    for e in ENTRIES:
        if e.kind == "dir" and e.placeholders and e.example:
            assert isinstance(e.example, dict)
            for index, name in e.example.items():
                key_names[str(index)] = f"{index}={name}"
    for e in ENTRIES:
        if not e.is_leaf or e.absent_by_default or e.example is None:
            continue
        pattern = e.path.split("/")
        if not e.placeholders:
            _insert(tree, pattern, leaf_text(e, e.example))
            continue
        assert isinstance(e.example, dict)
        for binding, value in e.example.items():
            values = binding if isinstance(binding, tuple) else (binding,)
            it = iter(values)
            segs = [next(it) if p.startswith("{") else p for p in pattern]
            if pattern[:2] == ["meta-data", "public-keys"]:
                segs[2] = key_names[segs[2]]
            _insert(tree, segs, leaf_text(e, value))
    sign_default(tree)  # the identity document as AWS lays it out, signed by TEST keys
    sorted_tree = _sort(tree)
    assert isinstance(sorted_tree, dict)
    return sorted_tree
