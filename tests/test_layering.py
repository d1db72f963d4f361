"""Imports flow one way (mockserver, scenarios, reports <- benchmarks) and never in a circle.

Every import counts, lazy ones inside functions included: a circle hidden in a function still
ties two modules into one. The rules are checked on the lab's tree and, to prove they can fail,
on small bad trees built here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "asyncio_perf_lab"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

# Which third-party imports each package may use, and which lab packages it may import.
THIRD_PARTY = {
    "mockserver": {"aiohttp", "multidict", "yarl"},
    "scenarios": {"aiohttp", "orjson"},  # orjson is the "faster parser" variant's lesson
    "reports": {"jinja2", "matplotlib", "jsonschema"},
    "benchmarks": None,  # the measuring and command layer may use any declared dependency
}
LAB_IMPORTS = {
    "mockserver": set(),
    "scenarios": set(),
    "reports": set(),
    "benchmarks": {"mockserver", "scenarios", "reports"},
}


def module_name(root: Path, path: Path) -> str:
    """``benchmarks/probes/lag.py`` -> ``asyncio_perf_lab.benchmarks.probes.lag``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def imports_of(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports, at any depth of the file, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def lab_modules(root: Path) -> dict[str, Path]:
    """Every module of the four lab packages under ``root``."""
    return {
        module_name(root, path): path
        for package in LAB_IMPORTS
        for path in sorted((root / package).rglob("*.py"))
    }


def layer_problems(root: Path) -> list[str]:
    """Imports that go the wrong way or use a library the layer does not allow."""
    problems = set()
    for name, path in lab_modules(root).items():
        layer = name.split(".")[1]
        for imported in imports_of(path, name):
            top, _, rest = imported.partition(".")
            if top in STDLIB or top == "":
                continue
            if top == PACKAGE:
                target = rest.split(".")[0]
                if target and target != layer and target not in LAB_IMPORTS[layer]:
                    problems.add(f"{name} imports {PACKAGE}.{target}")
            elif top in LAB_IMPORTS:
                problems.add(f"{name} imports {top} by its bare, uninstalled name")
            elif THIRD_PARTY[layer] is not None and top not in THIRD_PARTY[layer]:
                problems.add(f"{name} imports {top}, not allowed in {layer}/")
    return sorted(problems)


def find_circle(root: Path) -> list[str] | None:
    """One import circle among the lab's modules (as a path of names), or None."""
    modules = lab_modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for imported in imports_of(path, name):
            # `from pkg import mod` names a module; `from mod import func` names the module.
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                edges.add(imported)
        graph[name] = edges
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (circle := visit(nxt)):
                return circle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (circle := visit(node)):
            return circle
    return None


def test_the_lab_imports_only_what_its_layers_allow() -> None:
    """mockserver, scenarios and reports import no other lab package; benchmarks may import all."""
    assert len(lab_modules(ROOT)) > 60
    assert layer_problems(ROOT) == []


def test_the_lab_has_no_import_circle() -> None:
    """No two lab modules import each other, directly or round a longer loop, lazily or not."""
    assert find_circle(ROOT) is None


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """A small lab-shaped tree: every package gets an ``__init__.py``."""
    for package in LAB_IMPORTS:
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    for rel, text in files.items():
        (root / rel).write_text(text)
    return root


def test_a_wrong_way_import_is_caught(tmp_path: Path) -> None:
    """reports importing benchmarks (even lazily) and a bare `import scenarios` both fail."""
    root = write_tree(
        tmp_path,
        {
            "reports/page.py": "def f():\n    from asyncio_perf_lab.benchmarks import cli\n",
            "benchmarks/run.py": "import scenarios\n",
            "mockserver/app.py": "import matplotlib\n",
        },
    )
    assert layer_problems(root) == [
        "asyncio_perf_lab.benchmarks.run imports scenarios by its bare, uninstalled name",
        "asyncio_perf_lab.mockserver.app imports matplotlib, not allowed in mockserver/",
        "asyncio_perf_lab.reports.page imports asyncio_perf_lab.benchmarks",
    ]


@pytest.mark.parametrize("style", ["absolute", "relative"])
def test_a_circle_is_caught_even_through_a_lazy_import(tmp_path: Path, style: str) -> None:
    """ab -> compare -> cli -> ab (the circle this lab once had) is found, however it is spelled."""
    lazy = (
        "def f():\n    from asyncio_perf_lab.benchmarks import ab\n"
        if style == "absolute"
        else "def f():\n    from . import ab\n"
    )
    root = write_tree(
        tmp_path,
        {
            "benchmarks/ab.py": "from asyncio_perf_lab.benchmarks.compare import judge\n",
            "benchmarks/compare.py": "from asyncio_perf_lab.benchmarks.cli import fmt\n",
            "benchmarks/cli.py": lazy,
        },
    )
    circle = find_circle(root)
    assert circle is not None
    assert {c.rpartition(".")[2] for c in circle} == {"ab", "compare", "cli"}


@pytest.mark.parametrize(
    "argv",
    [["run", "--profile", "nope"], ["report", "/no/such/results.json"], ["compare", "a", "b"]],
)
def test_a_command_loads_only_what_it_needs_before_its_input_is_checked(argv: list[str]) -> None:
    """Bad input to one command is answered without importing aiohttp, matplotlib or the other
    commands (half a second to a second of every such call)."""
    code = (
        "import sys; from asyncio_perf_lab.benchmarks.cli import main; "
        f"rc = main({argv!r}); "
        "heavy = [m for m in ('aiohttp', 'matplotlib') if m in sys.modules]"
        " + [m for m in sys.modules if m.startswith('asyncio_perf_lab.benchmarks.commands.')"
        f" and not m.endswith(('.common', '.{argv[0]}'))]; "
        "print(rc, heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "2 []", proc.stdout + proc.stderr
