"""Every public class and function of ``neuromorph`` carries a runnable ``>>>`` example in its own docstring.

The examples themselves run as doctests in the default test command (``--doctest-modules`` over ``neuromorph``,
see ``pyproject.toml``); this test makes sure none is missing.

What counts as public API:

- every name listed in the ``__all__`` of a package of ``neuromorph`` (wherever it is defined, e.g.
  ``neuromorph.tasks.games.run_lifetime``), and
- every class or function whose name does not start with ``_``, defined in (``obj.__module__ ==`` the module's
  name) a public module.

Public modules are all modules under ``neuromorph`` whose dotted name has no part starting with ``_`` (so
``_base.py``, ``_args.py``, ``__main__.py`` are private), except the command line ``neuromorph.cli.*`` and the
experiments it runs ``neuromorph.tasks.*``: their interface is the ``neuromorph`` command (documented by
``--help`` and ``docs/``, tested in ``tests/cli``), not an importable API. Names those packages export through
``__all__`` still count as public by the first rule.

Only the object's own ``__doc__`` counts (not an inherited one, not the module docstring), and the example has
to be a line starting with ``>>>`` after optional indentation.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import neuromorph

NOT_API_PACKAGES = ("neuromorph.cli", "neuromorph.tasks")
EXAMPLE_LINE = re.compile(r"^\s*>>> ", flags=re.M)


def _is_private_module(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


def _all_modules() -> list[ModuleType]:
    modules = [neuromorph]
    for info in pkgutil.walk_packages(neuromorph.__path__, prefix="neuromorph."):
        if _is_private_module(info.name):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def _is_api_module(name: str) -> bool:
    return not any(name == pkg or name.startswith(pkg + ".") for pkg in NOT_API_PACKAGES)


def public_objects() -> dict[str, object]:
    """Map ``module.qualname`` -> object for every public class and function (rules in the module docstring)."""
    found: dict[str, object] = {}

    def add(obj: object) -> None:
        if inspect.isclass(obj) or inspect.isfunction(obj):
            found[f"{obj.__module__}.{obj.__qualname__}"] = obj

    for module in _all_modules():
        for name in getattr(module, "__all__", ()):
            add(getattr(module, name))
        if not _is_api_module(module.__name__):
            continue
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            add(obj)
    return found


def _own_doc(obj: object) -> str:
    """The object's own docstring: a class without one would otherwise show its base class's."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
    return doc or ""


def test_walk_finds_the_known_api() -> None:
    names = public_objects()
    for expected in ("neuromorph.neurons.lif.LIF", "neuromorph.neurons.lif.lif_step",
                     "neuromorph.training.loop.fit", "neuromorph.compress.itq.ITQQuantizer"):
        assert expected in names
    assert "neuromorph.data._dataset.ImageDataset" in names          # private module, exported by __all__
    assert not any(name.startswith("neuromorph.cli.") for name in names)
    assert not any(name.startswith("neuromorph.models._base.") for name in names)


def test_every_public_object_has_an_example() -> None:
    missing = sorted(name for name, obj in public_objects().items() if not EXAMPLE_LINE.search(_own_doc(obj)))
    assert not missing, (
        f"{len(missing)} public classes/functions have no '>>>' example in their own docstring "
        "(add a short, deterministic doctest that checks something):\n  " + "\n  ".join(missing))
