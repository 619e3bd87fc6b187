"""An import-linter contract: no import cycle between modules, counting the package ``__init__`` files each
import runs.

``import a.b.c`` (or ``from a.b.c import x``) first runs ``a/__init__.py`` and ``a/b/__init__.py``, so here
it counts as importing ``a``, ``a.b`` and ``a.b.c``. import-linter's ``acyclic_siblings`` compares siblings
only, so it misses a package whose ``__init__`` imports a module that imports back from the package: importing
that module first finds the package half-initialised. This contract finds such cycles and prints each as a
path, with the import statement behind every step.

Register it in pyproject.toml (``contract_types``) and run ``lint-imports`` from the repository root, which
import-linter puts on ``sys.path`` so that this ``tools`` package is found::

    [tool.importlinter]
    contract_types = ["acyclic_with_inits: tools.import_cycles.InitCyclesContract"]

    [[tool.importlinter.contracts]]
    name = "No import cycles, counting package __init__ files"
    type = "acyclic_with_inits"
    containers = ["textcluster"]

Imports inside functions count (grimp reads every import statement); a module named by a string to
``importlib.import_module`` does not, as it runs only when called, never while the importer is itself
being imported.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck

Graph = Mapping[str, set[str]]


def ancestors_and_self(module: str) -> list[str]:
    """``a.b.c`` -> ``["a", "a.b", "a.b.c"]``: what importing ``module`` runs."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def within(module: str, containers: Iterable[str]) -> bool:
    return any(module == c or module.startswith(c + ".") for c in containers)


def counted_imports(graph, containers: Iterable[str]) -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    """The module graph with each import counted as importing every package above it, and why each edge is there.

    ``graph`` is a grimp ``ImportGraph``; ``why[(a, b)]`` is the import statement of ``a`` behind the edge.
    """
    containers = list(containers)
    modules = sorted(m for m in graph.modules if within(m, containers))
    edges: dict[str, set[str]] = {m: set() for m in modules}
    why: dict[tuple[str, str], str] = {}
    for importer in modules:
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if not within(imported, containers):
                continue
            statement = _statement(graph, importer, imported)
            for ran in ancestors_and_self(imported):
                if ran == importer or ran not in edges:
                    continue
                edges[importer].add(ran)
                if ran == imported:  # a direct import explains an edge best
                    why[(importer, ran)] = statement
                else:
                    why.setdefault((importer, ran), f"{statement}; that runs {ran}'s __init__ first")
    return edges, why


def _statement(graph, importer: str, imported: str) -> str:
    details = graph.get_import_details(importer=importer, imported=imported)
    if not details:
        return f"imports {imported}"
    first = details[0]
    return f"line {first['line_number']}: {first['line_contents'].strip()}"


def strongly_connected(edges: Graph) -> list[list[str]]:
    """The graph's strongly connected components of two or more modules (Tarjan's, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components)


def shortest_cycle(edges: Graph, component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module, as a path that ends where it starts."""
    start = component[0]
    members = set(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(edges[node] & members):
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if succ not in came_from:
                came_from[succ] = node
                queue.append(succ)
    raise AssertionError(f"{start} is in a strongly connected component but on no cycle")


def find_cycles(graph, containers: Iterable[str]) -> list[dict]:
    """One entry per group of modules that import each other: its modules, one cycle through them and why."""
    edges, why = counted_imports(graph, containers)
    found = []
    for component in strongly_connected(edges):
        cycle = shortest_cycle(edges, component)
        steps = [f"{a} -> {b} ({why[(a, b)]})" for a, b in zip(cycle, cycle[1:])]
        found.append({"modules": component, "cycle": cycle, "steps": steps})
    return found


class InitCyclesContract(Contract):
    """No cycles among the modules of ``containers``, with ``import a.b.c`` counted as importing ``a`` and ``a.b``."""

    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        containers = [str(c) for c in self.containers]  # type: ignore[attr-defined]
        missing = [c for c in containers if c not in graph.modules]
        if missing:
            raise ValueError(f"containers not in the import graph: {', '.join(missing)}")
        cycles = find_cycles(graph, containers)
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for found in check.metadata["cycles"]:
            output.print_error(f"Import cycle: {' -> '.join(found['cycle'])}")
            for step in found["steps"]:
                output.print_error(f"  {step}", bold=False)
            if len(found["modules"]) > len(found["cycle"]) - 1:  # more modules than this one cycle passes
                output.print_error(f"  (the cycle's group also holds: {', '.join(found['modules'])})", bold=False)
            output.new_line()
