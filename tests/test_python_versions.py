"""Every Python from 3.9 on: the rule, checked whichever interpreter runs the tests.

The test suite passes on CPython 3.9 to 3.13 (``PYTHON=.venv39/bin/python scripts/check``,
docs/development.md), which is the proof; CI runs one interpreter, so what is read here
from the source keeps the rule there too: the 3.9 grammar, no ``X | Y`` evaluated at run
time (pydantic's field annotations included), and no standard-library name newer than 3.9
outside a ``sys.version_info`` (or ``TYPE_CHECKING``) gate. (``mypy``, run for Python
3.10 by ``mypy.ini``, flags the names newer than 3.10; the list below is 3.10's and the
few mypy cannot see.)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ec2imds.models import IMDSModel

ROOT = Path(__file__).resolve().parent.parent
OLDEST = (3, 9)
SOURCES = sorted(
    p
    for folder in ("ec2imds", "codegen", "bench", "tests")
    for p in (ROOT / folder).rglob("*.py")
    if ".peers" not in p.parts
)

#: typing's names newer than 3.9 (3.10: TypeAlias...; 3.11: Self...; 3.12, 3.13).
NEW_TYPING = {
    "Concatenate", "ParamSpec", "ParamSpecArgs", "ParamSpecKwargs", "TypeAlias", "TypeGuard",
    "is_typeddict", "LiteralString", "Never", "NotRequired", "Required", "Self",
    "TypeVarTuple", "Unpack", "assert_never", "assert_type", "clear_overloads",
    "dataclass_transform", "get_overloads", "reveal_type", "TypeAliasType", "override",
    "get_protocol_members", "is_protocol", "NoDefault", "ReadOnly", "TypeIs",
}  # fmt: skip
#: Modules newer than 3.9.
NEW_MODULES = {"tomllib"}
#: ``module.name`` newer than 3.9, and the builtins.
NEW_ATTRIBUTES = {
    "types.UnionType", "types.EllipsisType", "types.NoneType", "sys.stdlib_module_names",
    "sys.orig_argv", "contextlib.aclosing", "contextlib.chdir", "itertools.pairwise",
    "itertools.batched", "inspect.get_annotations", "datetime.UTC", "asyncio.timeout",
    "asyncio.TaskGroup", "asyncio.Runner", "enum.StrEnum",
}  # fmt: skip
NEW_BUILTINS = {"aiter", "anext", "EncodingWarning", "ExceptionGroup", "BaseExceptionGroup"}
#: Keyword arguments newer than 3.9, by callee.
NEW_KEYWORDS = {"zip": {"strict"}, "dataclass": {"slots", "kw_only", "match_args"}}
#: Methods newer than 3.9 (``int.bit_count``, ``BaseException.add_note``).
NEW_METHODS = {"bit_count", "add_note"}
BUILTIN_TYPES = {
    "bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset", "int", "list",
    "memoryview", "object", "set", "str", "tuple", "type",
}  # fmt: skip


def _is_gate(test: ast.expr) -> bool:
    """``if sys.version_info ...``, ``if TYPE_CHECKING`` (or an ``or``/``and`` of them)."""
    text = ast.unparse(test)
    return "sys.version_info" in text or "TYPE_CHECKING" in text


def _ungated(node: ast.AST) -> Iterator[ast.AST]:
    """Every node outside a version or type-checking gate, in source order."""
    yield node
    if isinstance(node, (ast.If, ast.IfExp)) and _is_gate(node.test):
        return  # both branches: one is for the other Pythons
    for child in ast.iter_child_nodes(node):
        yield from _ungated(child)


def _annotations(tree: ast.Module) -> set[int]:
    """``id()`` of every node inside an annotation, when ``from __future__ import
    annotations`` says none is evaluated."""
    future = any(
        isinstance(n, ast.ImportFrom)
        and n.module == "__future__"
        and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )
    if not future:
        return set()
    roots: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.AnnAssign, ast.arg)) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            roots.append(node.returns)
    return {id(n) for root in roots for n in ast.walk(root)}


def _type_like(node: ast.expr) -> bool | None:
    """Whether ``node``, a member of ``a | b``, is a type (``None``: it could be)."""
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.Subscript):
        return True
    if isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Attribute):
        name = node.attr
    else:
        return False  # a call, a set, a number...
    if name.lstrip("_").isupper():
        return False  # a constant: flags
    return True if name in BUILTIN_TYPES or name[0].isupper() else None


def _a_union_of_types(members: list[ast.expr]) -> bool:
    """``X | Y`` between types (not flags, sets, dicts or hypothesis strategies): no
    member that is not one, and one that is."""
    kinds = [_type_like(m) for m in members]
    return False not in kinds and True in kinds


def _union_members(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union_members(node.left) + _union_members(node.right)
    return [node]


def problems(source: str) -> list[str]:
    """What in ``source`` needs a Python newer than 3.9 at run time, line by line."""
    tree = ast.parse(source, feature_version=OLDEST)  # the grammar: match, except*...
    in_annotation = _annotations(tree)
    nodes = list(_ungated(tree))
    typing_nt = any(
        isinstance(n, ast.ImportFrom)
        and n.module == "typing"
        and any(a.name == "NamedTuple" for a in n.names)
        for n in nodes
    )
    found: list[str] = []
    inner: set[int] = set()

    def say(node: ast.AST, what: str) -> None:
        found.append(f"{getattr(node, 'lineno', 0)}: {what}")

    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            names = {a.name for a in node.names}
            for name in sorted(names & NEW_TYPING):
                say(node, f"typing.{name} at run time")
        if isinstance(node, ast.ImportFrom) and node.module in ("datetime", "enum"):
            for name in sorted({a.name for a in node.names} & {"UTC", "StrEnum"}):
                say(node, f"{node.module}.{name}")
        if isinstance(node, ast.Import):
            for name in sorted({a.name for a in node.names} & NEW_MODULES):
                say(node, f"import {name}")
        if isinstance(node, ast.ImportFrom) and node.module in NEW_MODULES:
            say(node, f"from {node.module} import")
        if isinstance(node, ast.Attribute):
            if ast.unparse(node) in NEW_ATTRIBUTES or node.attr == "UTC":  # dt.UTC too
                say(node, ast.unparse(node))
            if node.attr in NEW_METHODS:
                say(node, f".{node.attr}()")
        if isinstance(node, ast.Name) and node.id in NEW_BUILTINS:
            say(node, f"builtin {node.id}")
        if isinstance(node, ast.Call):
            callee = ast.unparse(node.func).rsplit(".", 1)[-1]
            for keyword in node.keywords:
                if keyword.arg in NEW_KEYWORDS.get(callee, ()):
                    say(node, f"{callee}({keyword.arg}=)")
            if callee in ("format_exception", "print_exception") and len(node.args) == 1:
                say(node, f"{callee}(exc) with one argument")
        if isinstance(node, ast.ClassDef):
            bases = {ast.unparse(b).split("[")[0] for b in node.bases}
            if typing_nt and {"NamedTuple", "Generic"} <= bases:
                say(node, f"class {node.name}(NamedTuple, Generic[...]) from typing")
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.BitOr)
            and id(node) not in in_annotation
            and id(node) not in inner
        ):
            members = _union_members(node)
            inner.update(id(n) for n in ast.walk(node))  # A | B | C: said once
            if _a_union_of_types(members):
                say(node, f"{ast.unparse(node)} evaluated at run time")
    return sorted(set(found), key=lambda line: int(line.split(":")[0]))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_source_runs_on_python_3_9(path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8")) == []


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_examples_run_on_python_3_9(page: Path) -> None:
    """What a user copies from the README or the manual runs on their Python too."""
    text = page.read_text(encoding="utf-8")
    for block in re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M):
        assert problems(block) == [], block


def test_the_pages_have_examples() -> None:
    assert sum(len(re.findall(r"^```python$", p.read_text(), re.M)) for p in PAGES) >= 15


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("match x:\n    case 1: pass\n", None),  # a SyntaxError
        ("def f(x: int | None) -> None: ...\n", "evaluated at run time"),  # no __future__
        ("Endpoint = tuple[str, int | None]\n", "evaluated at run time"),
        ("isinstance(v, str | bytes)\n", "evaluated at run time"),
        ("LenientTime = Annotated[datetime | str, X]\n", "evaluated at run time"),
        ("from typing import Self\n", "typing.Self at run time"),
        ("import tomllib\n", "import tomllib"),
        ("from datetime import UTC\n", "datetime.UTC"),
        ("now = dt.datetime.now(dt.UTC)\n", "dt.UTC"),
        ("t = asyncio.timeout(1)\n", "asyncio.timeout"),
        ("z = zip(a, b, strict=True)\n", "zip(strict=)"),
        ("@dataclass(frozen=True, slots=True)\nclass A:\n    x: int\n", "dataclass(slots=)"),
        ("e.add_note('x')\n", ".add_note()"),
        ("traceback.format_exception(e)\n", "format_exception(exc) with one argument"),
        (
            "from typing import Generic, NamedTuple\nclass R(NamedTuple, Generic[T]):\n    x: T\n",
            "class R(NamedTuple, Generic[...]) from typing",
        ),
    ],
)
def test_what_needs_a_newer_python_is_found(source: str, problem: str | None) -> None:
    """The check above finds what it looks for (else it would pass whatever the code)."""
    if problem is None:
        with pytest.raises(SyntaxError):
            problems(source)
    else:
        assert any(problem in line for line in problems(source)), problems(source)


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations\ndef f(x: int | None) -> str | None: ...\n",
        "if sys.version_info >= (3, 11):\n    from typing import Self\n",
        "if TYPE_CHECKING:\n    from typing_extensions import Self\n",
        "SLOTS = {'slots': True} if sys.version_info >= (3, 10) else {}\n",
        "flags = re.ASCII | re.IGNORECASE\nmerged = before | {'x'}\ns = st.none() | st.text()\n",
        "from __future__ import annotations\nx: int | None = None\n",
        "isinstance(v, (str, bytes))\nmask = os.O_RDONLY | _NOFOLLOW\n",
    ],
)
def test_what_runs_on_python_3_9_passes(source: str) -> None:
    assert problems(source) == []


def _models() -> list[type[IMDSModel]]:
    seen: list[type[IMDSModel]] = []
    todo: list[type[IMDSModel]] = [IMDSModel]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen


def test_pydantic_reads_no_x_or_y_annotation() -> None:
    """Pydantic evaluates every model field's annotation at run time (``__future__``
    or not), where ``X | None`` needs 3.10: the models say ``Optional[X]``."""
    written = {
        f"{cls.__name__}.{name}": annotation
        for cls in _models()
        for name, annotation in vars(cls).get("__annotations__", {}).items()
        if name in cls.model_fields
    }
    assert len(written) > 100
    assert {k: v for k, v in written.items() if "|" in str(v)} == {}


def test_the_oldest_python_is_said_alike_everywhere() -> None:
    """requires-python, ruff's target and the grammar checked here name one version;
    mypy checks for 3.10, the oldest the newest mypy targets (mypy.ini says why)."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    oldest = ".".join(map(str, OLDEST))
    assert f'requires-python = ">={oldest}"' in pyproject
    assert f'target-version = "py{oldest.replace(".", "")}"' in pyproject
    mypy_ini = (ROOT / "mypy.ini").read_text(encoding="utf-8")
    assert re.search(r"^python_version = 3\.10$", mypy_ini, re.M)
