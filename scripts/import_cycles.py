"""Lists the import cycles among a package's modules, counting imports inside functions.

Run: python scripts/import_cycles.py [PACKAGE_DIR]   (default: headsynth)

Every `import` and `from ... import` statement counts wherever it sits (module
level, inside a function, under `if TYPE_CHECKING:`), since each one is a
dependency a reader and a refactoring must follow. `from pkg import name`
counts as an import of `pkg.name` when that is a module, else of `pkg`.
Prints each cycle (one strongly connected group of modules, with one closed
path through it) and exits with 1 if there is any, 0 if there is none.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every `.py` file under `package_dir`."""
    root = package_dir.resolve().parent
    modules = {}
    for path in sorted(package_dir.resolve().rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path) -> Iterator[str]:
    """Dotted names each import statement of one module refers to (modules and `module.name`)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the package modules it imports (itself excluded)."""
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            # `from pkg import name`: the module pkg.name if there is one, else pkg itself.
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of two or more modules that import each other, directly or not (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def closed_path(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """One cycle through the group's first module (breadth-first, so a shortest one)."""
    members = set(group)
    start = group[0]
    previous = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package_dir", nargs="?", default="headsynth", help="the package folder")
    args = parser.parse_args(argv)
    modules = module_names(Path(args.package_dir))
    graph = import_graph(modules)
    groups = strongly_connected(graph)
    edges = sum(len(targets) for targets in graph.values())
    print(f"{len(modules)} modules, {edges} imports between them (inside functions included)")
    for group in groups:
        print(f"cycle of {len(group)} modules: {' -> '.join(closed_path(graph, group))}")
        for member in group[1:]:
            print(f"    also in it: {member}")
    print(f"{len(groups)} import cycles")
    return 1 if groups else 0


if __name__ == "__main__":
    sys.exit(main())
