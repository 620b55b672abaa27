"""Run-time path matching: which catalog entry a concrete IMDS path is.

``value(path)``, the command line's categories, the validation errors' paths and the
simulator's tree files ask :func:`match`; the patterns are built once from
:data:`ec2imds.catalog.ENTRIES` when this module is first imported.
"""

from __future__ import annotations

from ec2imds.catalog import ENTRIES, CatalogEntry

__all__ = ["match"]


def _segments(path: str) -> list[str]:
    path = path.strip("/")
    if path == "latest" or path.startswith("latest/"):
        path = path[len("latest") :].lstrip("/")
    return [s for s in path.split("/") if s] if path else []


#: The patterns by length, fixed names before placeholders (fewest placeholders first).
_BY_LENGTH: dict[int, list[tuple[list[str], CatalogEntry]]] = {}
for _pattern, _entry in sorted(
    ((e.path.split("/") if e.path else [], e) for e in ENTRIES),
    key=lambda pe: sum(s.startswith("{") for s in pe[0]),
):
    _BY_LENGTH.setdefault(len(_pattern), []).append((_pattern, _entry))


def match(path: str) -> tuple[CatalogEntry, dict[str, str]] | None:
    """The catalog entry of a concrete IMDS path, and the placeholder bindings.

    ``match("meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/local-ipv4s")`` is
    ``(entry(".../macs/{mac}/local-ipv4s"), {"mac": "0e:49:61:0f:c3:11"})``.  A leading
    ``/`` or ``/latest/`` and a trailing ``/`` are ignored; a fixed name wins over a
    placeholder.  ``None`` when no entry matches.
    """
    segs = _segments(path)
    for pattern, e in _BY_LENGTH.get(len(segs), ()):
        bindings: dict[str, str] = {}
        for p, s in zip(pattern, segs):  # as long: _BY_LENGTH
            if p.startswith("{"):
                bindings[p[1:-1]] = s
            elif p != s:
                break
        else:
            return e, bindings
    return None
