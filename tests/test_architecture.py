"""The package's imports run one way: no cycle between modules, and each part imports only the parts below it
(docs/architecture.md). Read from the source, so imports inside functions and for type checkers count too."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "opro_cli"
HELPERS = {"errors", "files", "envfile", "event_loop", "terminal", "progress"}
# What each part may import besides itself and the helpers; the helpers import only one another.
ALLOWED: dict[str, set[str]] = {
    "spec": set(),
    "data": {"spec"},
    "lm": {"spec"},
    "scoring": {"lm", "data", "spec"},
    "search": {"scoring", "lm", "data", "spec"},
    "artifact": {"search", "scoring", "spec"},
    "use": {"artifact", "scoring", "lm", "data", "spec"},
    "reports": {"artifact", "search", "scoring", "lm", "data", "spec"},
    "jobs": {"use", "artifact", "search", "scoring", "lm", "data", "spec"},
    "cli": {"jobs", "reports", "use", "artifact", "search", "scoring", "lm", "data", "spec"},
    **{helper: set() for helper in HELPERS},
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The opro_cli modules `name` imports anywhere in its source (an imported name that is a module counts as
    that module; one that is not counts as the module it comes from)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            # A module importing one of its own packages (e.g. `from .. import __version__`) is no dependency.
            if target in known and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def part(module: str) -> str:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "opro_cli"


def test_no_module_imports_itself_back_through_others():
    edges = graph()
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_each_part_imports_only_the_parts_below_it():
    wrong = []
    for module, targets in graph().items():
        here = part(module)
        if here == "opro_cli":  # the package root re-exports the Python API (from jobs), lazily
            continue
        for target in targets:
            there = part(target)
            if there != here and there not in HELPERS | ALLOWED[here]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the layers of docs/architecture.md: " + "; ".join(sorted(wrong))


def test_the_spec_is_plain_configuration():
    """The spec is loaded first and checked before any call: it must not pull in the search, scoring or LM."""
    for module, targets in graph().items():
        if part(module) == "spec":
            assert {part(t) for t in targets} <= {"spec", "errors"}, module


def test_every_subpackage_says_what_it_owns_and_may_import():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "import" in doc.lower() and len(doc) > 120, f"{init}: say what it owns and what it may import"
