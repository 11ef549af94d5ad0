"""The architecture, enforced: spec -> model -> tracing -> diff/bench -> report -> render -> cli.

Every import of the package (at the top of a module or inside a function) is read from the
source; a module may import only from its own layer or the layers below it. Catches a
computation that starts importing the renderer again, a cycle between tracing and
counting, or a view that reaches into the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "resnet_inspect"
LAYERS = {
    "errors": 0, "files": 0, "choices": 0, "units": 0, "collector": 0,
    "spec": 1, "presets": 1,
    "model": 2, "usermodel": 2,
    "tracing": 3, "counters": 3, "checkpoint": 3, "identification": 3, "equivalence": 3,
    "tracediff": 4, "renaming": 4, "benchmark": 4, "sources": 4, "conversion": 4,
    "report": 5,
    "render": 6,
    "api": 7, "cli": 7, "__main__": 7,
}  # fmt: skip


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _imports(path: Path) -> set[str]:
    """The package's top-level modules this file imports, resolved from relative imports."""
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = parts[: len(parts) - node.level]
            target = [*base, *(node.module.split(".") if node.module else [])]
            if target:
                found.add(target[0])
            else:  # "from . import x" at the package root
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("resnet_inspect."):
            found.add(node.module.split(".")[1])  # type: ignore[union-attr]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_from_its_layer_or_below(path: Path) -> None:
    own = _top(str(path.relative_to(PACKAGE).with_suffix("")).replace("/", "."))
    assert own in LAYERS, f"{own}: place this module in a layer"
    above = {m for m in _imports(path) if m in LAYERS and LAYERS[m] > LAYERS[own]}
    assert not above, f"{path.relative_to(PACKAGE)} imports {sorted(above)}, above its layer"


def test_nothing_that_computes_imports_rich() -> None:
    for path in MODULES:
        own = _top(str(path.relative_to(PACKAGE).with_suffix("")).replace("/", "."))
        if LAYERS[own] >= LAYERS["render"]:
            continue
        assert "import rich" not in path.read_text() and "from rich" not in path.read_text(), path


def test_renderers_return_text_and_touch_no_file() -> None:
    # --output (its checks, the temporary file, the rename) is the command line's: a renderer
    # that writes would bypass the atomic write and the checks on the target
    file_modules = {"os", "shutil", "tempfile", "pathlib"}
    for path in sorted((PACKAGE / "render").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}  # fmt: skip
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and not node.level}  # fmt: skip
        assert not imported & file_modules, f"render/{path.name} imports {sorted(imported & file_modules)}"


# --- no import cycle, inside a package too -------------------------------------------------------
def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(package: list[str], names: list[str]) -> str:
    """The module an import names: ``a.b`` when it is a module or package, else its parent
    (``from .fields import MAX_INT`` reads resnet_inspect.spec.fields)."""
    target = [*package, *names]
    while target:
        base = PACKAGE.parent.joinpath(*target)
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return ".".join(target)
        target = target[:-1]
    return ""


def _outside_type_checking(tree: ast.Module) -> list[ast.ImportFrom]:
    """Every ``from`` import, except those under ``if TYPE_CHECKING:`` (they never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            skipped.update(id(n) for n in ast.walk(node))
    return [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and id(n) not in skipped]


def _module_edges(path: Path) -> set[str]:
    """The package's modules this file imports (at the top or inside a function)."""
    own = _module_name(path).split(".")
    package = own if path.name == "__init__.py" else own[:-1]
    edges: set[str] = set()
    for node in _outside_type_checking(ast.parse(path.read_text(encoding="utf-8"))):
        if not node.level:
            if (node.module or "").startswith("resnet_inspect"):
                edges.add(_resolve([], node.module.split(".")))  # type: ignore[union-attr]
            continue
        base = package[: len(package) - node.level + 1]
        named = node.module.split(".") if node.module else []
        for alias in node.names:  # "from . import x": the module x, or a name of the package
            edges.add(_resolve(base, [*named, alias.name]))
    return edges - {"", _module_name(path)}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (module -> modules it imports), or [] if there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_no_import_cycle_between_modules_even_inside_a_package() -> None:
    # a package's __init__ may re-export its modules; a module that reads names back from its
    # own package's __init__ closes a cycle (spec.parse once did, held up by import order)
    graph = {_module_name(p): _module_edges(p) for p in PACKAGE.rglob("*.py")}
    assert _cycle(graph) == []


def test_the_cycle_finder_sees_a_module_reading_its_own_package() -> None:
    # the shape spec had: the package re-exports parse, and parse imports the package's names
    assert _cycle({"p": {"p.parse", "p.options"}, "p.parse": {"p"}, "p.options": set()}) == [
        "p", "p.parse", "p"]
    assert _cycle({"p": {"p.parse"}, "p.parse": {"p.options"}, "p.options": set()}) == []
    assert _module_edges(PACKAGE / "spec" / "parse.py") >= {"resnet_inspect.spec.resnet_spec"}
