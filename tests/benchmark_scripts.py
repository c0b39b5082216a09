"""Load a script of ``benchmarks/`` (not a package) as a module, so tests can call its functions.

>>> load_benchmark("games_baselines").__name__
'games_baselines'
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """Execute ``benchmarks/<name>.py`` and return it as a module named ``name`` (a new module on every call)."""
    path = BENCHMARKS / f"{name}.py"
    if not path.is_file():
        raise ValueError(f"name: expected a script in {BENCHMARKS}, got {name!r} ({path} does not exist)")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
