"""The test suite's own layout: no test module imports another test module or the conftest;
fixtures come from pytest, helpers from ``tests/support/``."""
import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(path):
    """Every module (and name) ``path`` imports, as absolute dotted names."""
    package = path.relative_to(TESTS.parent).parent.parts  # ("tests",) or ("tests", "support")
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[:len(package) - node.level + 1], *filter(None, [node.module])])
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return names


def is_test_module(name):
    parts = name.split(".")
    if parts[0] == "tests":
        parts = parts[1:]
    return any(part == "conftest" or part.startswith("test_") for part in parts)


def test_no_test_module_imports_another_test_module_or_the_conftest():
    offenders = {}
    for path in sorted([*TESTS.rglob("test_*.py"), *TESTS.rglob("conftest.py"), *TESTS.glob("support/*.py")]):
        if bad := sorted({name for name in imported_modules(path) if is_test_module(name)}):
            offenders[path.relative_to(TESTS.parent).as_posix()] = bad
    assert offenders == {}, "import helpers from tests.support, fixtures from conftest by name"
