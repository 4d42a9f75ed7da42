"""The store-orders example is built on the core's public interface alone: its import
graph holds no Quorum feature package (decisions, accounts, invitations, idempotency, the
API), directly or through another module, as tests/test_conventions.py checks for the
core itself."""

import ast
import subprocess
import sys

import pytest

from tests.services import ROOT

EXAMPLE = ROOT / "examples" / "store_orders"
# What an application on the core may use: the core, its database plumbing, the settings
# they read, the stream shutdown; ``quorum`` itself is the package these live in.
ALLOWED = ("quorum.realtime", "quorum.db", "quorum.settings", "quorum.shutdown")
FEATURES = ("quorum.decisions", "quorum.accounts", "quorum.invitations", "quorum.idempotency",
            "quorum.api", "quorum.jobs")  # fmt: skip


def quorum_imports(tree: ast.Module) -> list[str]:
    """Every ``quorum`` module a source file names in an import."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return [name for name in names if name == "quorum" or name.startswith("quorum.")]


def outside(names: list[str], allowed: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if not any(n == a or n.startswith(a + ".") for a in allowed))


def test_the_example_names_only_the_core_in_its_imports() -> None:
    found = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in EXAMPLE.rglob("*.py")
        for name in outside(quorum_imports(ast.parse(path.read_text())), ALLOWED)
    }
    assert found == set()


def test_the_example_loads_no_feature_module() -> None:
    """Indirect imports too: a fresh interpreter imports the example's app and lists
    every module that got loaded."""
    code = "import sys, examples.store_orders.app\nprint('\\n'.join(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    ours = [name for name in loaded if name.startswith("quorum.")]
    assert "quorum.realtime.sse" in ours  # the check sees the core being loaded
    assert outside(ours, ALLOWED) == []
    assert outside(ours, FEATURES) == sorted(ours)  # none of them is a feature


@pytest.mark.parametrize(
    "source",
    ["from quorum.decisions import events\n", "import quorum.api.errors\n",
     "from quorum.accounts.tokens import issue\n"],
)  # fmt: skip
def test_the_check_finds_a_feature_import(source: str) -> None:
    assert outside(quorum_imports(ast.parse(source)), ALLOWED) != []
