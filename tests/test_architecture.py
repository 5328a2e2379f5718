"""The shape of the package: each decision in one home, no import loops.

Read from the source with ``ast`` (migrations aside), so a change that breaks a rule says which.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "eztaskmanager"
EXTERNAL = ("rq", "rq_scheduler", "redis", "django_rq")
# The modules that may speak to RQ, rq-scheduler, redis and django-rq.
TRANSPORT_MODULES = {
    "backends/rq.py",
    "backends/internals/rq.py",
    "backends/internals/rq_scheduler.py",
    "backends/internals/redis.py",
    "backends/internals/fakeredis.py",
    "services/scheduler.py",
    "worker.py",
    "devserver.py",
}


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


def test_few_function_local_imports_of_our_own_modules():
    local = [
        f"{relative}: {node.name}"
        for relative, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for inner in ast.walk(node)
        if own_imports(inner)
    ]
    assert len(local) <= 20, local


def test_only_the_transport_modules_import_rq_and_redis():
    found = set()
    for relative, tree in modules():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if any(name.split(".")[0] in EXTERNAL for name in names):
                found.add(relative)
    assert found <= TRANSPORT_MODULES


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
    # models.py declares the field; taskstate.py writes it.
    assert writers <= {"models.py", "taskstate.py"}, writers


def test_no_import_loop_among_our_modules():
    graph = {}
    names = {module_name(relative) for relative, _ in modules()}
    for relative, tree in modules():
        targets = set()
        for node in tree.body:
            for name in own_imports(node):
                while name not in names and "." in name:
                    name = name.rsplit(".", 1)[0]
                targets.add(name)
        graph[module_name(relative)] = targets - {module_name(relative)}

    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    return path + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    loops = [cycle_from(name) for name in graph]
    # A package importing its own submodules is not a loop (Python loads the package first).
    loops = [
        loop
        for loop in loops
        if loop
        and not all(
            a.startswith(b) or b.startswith(a) for a, b in zip(loop, loop[1:], strict=False)
        )
    ]
    assert loops == []


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
        "eztaskmanager.arguments",
        "eztaskmanager.bounds",
        "eztaskmanager.conf",
        "eztaskmanager.policy",
        "eztaskmanager.schedules",
        "eztaskmanager.statements",
        "eztaskmanager.internals",
        "eztaskmanager.internals.django",
        "eztaskmanager.internals.argparse",
    }
    assert set(imported_modules("models.py", tree, names)) <= below
