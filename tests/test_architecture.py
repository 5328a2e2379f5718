"""The shape of the package: its layers, who speaks to Redis, who imports the 0.5.x shims (the
import contracts in ``setup.cfg``, checked by import-linter), no import loop counting imports
inside functions, and one writer of a task's status.

The loop and writer rules read the source with ``ast`` (migrations aside), so a change that breaks
one says where.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "eztaskmanager"


def test_the_import_contracts_hold():
    """The layers (management → admin | cli → web → scheduler | worker → operations → runs →
    records → notifications → backends → models → core → internals), only backends/ speaking to
    Redis and RQ, and only the 0.5.x paths importing compat/: ``lint-imports`` on setup.cfg."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "setup.cfg"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text())


def module_name(relative: str) -> str:
    name = "eztaskmanager." + relative[:-3].replace("/", ".")
    return name.removesuffix(".__init__")


def own_imports(node) -> set[str]:
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("eztaskmanager"):
        return {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.startswith("eztaskmanager")}
    return set()


def test_task_status_has_one_writer():
    writers = set()
    for relative, tree in modules():
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Assign):
                targets = [t for t in node.targets if isinstance(t, ast.Attribute | ast.Tuple)]
                targets = [
                    e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])
                ]
            if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in targets):
                writers.add(relative)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("update", "create", "update_or_create", "bulk_update")
                and (node.func.attr == "update" or "objects" in ast.unparse(node.func))
                and any(k.arg == "status" for k in node.keywords)
            ):
                writers.add(relative)
    # models.py declares the field; records/taskstate.py writes it.
    assert writers <= {"models.py", "records/taskstate.py"}, writers


def imported_modules(relative: str, tree, names: set[str]) -> dict[str, int]:
    """Our modules that ``relative`` imports anywhere in its file (at the top, in a function,
    under ``if TYPE_CHECKING``), relative names resolved, with the line of the first import.

    ``from package import name`` imports the submodule ``package.name`` when there is one, else
    the package itself.
    """
    me = module_name(relative)
    package = me if relative.endswith("__init__.py") else me.rsplit(".", 1)[0]
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            candidates = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in names else base
                for alias in node.names
            ]
        else:
            continue
        for name in candidates:
            while name not in names and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in names and name != me:
                found.setdefault(name, node.lineno)
    return found


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected groups of ``graph`` with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycle_counting_imports_inside_functions():
    """Every import counts, a function's too: a cycle that only closes at call time is still a
    cycle of the design (models must stay a leaf: nothing of ours above it imports it back)."""
    parsed = list(modules())
    names = {module_name(relative) for relative, _ in parsed}
    graph = {module_name(r): imported_modules(r, tree, names) for r, tree in parsed}
    described = [
        " ; ".join(
            f"{a} -> {b} (line {graph[a][b]})"
            for a in group
            for b in sorted(graph[a])
            if b in group
        )
        for group in import_cycles(graph)
    ]
    assert described == []


def test_the_cycle_finder_finds_function_local_and_relative_imports():
    names = {"eztaskmanager.a", "eztaskmanager.b", "eztaskmanager.pkg", "eztaskmanager.pkg.c"}
    a = ast.parse("def f():\n    from eztaskmanager import b\n")
    b = ast.parse("from .pkg import c\n")
    c = ast.parse("import eztaskmanager.a\nfrom . import nothing_here\n")
    graph = {
        "eztaskmanager.a": imported_modules("a.py", a, names),
        "eztaskmanager.b": imported_modules("b.py", b, names),
        "eztaskmanager.pkg.c": imported_modules("pkg/c.py", c, names),
        "eztaskmanager.pkg": {},
    }
    assert graph["eztaskmanager.pkg.c"] == {"eztaskmanager.a": 1, "eztaskmanager.pkg": 2}
    assert import_cycles(graph) == [["eztaskmanager.a", "eztaskmanager.b", "eztaskmanager.pkg.c"]]


def test_models_import_nothing_of_ours_above_them():
    tree = ast.parse((PACKAGE / "models.py").read_text())
    names = {module_name(relative) for relative, _ in modules()}
    below = {
        "eztaskmanager",
        "eztaskmanager.core.arguments",
        "eztaskmanager.core.bounds",
        "eztaskmanager.core.functions",
        "eztaskmanager.conf",
        "eztaskmanager.core.policy",
        "eztaskmanager.core.schedules",
        "eztaskmanager.internals.statements",
        "eztaskmanager.internals",
        "eztaskmanager.internals.django",
        "eztaskmanager.internals.argparse",
    }
    assert set(imported_modules("models.py", tree, names)) <= below
