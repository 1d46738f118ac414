"""No import cycle among the modules of pipeline/ and assets/, and the layering rules of the source folders.

Every import statement counts, also one inside a function or under TYPE_CHECKING:
a deferred import hides a cycle from the interpreter, not from the design. An
import of ``a.b`` is an edge to the module ``a.b`` (``a/b.py`` or ``a/b/__init__.py``);
``from a import c`` is an edge to ``a.c`` when that is a module, else to ``a``.
"""

from __future__ import annotations

import ast
import re
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
    return {name for name in imported_names(module, path, modules) if name in modules and name != module}


def imported_names(module: str, path: Path, modules: set[str]) -> set[str]:
    """Every dotted name the module's import statements name, in the tree or not (``dagster``, ``duckdb``)."""
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
    return names


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


# --- layering of the source folders (issue 27: one folder per source) ---------------------------------------
# A source's client: pipeline/clients/* (the source-neutral HTTP layer) and pipeline/sources/<name>/client[/...].
CLIENT = re.compile(r"pipeline\.clients(\..+)?|pipeline\.sources\.[^.]+\.client(\..+)?")
# What a client may not import: Dagster (and the asset and resource modules, which are Dagster), and the readers
# (pipeline/readers/*, a source's reader modules or reader package: comext/bulk_reader.py, comtrade/reader/view.py);
# pipeline.readers.inputs is the input-file types they share.
CLIENT_MAY_NOT = re.compile(r"(dagster|dagster_\w+|assets|pipeline\.resources|pipeline\.readers|"
                            r"pipeline\.sources\.[^.]+\.[^.]*reader[^.]*)(\..+)?")
SHARED_TYPES = {"pipeline.readers.inputs"}
# The folders every source shares: none of their modules or packages is a source's (named after it).
SHARED_FOLDERS = ("pipeline/clients", "pipeline/readers")


def layering_violations(root: Path = REPO) -> list[str]:
    """``module -> import`` for every import that breaks a rule:

    * a client imports neither Dagster nor a reader;
    * nothing outside a source's folders (``pipeline/sources/<name>/``, ``assets/<name>/``) imports a module of
      that source; machinery reaches it through the registry (``Source`` traits, ``module:attribute`` paths),
      and only ``pipeline.sources.registry`` names the source packages themselves;
    * ``pipeline/clients/`` holds no source's package: its client is in the source's folder;
    * ``pipeline/clients/`` and ``pipeline/readers/`` hold no module or package named after a source
      (``comtrade_view.py``): the source's client and readers are in its folder.
    """
    files = module_files(root)
    sources = {p.name for p in (root / "pipeline" / "sources").iterdir() if (p / "__init__.py").is_file()}
    found = []
    for module, path in sorted(files.items()):
        names = imported_names(module, path, set(files))
        if CLIENT.fullmatch(module):
            found += [f"{module} -> {n}" for n in sorted(names)
                      if CLIENT_MAY_NOT.fullmatch(n) and n not in SHARED_TYPES]
        parts = module.split(".")
        own = parts[2] if parts[:2] == ["pipeline", "sources"] and len(parts) > 2 else (
            parts[1] if parts[0] == "assets" and len(parts) > 1 else None)
        for name in sorted(names):
            target = name.split(".")
            if target[:2] != ["pipeline", "sources"] or len(target) < 3 or target[2] not in sources:
                continue
            if target[2] != own and not (len(target) == 3 and module == "pipeline.sources.registry"):
                found.append(f"{module} -> {name}")
    found += [f"pipeline/clients/{p.name}/ is a source's package" for p in sorted((root / "pipeline" / "clients").iterdir())
              if p.is_dir() and (p / "__init__.py").is_file()]
    found += [f"{folder}/{p.name} is a source's module" for folder in SHARED_FOLDERS
              for p in sorted((root / folder).iterdir())
              if p.name.startswith(tuple(sorted(sources))) and f"{folder}/{p.name}/ is a source's package" not in found]
    return found


def test_sources_keep_to_their_folders():
    modules = module_files(REPO)
    # Comtrade's readers are in its folder, where the rules above see them as a source's reader modules
    assert {"pipeline.sources.comtrade.reader", "pipeline.sources.comtrade.reader.parquet",
            "pipeline.sources.comtrade.reader.view"} <= set(modules)
    assert not any(m.startswith("pipeline.readers.comtrade") for m in modules)
    assert layering_violations() == []


def test_the_layering_check_finds_each_kind_of_breach(tmp_path):
    for folder in ("pipeline/clients/acme", "pipeline/sources/acme/client", "pipeline/sources/other/reader",
                   "assets/acme", "pipeline/readers"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "pipeline" / "cli").mkdir()
    for init in ("pipeline", "pipeline/clients", "pipeline/clients/acme", "pipeline/sources", "pipeline/sources/acme",
                 "pipeline/sources/acme/client", "pipeline/sources/other", "pipeline/sources/other/reader", "assets",
                 "assets/acme", "pipeline/cli", "pipeline/readers"):
        (tmp_path / init / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "sources" / "acme" / "reader.py").write_text("import duckdb\n")
    (tmp_path / "pipeline" / "sources" / "acme" / "client" / "store.py").write_text(
        "import duckdb\nfrom dagster import asset\nfrom pipeline.sources.acme.reader import TABLE\n"
        "from pipeline.readers.inputs import InputError\n")
    (tmp_path / "pipeline" / "sources" / "other" / "status.py").write_text(
        "def rows():\n    from pipeline.sources.acme.client import store\n")
    (tmp_path / "pipeline" / "cli" / "fetch.py").write_text("from pipeline.sources.acme import reader\n")
    (tmp_path / "assets" / "acme" / "api.py").write_text("from pipeline.sources.acme.client import store\n")
    (tmp_path / "pipeline" / "sources" / "registry.py").write_text("from pipeline.sources.acme import SOURCE\n")
    # a client module importing its own source's reader package; a source's reader left in the shared readers
    (tmp_path / "pipeline" / "sources" / "other" / "reader" / "view.py").write_text("import duckdb\n")
    (tmp_path / "pipeline" / "sources" / "other" / "client.py").write_text(
        "from pipeline.sources.other.reader.view import sync\n")
    (tmp_path / "pipeline" / "readers" / "inputs.py").write_text("")
    (tmp_path / "pipeline" / "readers" / "acme_view.py").write_text("from pipeline.readers.inputs import InputFile\n")
    assert layering_violations(tmp_path) == [
        "pipeline.cli.fetch -> pipeline.sources.acme.reader",
        "pipeline.sources.acme.client.store -> dagster",
        "pipeline.sources.acme.client.store -> pipeline.sources.acme.reader",
        "pipeline.sources.other.client -> pipeline.sources.other.reader.view",
        "pipeline.sources.other.status -> pipeline.sources.acme.client.store",
        "pipeline/clients/acme/ is a source's package",
        "pipeline/readers/acme_view.py is a source's module",
    ]
