"""The service uses the library through its public API only: `from nmt import ...`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nmt

SERVICE = Path(__file__).resolve().parents[2] / "service"


def _service_modules() -> list[Path]:
    return sorted(SERVICE.rglob("*.py"))


def internal_imports(source: str) -> list[str]:
    """Each import of an nmt submodule in `source` (`from nmt.x import`, `import nmt.x`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("nmt."):
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("nmt.")]
    return found


def test_the_check_finds_internal_imports() -> None:
    source = "import nmt\nfrom nmt import SearchOptions\nfrom nmt.translator import x\n"
    source += "import nmt.checkpoint as c\ndef f():\n    from nmt.text import y\n"
    assert internal_imports(source) == [
        "from nmt.translator import ...",
        "import nmt.checkpoint",
        "from nmt.text import ...",
    ]


@pytest.mark.parametrize("path", _service_modules(), ids=lambda p: p.name)
def test_service_imports_only_the_public_api(path: Path) -> None:
    assert not internal_imports(path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("path", sorted((SERVICE / "routes").glob("*.py")), ids=lambda p: p.name)
def test_no_route_imports_another_route(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if m.startswith("service.routes")], path


def test_every_public_name_resolves() -> None:
    for name in nmt.__all__:
        assert getattr(nmt, name) is not None, name
    with pytest.raises(AttributeError):
        nmt.no_such_name  # noqa: B018 - the lookup is the test
