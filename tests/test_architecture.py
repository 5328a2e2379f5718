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
