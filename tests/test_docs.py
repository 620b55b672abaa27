"""The documentation's shape: the README is a front page, the manual lives in ``docs/``,
every relative link leads somewhere, and what ships cites only what ships.

The facts about IMDS that the code relies on are written, with their public sources, in
``docs/imds.md``; the package, the generator, the benchmarks and the documentation cite
that page, never a file outside the repository. Only ``docs/development.md`` may name the
``../shared`` folder, where CI lays third-party test data beside the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import DOCS, README, ROOT

#: The front page's budget: what it is, try it, install, a tour, where to read more.
README_MAX_LINES = 300
PAGES = [README, *sorted(DOCS.glob("*.md"))]
#: Where a citation must point into the repository (the tests may read ``../shared``).
CITING = [ROOT / "ec2imds", ROOT / "codegen", ROOT / "bench", DOCS, README]
#: Folders of installed or generated files, not the project's own.
SKIPPED = {"__pycache__", ".peers", ".mypy_cache", ".ruff_cache"}
OUTSIDE = ("IMDS.md", "../shared")


def _files(where: Path) -> list[Path]:
    if where.is_file():
        return [where]
    return sorted(
        p
        for p in where.rglob("*")
        if p.is_file() and not SKIPPED.intersection(p.relative_to(ROOT).parts)
    )


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_readme_is_a_front_page() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_the_readme_links_every_page_of_the_manual() -> None:
    text = README.read_text(encoding="utf-8")
    pages = sorted(DOCS.glob("*.md"))
    assert len(pages) >= 10
    missing = [_name(p) for p in pages if f"]({_name(p)})" not in text]
    assert not missing, missing


@pytest.mark.parametrize("where", CITING, ids=_name)
def test_citations_stay_inside_the_repository(where: Path) -> None:
    found = []
    for path in _files(where):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not text
        for number, line in enumerate(text.splitlines(), 1):
            for outside in OUTSIDE:
                if outside in line and not (
                    outside == "../shared" and path == DOCS / "development.md"
                ):
                    found.append(f"{_name(path)}:{number}: {line.strip()}")
    assert not found, "cite docs/imds.md instead:\n" + "\n".join(found)


_CITATION = re.compile(r"docs/imds\.md,((?:\s*(?:and\s+)?'[^']+',?)+)")


def test_citations_name_a_section_of_docs_imds_md() -> None:
    """``docs/imds.md, 'Section'`` (a comment or docstring may break it across lines)
    names a heading of that page."""
    headings = {
        " ".join(h.split()) for h in _HEADING.findall((DOCS / "imds.md").read_text("utf-8"))
    }
    cited: dict[str, set[str]] = {}
    for where in CITING:
        for path in _files(where):
            if path.suffix not in (".py", ".md"):
                continue
            text = re.sub(r"\n\s*(?:#:?)?\s*", " ", path.read_text(encoding="utf-8"))
            for names in _CITATION.findall(text):
                for name in re.findall(r"'([^']+)'", names):
                    cited.setdefault(name, set()).add(_name(path))
    assert len(cited) >= 8, cited
    unknown = {name: sorted(paths) for name, paths in cited.items() if name not in headings}
    assert not unknown, unknown


# -- links ----------------------------------------------------------------------------------

_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.S | re.M)
_CODE = re.compile(r"(`+).*?\1", re.S)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_DEFINITION = re.compile(r"^\[[^\]]+\]:\s*(\S+)", re.M)
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """``text`` without fenced blocks and code spans, where a link is not a link."""
    return _CODE.sub("", _FENCE.sub("", text))


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives ``page``'s headings: lower case, punctuation dropped,
    spaces as hyphens, a repeated one numbered ``-1``, ``-2``..."""
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_anchors_follow_github() -> None:
    assert {
        "values-and-categories",
        "what-a-run-did--v",
    } <= anchors(DOCS / "cli.md")
    assert "valuepath-is-typed-by-path" in anchors(DOCS / "library.md")
    assert "amazons-mock-aemm" in anchors(DOCS / "imds.md")


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_leads_to_a_file_and_a_heading(page: Path) -> None:
    text = _prose(page.read_text(encoding="utf-8"))
    targets = _LINK.findall(text) + _DEFINITION.findall(text)
    broken = []
    for target in targets:
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif not linked.resolve().is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target}: no such heading in {_name(linked)}")
    assert not broken, broken
