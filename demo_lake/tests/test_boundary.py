"""No production module imports the demo lake generator: it makes demo and test data, it is
not part of the portal.

Production modules are those of every top-level package but the generator itself and the
folders that are not the running portal (tests, bench, tools), minus their tests. The exception:
the management commands that build the demo (``demo_lake``, ``demo_experiments``) import the
generator inside ``handle`` when they run, never at module level.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = "demo_lake"
NOT_PRODUCTION = {GENERATOR, "tests", "bench", "tools"}
DEMO_COMMANDS = {
    "warehouse/management/commands/demo_lake.py",
    "experiments/management/commands/demo_experiments.py",
}


def production_modules() -> list[Path]:
    packages = [
        p.parent
        for p in ROOT.glob("*/__init__.py")
        if p.parent.name not in NOT_PRODUCTION and not p.parent.name.startswith(".")
    ]
    return [
        path
        for package in packages
        for path in sorted(package.rglob("*.py"))
        if "tests" not in path.relative_to(ROOT).parts and not path.name.startswith("test_")
    ]


def generator_imports(path: Path) -> list[tuple[int, bool]]:
    """(line, at module level) of each import of the generator, wherever it is."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name.split(".")[0] == GENERATOR for name in names):
            found.append((node.lineno, id(node) in top))
    return sorted(found)


def test_no_production_module_imports_the_generator():
    modules = production_modules()
    names = {str(p.relative_to(ROOT)) for p in modules}
    assert {"experiments/views.py", "experiments/lake.py", "warehouse/lake/storage.py"} <= names
    assert names >= DEMO_COMMANDS
    offending = []
    for path in modules:
        relative = str(path.relative_to(ROOT))
        for line, module_level in generator_imports(path):
            if relative not in DEMO_COMMANDS or module_level:
                offending.append(f"{relative}:{line}")
    assert not offending, "production modules importing the demo generator: " + ", ".join(offending)


def test_the_demo_commands_import_the_generator_when_they_run():
    for relative in DEMO_COMMANDS:
        assert generator_imports(ROOT / relative), relative


def test_the_check_sees_imports_at_any_depth(tmp_path):
    module = tmp_path / "views.py"
    module.write_text(
        "import demo_lake.build\n"
        "def view():\n"
        "    from demo_lake.config import LakeConfig\n"
        "from warehouse.lake import storage\n"
    )
    assert generator_imports(module) == [(1, True), (3, False)]
