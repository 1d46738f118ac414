"""No import cycle among the modules of pipeline/ and assets/.

Every import statement counts, also one inside a function or under TYPE_CHECKING:
a deferred import hides a cycle from the interpreter, not from the design. An
import of ``a.b`` is an edge to the module ``a.b`` (``a/b.py`` or ``a/b/__init__.py``);
``from a import c`` is an edge to ``a.c`` when that is a module, else to ``a``.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "assets")


def module_files(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file below the given top-level packages."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, modules: set[str]) -> set[str]:
    """The modules of the tree that the module's import statements name (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    return {name for name in names if name in modules and name != module}


def import_graph(root: Path = REPO, packages=PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules of the tree it imports."""
    files = module_files(root, packages)
    return {module: _imported(module, path, set(files)) for module, path in files.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycle_in_pipeline_and_assets():
    graph = import_graph()
    assert "pipeline.publish.write" in graph and "assets.report" in graph
    assert find_cycles(graph) == []


def test_the_check_finds_a_cycle_hidden_in_a_function(tmp_path):
    (tmp_path / "pipeline" / "report").mkdir(parents=True)
    (tmp_path / "assets").mkdir()
    (tmp_path / "pipeline" / "__init__.py").write_text("")
    (tmp_path / "assets" / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "publish.py").write_text("def f():\n    from pipeline.report import write\n")
    (tmp_path / "pipeline" / "report" / "__init__.py").write_text("from .latest import write\n")
    (tmp_path / "pipeline" / "report" / "latest.py").write_text("from pipeline import publish\nwrite = 1\n")
    assert find_cycles(import_graph(tmp_path)) == [["pipeline.publish", "pipeline.report", "pipeline.report.latest"]]
