"""The code base stays one a newcomer reads: small modules and functions, packages that say what
they own, and dependencies that point one way (the import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
SOURCES = sorted(p for d in ("pipeline", "app") for p in (REPO / d).rglob("*.py"))
PACKAGES = sorted(p.parent for p in SOURCES if p.name == "__init__.py")


def _name(path: Path) -> str:
    return str(path.relative_to(REPO))


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_the_sources_are_found() -> None:
    assert len(SOURCES) > 40
    assert {p.name for p in PACKAGES} >= {"pipeline", "app", "storage", "ingest", "model", "run"}


@pytest.mark.parametrize("path", SOURCES, ids=_name)
def test_module_is_short_enough_to_read_in_one_sitting(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_name(path)} has {lines} lines: split it by responsibility"


@pytest.mark.parametrize("path", SOURCES, ids=_name)
def test_functions_are_short(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{f.name} ({f.end_lineno - f.lineno + 1} lines, line {f.lineno})"
        for f in _functions(tree)
        if f.end_lineno is not None and f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{_name(path)}: functions over {MAX_FUNCTION_LINES} lines: {long}"


@pytest.mark.parametrize("package", PACKAGES, ids=_name)
def test_every_package_says_what_it_owns(package: Path) -> None:
    tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc and len(doc) > 40, f"{_name(package)}/__init__.py needs a docstring: what it owns"


@pytest.mark.parametrize("path", SOURCES, ids=_name)
def test_every_module_has_a_docstring(path: Path) -> None:
    if path.name == "__init__.py":
        return  # checked above, with a higher bar
    assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), _name(path)


def _exports(package: Path) -> set[str]:
    tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(x, ast.Name) and x.id == "__all__" for x in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


def _cross_package_imports() -> list[tuple[str, str, str, int]]:
    """(importing module, package, name, line) for each import of another engine package."""
    packages = {p.name for p in PACKAGES if p.parent.name == "pipeline"}
    found = []
    for path in SOURCES:
        parts = path.relative_to(REPO).with_suffix("").parts
        own = parts[1] if parts[0] == "pipeline" and len(parts) > 2 else parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                module = node.module.split(".")
                if module[0] != "pipeline" or len(module) < 2 or module[1] not in packages:
                    continue
                if module[1] == own:
                    continue
                names = [module[2]] if len(module) > 2 else [a.name for a in node.names]
                found += [(_name(path), module[1], n, node.lineno) for n in names]
    return found


def test_packages_are_used_only_through_what_their_init_exports() -> None:
    """A package's `__all__` is what the others may import: its modules or names."""
    exports = {p.name: _exports(p) for p in PACKAGES if p.parent.name == "pipeline"}
    imports = _cross_package_imports()
    assert len(imports) > 50  # the walk found the engine's imports
    outside = [
        f"{where}:{line} imports pipeline.{package}.{name}"
        for where, package, name, line in imports
        if name not in exports[package]
    ]
    assert not outside, "not in the package's __all__: " + "; ".join(outside)


def test_import_contracts_hold() -> None:
    """Layers, no cycles, no Flask in the engine, no I/O in the pure parts (pyproject.toml)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout, proc.stdout[-2000:]
