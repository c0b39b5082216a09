"""Optional compiled lookup-table scan for :class:`neuromorph.compress.rabitq.AsymmetricIndex`.

``lut_scan.cpp`` is compiled on first use with ``torch.utils.cpp_extension.load`` (C++ compiler and ninja;
cached under ``TORCH_EXTENSIONS_DIR``), per CPU type, and honours ``NEUROMORPH_NATIVE=0`` like the LIF
kernels (:mod:`neuromorph.neurons.native`). When it cannot be built the index warns once and scans with torch
ops instead (same results up to float rounding).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType

from neuromorph.neurons.native import _cpu_tag, enabled

_MODULE: ModuleType | None = None
_TRIED = False


def load() -> ModuleType | None:
    """The compiled extension (built on first call), or ``None`` when disabled or unavailable.

    >>> kernel = load()
    >>> kernel is None or isinstance(kernel, ModuleType)
    True
    """
    global _MODULE, _TRIED
    if not enabled():
        return None
    if _TRIED:
        return _MODULE
    _TRIED = True
    try:
        from torch.utils.cpp_extension import load as load_extension

        _MODULE = load_extension(name=f"neuromorph_lut_scan_{_cpu_tag()}",
                                 sources=[str(Path(__file__).with_name("lut_scan.cpp"))],
                                 extra_cflags=["-O3", "-march=native", "-fno-math-errno"], verbose=False)
    except Exception as err:  # no compiler, no ninja, ...
        warnings.warn(f"neuromorph: compiled LUT scan unavailable ({type(err).__name__}: {err}); using torch ops",
                      RuntimeWarning, stacklevel=2)
        _MODULE = None
    return _MODULE
