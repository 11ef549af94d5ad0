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
    "errors": 0, "units": 0, "collector": 0,
    "spec": 1, "presets": 1,
    "model": 2, "usermodel": 2,
    "tracing": 3, "counters": 3, "checkpoint": 3,
    "diff": 4, "bench": 4, "sources": 4, "structure": 4,
    "report": 5,
    "render": 6, "render_html": 6,
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
