"""The apps import one another without cycles, and the bottom layer imports no app.

The graph is read with ast from every production module (not tests, not migrations), at module
level only: a function-level import is Django's or Celery's business (AppConfig.ready, a task
imported by the service that enqueues it) and carries a comment saying why.
"""

import ast
import itertools
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Top-level packages that are not part of the running portal.
NOT_APPS = {"tests", "bench", "tools"}
# Pure modules every app may import: they import no app themselves.
BOTTOM = ("core", "portal/roles.py")


def apps() -> set[str]:
    return {
        p.parent.name
        for p in ROOT.glob("*/__init__.py")
        if p.parent.name not in NOT_APPS and not p.parent.name.startswith(".")
    }


def production_modules(app: str) -> list[Path]:
    return [
        p
        for p in sorted((ROOT / app).rglob("*.py"))
        if not {"tests", "migrations"} & set(p.relative_to(ROOT).parts)
        and not p.name.startswith(("test_", "conftest"))
    ]


def module_level_imports(path: Path) -> set[str]:
    """Top-level package names imported by the module's own statements (not inside a def)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def app_graph() -> dict[str, dict[str, list[str]]]:
    """app -> {app it imports: [the modules that do]}."""
    known = apps()
    graph: dict[str, dict[str, list[str]]] = {app: {} for app in known}
    for app in known:
        for path in production_modules(app):
            for other in module_level_imports(path) & known - {app}:
                graph[app].setdefault(other, []).append(str(path.relative_to(ROOT)))
    return graph


def test_the_graph_sees_the_apps_and_their_imports():
    graph = app_graph()
    assert {"portal", "warehouse", "metrics", "experiments", "privacy", "pipeline"} <= set(graph)
    assert "warehouse/api.py" in graph["warehouse"]["portal"]
    assert "experiments/queries.py" in graph["experiments"]["metrics"]


def test_apps_import_one_another_without_cycles():
    graph = app_graph()
    try:
        order = list(TopologicalSorter({a: set(deps) for a, deps in graph.items()}).static_order())
    except CycleError as err:
        cycle = err.args[1]
        edges = [f"{a} -> {b} ({', '.join(graph[a][b])})" for a, b in itertools.pairwise(cycle)]
        raise AssertionError("import cycle between apps:\n" + "\n".join(edges)) from None
    assert order.index("portal") < order.index("warehouse")


def test_the_bottom_layer_imports_no_app():
    known = apps()
    for bottom in BOTTOM:
        target = ROOT / bottom
        paths = production_modules(bottom) if target.is_dir() else [target]
        assert paths, bottom
        for path in paths:
            imported = module_level_imports(path) & known - {"core"}
            assert not imported, f"{path.relative_to(ROOT)} imports {sorted(imported)}"


def test_the_portal_imports_no_other_app():
    """The portal (settings, roles, errors, throttles, leases, health) is what apps build on;
    it reaches apps only through Django (INSTALLED_APPS, url includes by name, AppConfig.ready)."""
    assert set(app_graph()["portal"]) <= {"core"}


def function_level_imports(path: Path, known: set[str]) -> list[tuple[int, int, str]]:
    """(line of the function, line, module) of each import of an app inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                modules = [inner.module]
            elif isinstance(inner, ast.Import):
                modules = [alias.name for alias in inner.names]
            else:
                continue
            found += [(node.lineno, inner.lineno, m) for m in modules if m.split(".")[0] in known]
    return found


def test_each_function_level_import_says_why():
    """A comment in the function before the import, or on its line."""
    known = apps()
    silent = []
    for app in sorted(known):
        for path in production_modules(app):
            lines = path.read_text().splitlines()
            for start, lineno, module in function_level_imports(path, known):
                if not any("#" in line for line in lines[start - 1 : lineno]):
                    silent.append(f"{path.relative_to(ROOT)}:{lineno} {module}")
    assert not silent, "function-level imports without a comment saying why:\n" + "\n".join(silent)
