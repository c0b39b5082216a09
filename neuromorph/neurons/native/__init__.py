"""Optional compiled CPU kernels for the LIF recurrence.

The C++ source (``lif_kernel.cpp``) is compiled on first use with ``torch.utils.cpp_extension.load`` (needs a
C++ compiler and ninja; the build is cached under ``TORCH_EXTENSIONS_DIR``/``~/.cache/torch_extensions``).
Set ``NEUROMORPH_NATIVE=0`` to disable it; when it cannot be built, neuromorph warns once and the fused
kernels run on plain torch ops instead, with identical results.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import ModuleType

_MODULE: ModuleType | None = None
_TRIED = False


def enabled() -> bool:
    return os.environ.get("NEUROMORPH_NATIVE", "1") != "0"


def _cpu_tag() -> str:
    """A short hash of this CPU's model and flags: ``-march=native`` builds are cached per CPU type."""
    import hashlib
    import platform

    info = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            lines = [ln for ln in fh if ln.startswith(("model name", "flags"))][:2]
        info += "".join(lines)
    except OSError:
        pass
    return hashlib.sha1(info.encode()).hexdigest()[:10]


def load() -> ModuleType | None:
    """Return the compiled extension, building it on first call; ``None`` when disabled or unavailable."""
    global _MODULE, _TRIED
    if not enabled():
        return None
    if _TRIED:
        return _MODULE
    _TRIED = True
    try:
        from torch.utils.cpp_extension import load as load_extension

        _MODULE = load_extension(
            name=f"neuromorph_lif_native_{_cpu_tag()}",
            sources=[str(Path(__file__).with_name("lif_kernel.cpp"))],
            extra_cflags=["-O3", "-march=native", "-fno-math-errno", "-fopenmp"],
            extra_ldflags=["-fopenmp"],
            verbose=False,
        )
    except Exception as err:  # no compiler, no ninja, ...: fall back to torch ops
        warnings.warn(f"neuromorph: compiled LIF kernel unavailable ({type(err).__name__}: {err}); "
                      "using the torch-ops kernel (same results, slower on CPU)", RuntimeWarning, stacklevel=2)
        _MODULE = None
    return _MODULE
