"""No import cycles anywhere in xentui/: top-level imports, imports inside
functions and imports under TYPE_CHECKING all count (a cycle hidden in a
deferred import is still one piece of code that two modules need from each
other: move the shared piece down instead).

The import-linter contract "no-cycles" (pyproject.toml) compares the children of
each package only, so it cannot see a cycle through a package's own __init__
(`xentui.a` imports `xentui.a.b`, which imports `xentui.a`), and it needs
Python 3.11+. This test reads the graph from the source with `ast` on every
Python the package supports and names each cycle it finds.

Edges follow import-linter's (grimp's) rules: `from p import m` is an edge to
the module p.m when there is one, otherwise to p; `import p.q.r` is an edge to
p.q.r only, not to its parent packages. Imports by name at run time
(importlib.import_module in cli.py and recovery/step_registry.py) are not
statements and are not seen.
"""

from __future__ import annotations

import ast
import pathlib
from collections import deque
from typing import Dict, List, Optional, Set

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def module_names(package_dir: pathlib.Path) -> Dict[str, pathlib.Path]:
    """Dotted module name -> source file, for every module of the package."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(package_dir: pathlib.Path) -> Dict[str, Set[str]]:
    """Module -> the modules of the same package it imports, from every import
    statement anywhere in its source."""
    modules = module_names(package_dir)
    root = package_dir.name

    def known(name: str) -> Optional[str]:
        # The module itself, or the package that defines the imported name.
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: Dict[str, Set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: List[Optional[str]] = []
            if isinstance(node, ast.Import):
                targets = [known(alias.name) for alias in node.names if alias.name.split(".")[0] == root]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                if base.split(".")[0] != root:
                    continue
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else known(base))
            graph[name].update(t for t in targets if t is not None and t != name)
    return graph


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One shortest cycle for every strongly connected group of modules (Tarjan's
    algorithm, iterative), each as the path of modules back to its first."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    groups: List[Set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
    return [_shortest_cycle(graph, group) for group in groups]


def _shortest_cycle(graph: Dict[str, Set[str]], group: Set[str]) -> List[str]:
    start = min(group)
    came_from: Dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in sorted(graph[node] & group):
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if successor not in came_from:
                came_from[successor] = node
                queue.append(successor)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group always has one


def test_xentui_has_no_import_cycles():
    graph = import_graph(ROOT / "xentui")
    assert len(graph) > 100 and sum(map(len, graph.values())) > 500, "the graph came out (nearly) empty"
    found = cycles(graph)
    assert not found, "import cycles in xentui/ (move the shared piece down):\n" + "\n".join(
        " -> ".join(cycle) for cycle in found
    )


def _write(root: pathlib.Path, files: Dict[str, str]) -> pathlib.Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


@pytest.mark.parametrize(
    "files, expected",
    [
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n",
                "pkg/b.py": "from pkg import a\n",
            },
            ["pkg.a", "pkg.b", "pkg.a"],
            id="type-checking-import",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "def later():\n    from . import b\n",
                "pkg/b.py": "import pkg.a\n",
            },
            ["pkg.a", "pkg.b", "pkg.a"],
            id="deferred-relative-import",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/sub/__init__.py": "from pkg.sub.a import A\n",
                "pkg/sub/a.py": "from pkg.sub import helper\n",
            },
            ["pkg.sub", "pkg.sub.a", "pkg.sub"],
            id="through-own-package-init",
        ),
        pytest.param(
            {
                "pkg/__init__.py": "",
                "pkg/x/__init__.py": "",
                "pkg/x/a.py": "from ..y.b import f\n",
                "pkg/y/__init__.py": "",
                "pkg/y/b.py": "from pkg.z import g\n",
                "pkg/z.py": "def g():\n    from pkg.x import a\n",
            },
            ["pkg.x.a", "pkg.y.b", "pkg.z", "pkg.x.a"],
            id="across-packages",
        ),
    ],
)
def test_a_planted_cycle_is_found_and_named(tmp_path, files, expected):
    assert cycles(import_graph(_write(tmp_path, files))) == [expected]


def test_an_acyclic_package_passes(tmp_path):
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/low.py": "import os\nimport pkgx\n",
            "pkg/mid.py": "from pkg import low\nfrom pkg.low import thing\n",
            "pkg/high.py": "from . import mid\nfrom .mid import other\nimport pkg.low\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg.high"] == {"pkg.mid", "pkg.low"}
    assert cycles(graph) == []
