"""The package's layering and the size of its functions, read from the source with ``ast``.

Layers, bottom to top (DEVELOPERS.md, "Layers"): foundations; the checker; derive; objectives, data and models
beside the checker, importing only foundations; the training step; the two trainers (synthetic and image); the
CLI and the run figures on top. A module may import its own layer and the layers :data:`MAY_IMPORT` names for it.
Every import counts, module-level and function-local (a function-local import is for a heavy or optional
dependency, never for hiding a circle), ``TYPE_CHECKING`` imports included; and the graph of modules has no
cycle. Dynamic imports (``importlib.import_module`` of the CLI's subcommands and of the objectives' registry) are
not statements and are not read.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "idealssl"

#: layer -> modules and packages in it (a package covers its submodules; the longest match wins)
LAYERS: dict[str, tuple[str, ...]] = {
    "foundations": (
        "idealssl.errors",
        "idealssl.jsonutil",
        "idealssl.atomic",
        "idealssl.outdir",
        "idealssl.figfile",
        "idealssl.probes",
        "idealssl.theory_math",
        "idealssl.stats",
        "idealssl.metrics",
        "idealssl.label_free",
        "idealssl.inputs",
        "idealssl.objectives.defaults",  # published hyperparameters, torch-free: derive reads them
    ),
    "checker": ("idealssl.checker",),
    "derive": ("idealssl.derive",),
    "objectives": ("idealssl.objectives",),
    "data": ("idealssl.data",),
    "models": ("idealssl.models",),
    # the one training step and its schedules, below both trainers
    "step": ("idealssl.step",),
    "synthetic": ("idealssl.synthetic",),
    "train": ("idealssl.train", "idealssl.configs"),  # configs: the image trainer's presets (YAML)
    "top": (
        "idealssl",  # the package's lazy facade (idealssl.check, load_*); its __version__ may be read from anywhere
        "idealssl.cli",
        "idealssl.cli_completion",
        "idealssl.cli_plot",
        "idealssl.cli_select",
        "idealssl.plots",
        "idealssl.checker.cli",
        "idealssl.derive.cli",
        "idealssl.synthetic.cli",
        "idealssl.train.cli_train",
        "idealssl.train.cli_eval",
        "idealssl.train.cli_export",
    ),
}
#: layer -> the other layers it may import
MAY_IMPORT: dict[str, set[str]] = {
    "foundations": set(),
    "checker": {"foundations"},
    "derive": {"foundations", "checker"},
    "objectives": {"foundations"},
    "data": {"foundations"},
    "models": {"foundations"},
    "step": {"foundations", "objectives"},
    "synthetic": {"foundations", "checker", "derive", "objectives", "step"},
    "train": {"foundations", "checker", "derive", "objectives", "data", "models", "step"},
    "top": set(LAYERS) - {"top"},
}
#: imports allowed to cross a layer, each with its reason (none: the layering holds without exception)
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()
#: names of the package root that any module may import (constants; the root imports nothing at module level)
ROOT_CONSTANTS = {"__version__"}

#: the longest a function may be, in lines (``end_lineno - lineno + 1`` of its ``def``)
MAX_FUNCTION_LINES = 80
#: functions allowed over the limit (none)
LONG_FUNCTIONS_ALLOWED: set[str] = set()


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _target(name: str, known: dict[str, Path]) -> str | None:
    """The module ``name`` resolves to: itself, else the nearest enclosing package; None outside the package."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _root_names(node: ast.Import, scope: ast.AST) -> set[str]:
    """The attributes of ``idealssl`` read in ``scope`` after a plain ``import idealssl``."""
    return {
        n.attr
        for n in ast.walk(scope)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "idealssl"
    }


def _edges_of(node: ast.stmt, scope: ast.AST, module: str, is_package: bool, known: dict[str, Path]) -> set[str]:
    """The package's modules one import statement names (submodules when ``from pkg import sub``)."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == "idealssl" and _root_names(node, scope) <= ROOT_CONSTANTS:
                continue
            if alias.name.split(".")[0] == "idealssl":
                found.add(_target(alias.name, known) or alias.name)
        return found
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = module.split(".")[: len(module.split(".")) - node.level + is_package]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source.split(".")[0] != "idealssl":
        return found
    names = {a.name for a in node.names}
    if source == "idealssl" and names <= ROOT_CONSTANTS:
        return found
    for name in names:
        found.add(_target(f"{source}.{name}", known) or source)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports, by any import statement anywhere in its source."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        scopes = {
            id(n): s
            for s in ast.walk(tree)
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
            for n in ast.walk(s)
        }
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                scope = scopes.get(id(node), tree)
                edges |= _edges_of(node, scope, module, path.name == "__init__.py", known)
        graph[module] = edges - {module}
    return graph


def layer_of(module: str) -> str:
    best, layer = -1, ""
    for name, members in LAYERS.items():
        for m in members:
            match = module == m or (m != "idealssl" and module.startswith(m + "."))
            if match and len(m) > best:
                best, layer = len(m), name
    assert layer, f"{module} is in no layer: add it to LAYERS in tests/test_layout.py and DEVELOPERS.md"
    return layer


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer_and_imports_only_below_it():
    upward = []
    for module, targets in import_graph().items():
        mine = layer_of(module)
        for target in sorted(targets):
            theirs = layer_of(target)
            if theirs != mine and theirs not in MAY_IMPORT[mine] and (module, target) not in KNOWN_EXCEPTIONS:
                upward.append(f"{module} ({mine}) imports {target} ({theirs})")
    assert not upward, "imports that cross the layering (DEVELOPERS.md, Layers):\n" + "\n".join(upward)


def test_the_known_exceptions_still_exist():
    graph = import_graph()
    stale = sorted(e for e in KNOWN_EXCEPTIONS if e[1] not in graph.get(e[0], set()))
    assert not stale, f"allowed exceptions no longer in the tree (remove them from KNOWN_EXCEPTIONS): {stale}"


def test_no_import_cycle_counting_function_local_imports():
    found = cycles(import_graph())
    assert not found, f"import cycles: {found}"


def test_the_cycle_finder_and_the_resolver_see_what_they_should():
    """The checks above are only as good as the graph: a known cycle is found, relative imports resolve."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "idealssl.checker.geometry" in graph["idealssl.checker.api"]  # from .geometry import ...
    assert "idealssl.atomic" in graph["idealssl.synthetic.worlds"]  # from .. import atomic
    assert "idealssl.checker.api" in graph["idealssl"]  # the facade's function-local import
    assert "idealssl.step" in graph["idealssl.train.loop"]
    assert layer_of("idealssl.checker.cli") == "top" and layer_of("idealssl.checker.api") == "checker"
    assert layer_of("idealssl.objectives.defaults") == "foundations" and layer_of("idealssl") == "top"


def long_functions(limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """``path::name`` -> lines, of every function (or method) of the package longer than ``limit``."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > limit:
                    out[f"{path.relative_to(ROOT).as_posix()}::{node.name}"] = lines
    return out


def test_no_function_is_over_80_lines():
    found = long_functions()
    over = {k: v for k, v in found.items() if k not in LONG_FUNCTIONS_ALLOWED}
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines (split them): {over}"
    stale = sorted(LONG_FUNCTIONS_ALLOWED - set(found))
    assert not stale, f"no longer over the limit (remove them from LONG_FUNCTIONS_ALLOWED): {stale}"
    assert long_functions(limit=5), "the counter finds nothing: it is not reading the package"
