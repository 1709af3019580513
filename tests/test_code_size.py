"""Size limits of the code (docs/ARCHITECTURE.md): no module over 400 lines and no class
over 250 lines under nmt/ and service/, measured with `ast` so a failure names the culprit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("nmt", "service")
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_packages_have_modules() -> None:
    names = {_name(path) for path in _modules()}
    assert {"nmt/translator.py", "service/app.py", "nmt/cli/__init__.py"} <= names


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_module_over_the_limit(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_name(path)} has {lines} lines > {MAX_MODULE_LINES}"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_class_over_the_limit(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    too_long = {
        node.name: (node.end_lineno or node.lineno) - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_CLASS_LINES
    }
    assert not too_long, f"{_name(path)}: classes over {MAX_CLASS_LINES} lines: {too_long}"


def test_a_long_class_is_caught() -> None:
    """The measure itself: a 260-line class counts as 260 lines."""
    body = "class Big:\n" + "".join(f"    x{i} = {i}\n" for i in range(259))
    [node] = [n for n in ast.walk(ast.parse(body)) if isinstance(n, ast.ClassDef)]
    assert (node.end_lineno or 0) - node.lineno + 1 == 260
