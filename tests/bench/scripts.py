"""Import a bench/ script as a module for a test (bench/ is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


@contextmanager
def bench_script(filename: str, name: str) -> Iterator[ModuleType]:
    """bench/`filename` imported as module `name`, registered in sys.modules while in use
    (its dataclasses look their module up there), removed afterwards. bench/ is on sys.path
    meanwhile, as when the script runs, for its shared helpers (`_server`)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    sys.modules[name] = module
    sys.path.insert(0, str(BENCH))
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCH))
        for added in set(sys.modules) - before:  # the script and its bench/ helpers only
            origin = getattr(sys.modules[added], "__file__", None) or ""
            if added == name or Path(origin).parent == BENCH:
                del sys.modules[added]


@contextmanager
def bench_modules(*names: str) -> Iterator[dict[str, ModuleType]]:
    """bench/ modules imported by name, the way a script imports them (bench/ on the path
    meanwhile); dropped from sys.modules afterwards."""
    sys.path.insert(0, str(BENCH))
    try:
        yield {name: importlib.import_module(name) for name in names}
    finally:
        sys.path.remove(str(BENCH))
        for name in names:
            sys.modules.pop(name, None)
