"""The layout rules of docs/design.md, checked: short files, no private imports across modules, no cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SOURCE / "ganimation_lib"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``from X import ...`` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _imports(module: str, path: Path) -> list[tuple[str, list[str], bool]]:
    """(imported module, names, at module level) for each import of the package's own modules in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _absolute(module, path, node)
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            target, names = "", []
            for alias in node.names:
                if alias.name.startswith("ganimation_lib"):
                    found.append((alias.name, [], id(node) in top_level))
            continue
        else:
            continue
        if target == "ganimation_lib" or target.startswith("ganimation_lib."):
            found.append((target, names, id(node) in top_level))
    return found


def test_no_source_file_is_longer_than_the_limit() -> None:
    long = {
        str(p.relative_to(SOURCE)): n for p in MODULES.values() if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these files (one concept per file, at most {MAX_LINES} lines): {long}"


def test_no_module_imports_another_modules_private_names() -> None:
    offences = []
    for module, path in MODULES.items():
        for target, names, _ in _imports(module, path):
            if any(_is_private(part) for part in target.split(".")):
                offences.append(f"{module} imports the private module {target}")
            offences += [f"{module} imports {target}.{name}" for name in names if _is_private(name)]
    assert not offences, "make these public or keep them inside their module:\n" + "\n".join(offences)


def _graph(top_level_only: bool = True) -> dict[str, set[str]]:
    """Module → the package modules it imports (at module level: what runs at import time)."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, path in MODULES.items():
        for target, names, top in _imports(module, path):
            if top_level_only and not top:
                continue
            for name in names or [""]:
                candidate = f"{target}.{name}" if name else target
                # ``from package import module`` imports the module; ``from module import name`` the module.
                graph[module].add(candidate if candidate in MODULES else target)
    for module in graph:
        graph[module].discard(module)
        graph[module] &= set(MODULES)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), ignoring package ``__init__``s."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node] - packages:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(set(graph) - packages):
        if module not in index:
            visit(module)
    return found


def test_the_modules_import_without_cycles() -> None:
    # Packages' __init__ files re-export their modules and are left out: a cycle through one is not a design
    # problem as long as every module imports on its own (next test).
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    saved = dict(MODULES)
    MODULES.clear()
    MODULES.update({name: Path(f"{name}.py") for name in graph})
    try:
        assert _cycles(graph) == [["a", "b", "c"]]
    finally:
        MODULES.clear()
        MODULES.update(saved)


def test_every_module_imports_first_on_its_own() -> None:
    # One interpreter (torch imported once); before each module every ganimation_lib module is forgotten, so
    # each is imported first, as a user's `import ganimation_lib.x.y` would: an import cycle that the
    # package's usual import order hides fails here.
    script = (
        "import importlib, sys, traceback\n"
        "import torch  # noqa: F401\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m == 'ganimation_lib' or m.startswith('ganimation_lib.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as error:\n"
        "        failed.append(f'{name}: {error!r}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    modules = [m for m in MODULES if not m.endswith("__main__")]
    run = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


#: docs/design.md's layout map: what each part of the package may import (besides itself).
BASE = ["version", "errors", "aus", "config_mixin", "devices", "atomic_files", "face_layout"]
MAY_IMPORT = {
    **{name: set(BASE[:i]) for i, name in enumerate(BASE)},
    "data": set(BASE),
    "models": set(BASE),
    "losses": {*BASE, "data", "models"},
    "faces": {*BASE, "data"},
    "inference": {*BASE, "data", "models", "faces"},
    "training": {*BASE, "data", "models", "losses", "faces", "inference"},
    "evaluation": {*BASE, "data", "models", "losses", "faces", "inference", "training"},
}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_imports_follow_the_layout_map_of_the_design_notes() -> None:
    offences = []
    for module, targets in _graph(top_level_only=False).items():
        allowed = MAY_IMPORT.get(_part(module))
        if allowed is None:  # the package's __init__, __main__, demo and cli may import everything
            continue
        offences += [f"{module} imports {t}" for t in sorted(targets) if _part(t) not in allowed | {_part(module)}]
    assert not offences, "update docs/design.md's map or move the code:\n" + "\n".join(offences)
