"""The package's shape: what a clinic install imports, and no import cycles anywhere."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "src" / "ketabot"


def _imported_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(result.stdout.split())


def test_the_runtime_imports_no_maintainer_tooling():
    modules = _imported_after("import ketabot\nfrom ketabot import Bot\nimport ketabot.bot")
    heavy = {m for m in modules if m.split(".")[0] in {"matplotlib", "ranx", "scipy", "sklearn"}}
    assert heavy == set()
    assert not any(
        m.startswith(("langchain_chroma", "langchain_core.vectorstores")) for m in modules
    )
    assert not any(m.startswith("ketabot.evaluation") for m in modules)


@pytest.mark.slow
def test_serving_the_page_needs_no_eval_extra():
    modules = _imported_after("import ketabot.cli, ketabot.web.serve")
    assert not any(m.startswith(("ketabot.evaluation", "ranx", "matplotlib")) for m in modules)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every ketabot module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ketabot"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ketabot")}
    return found


def test_no_import_cycle_between_ketabot_modules():
    graph = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}
    # a package's __init__ re-exporting its own modules is not a cycle between modules
    graph = {
        m: {d for d in deps if d in graph and not m.startswith(d + ".") and d != m}
        for m, deps in graph.items()
    }
    visiting, done, cycles = set(), set(), []

    def visit(module: str, path: list[str]) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append([*path[path.index(module) :], module])
            return
        visiting.add(module)
        for dep in sorted(graph[module]):
            visit(dep, [*path, module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []
