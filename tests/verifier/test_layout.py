"""The verifier's module layout: a small public API over private modules importing one way."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "verifier"
# Each private module may import only from modules listed before it.
LAYERS = ["_errors", "_tlog", "_base", "_jose", "_statuslist", "_trust", "_input", "_resolvers", "_credential",
          "_logcheck", "_monitor", "_batch", "_cli"]
PUBLIC_MODULES = {"__init__", "__main__", "grading", "offline"}


def _imports(tree: ast.Module):
    """(module imported relative to the package, names, is top level) for every ``from .x import …``."""
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [a.name for a in node.names]
            if node.module is None:  # from . import offline
                for name in names:
                    yield name, [], id(node) in top
            else:
                yield node.module, names, id(node) in top


def _trees():
    for path in sorted(PACKAGE.glob("*.py")):
        yield path.stem, ast.parse(path.read_text())


def test_every_module_is_public_or_private_by_name():
    names = {stem for stem, _ in _trees()}
    assert names - PUBLIC_MODULES == set(LAYERS), "a new module must be _-prefixed and placed in LAYERS"


def test_imports_run_one_way_and_at_module_level():
    problems = []
    for stem, tree in _trees():
        if stem in ("__init__", "__main__"):
            continue
        for module, names, top_level in _imports(tree):
            if stem == "__init__":
                continue
            if not top_level and not _under_type_checking(tree, module):
                problems.append(f"{stem} imports .{module} inside a function")
            if stem in ("grading", "offline"):
                problems.append(f"{stem} is standard-library only but imports .{module}")
                continue
            if module in PUBLIC_MODULES:
                continue
            if LAYERS.index(module) >= LAYERS.index(stem):
                problems.append(f"{stem} imports .{module}, a later layer")
    assert problems == []


def _under_type_checking(tree: ast.Module, module: str) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            if any(isinstance(n, ast.ImportFrom) and n.module == module for n in ast.walk(node)):
                return True
    return False


def test_no_module_imports_another_modules_private_names():
    problems = [f"{stem} imports {name} from .{module}"
                for stem, tree in _trees() for module, names, _ in _imports(tree)
                for name in names if name.startswith("_")]
    assert problems == []


def test_registry_and_tests_use_only_the_public_api():
    root = PACKAGE.parent
    problems = []
    for path in [*root.glob("registry/**/*.py"), *root.glob("tests/**/*.py"), *root.glob("bench/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("verifier."):
                sub = node.module.split(".")[1]
                if sub not in PUBLIC_MODULES and not (sub == "_cli" and (path.parts[-3] == "tests" or path.parts[-2] == "bench")):
                    problems.append(f"{path.relative_to(root)}: from {node.module}")
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("verifier._") and path.name != "test_standalone.py":
                        problems.append(f"{path.relative_to(root)}: import {alias.name}")
    assert problems == []
