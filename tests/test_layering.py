"""Imports flow one way: scenarios <- benchmarks -> reports, and reports read files only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

# Which top-level imports each package may use besides the standard library and itself.
ALLOWED = {
    "mockserver": {"aiohttp", "multidict", "yarl"},
    "scenarios": {"aiohttp", "orjson"},  # orjson is the "faster parser" variant's lesson
    "reports": {"jinja2", "matplotlib", "jsonschema"},
}


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_allows(package: str) -> None:
    """Each package imports only the stdlib, itself and its allowed third-party libraries."""
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package} has no modules"
    bad = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in top_level_imports(path) - STDLIB - ALLOWED[package] - {package}
    }
    assert not bad, f"layering broken: {sorted(bad)}"
