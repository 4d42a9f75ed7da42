"""Conventions that a reviewer would otherwise have to catch by eye:

- one commit point: ``.commit`` appears nowhere in quorum/ but quorum/db/uow.py;
- the real-time core knows no feature and no HTTP layer: quorum/realtime imports nothing
  from quorum.decisions, quorum.accounts, quorum.jobs or quorum.api (which imports the
  features), directly or through another module;
- every ORM relationship is ``lazy="raise"``, so that a forgotten eager load fails in
  tests instead of raising MissingGreenlet (or running a query per row) in production.

The checks read the source with ``ast``; the last test feeds them known violations, so
that a check that silently stopped finding anything would fail too.
"""

import ast
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import configure_mappers

import quorum.db.models  # noqa: F401 - every mapped class, for the mapper check
from quorum.db.base import Base
from tests.services import ROOT

QUORUM = ROOT / "quorum"
COMMIT_POINT = QUORUM / "db" / "uow.py"
# Features, and the HTTP layer, which knows them all.
FEATURES = ("quorum.decisions", "quorum.accounts", "quorum.jobs", "quorum.api")

Finding = tuple[int, str]  # line, what


def modules(package: Path) -> Iterator[tuple[Path, str, ast.Module]]:
    for path in sorted(package.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        yield path, name, ast.parse(path.read_text(), filename=str(path))


def commits(tree: ast.Module, module: str) -> list[Finding]:
    """Any ``x.commit``, called or passed around."""
    return [
        (node.lineno, "commit")
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "commit"
    ]


def feature_imports(tree: ast.Module, module: str) -> list[Finding]:
    package = module.rsplit(".", 1)[0]  # for a package's __init__, the package itself
    found: list[Finding] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        found += [(node.lineno, name) for name in names if is_feature(name)]
    return found


def is_feature(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FEATURES)


def eager_relationships(tree: ast.Module, module: str) -> list[Finding]:
    found: list[Finding] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "relationship":
            continue
        lazy = next((k.value for k in node.keywords if k.arg == "lazy"), None)
        if not (isinstance(lazy, ast.Constant) and lazy.value == "raise"):
            found.append((node.lineno, ast.unparse(node)))
    return found


def violations(
    check: Callable[[ast.Module, str], list[Finding]], package: Path, *, skip: Path | None = None
) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path, name, tree in modules(package)
        if path != skip
        for line, what in check(tree, name)
    ]


def test_only_the_unit_of_work_commits() -> None:
    assert violations(commits, QUORUM, skip=COMMIT_POINT) == []
    assert commits(ast.parse(COMMIT_POINT.read_text()), "quorum.db.uow"), "where is the commit?"


def test_realtime_imports_no_feature() -> None:
    assert violations(feature_imports, QUORUM / "realtime") == []


def test_realtime_loads_no_feature_module() -> None:
    """Indirect imports too: a fresh interpreter imports every realtime module and lists
    what got loaded."""
    names = [name.removesuffix(".__init__") for _, name, _ in modules(QUORUM / "realtime")]
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\n"
    code += "print('\\n'.join(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(loaded) > len(names)
    assert sorted(m for m in loaded if is_feature(m)) == []


def test_relationships_are_lazy_raise() -> None:
    assert violations(eager_relationships, QUORUM) == []


def test_mapped_relationships_are_lazy_raise() -> None:
    """What the mappers ended up with: a ``backref`` creates a relationship that no
    ``relationship()`` call in the source spells out."""
    configure_mappers()  # backrefs exist only from here on
    eager = [
        f"{mapper.class_.__name__}.{rel.key}: lazy={rel.lazy!r}"
        for mapper in Base.registry.mappers
        for rel in mapper.relationships
        if rel.lazy != "raise"
    ]
    assert eager == []


@pytest.mark.parametrize(
    ("check", "source"),
    [
        (commits, "async def f(session):\n    await session.commit()\n"),
        (commits, "done = session.commit\n"),
        (feature_imports, "from quorum.decisions.models import Event\n"),
        (feature_imports, "import quorum.accounts.tokens\n"),
        (feature_imports, "from quorum import jobs\n"),
        (feature_imports, "from quorum.api.errors import problem\n"),
        (feature_imports, "from quorum import api\n"),
        (feature_imports, "from ..decisions import service\n"),
        (feature_imports, "def f():\n    from quorum.accounts import models\n"),
        (eager_relationships, "author = relationship(User)\n"),
        (eager_relationships, "author = orm.relationship(User, lazy='selectin')\n"),
    ],
)
def test_the_checks_find_violations(
    check: Callable[[ast.Module, str], list[Finding]], source: str
) -> None:
    assert check(ast.parse(source), "quorum.realtime.example")


@pytest.mark.parametrize(
    ("check", "source"),
    [
        (commits, "await session.flush()\n"),
        (feature_imports, "from quorum.db.uow import stage\nfrom . import hub\n"),
        (feature_imports, "import quorum.apiary\n"),
        (eager_relationships, "author = relationship(User, lazy='raise')\n"),
    ],
)
def test_the_checks_accept_what_is_allowed(
    check: Callable[[ast.Module, str], list[Finding]], source: str
) -> None:
    assert check(ast.parse(source), "quorum.realtime.example") == []
