"""Optional compiled CPU kernels: the LIF recurrence (``lif_kernel.cpp``) and the event-driven reservoir
simulator (``reservoir_kernel.cpp``), each a :class:`neuromorph.native.NativeLibrary`.

Both compile on first use (or with ``neuromorph build``) and are cached per CPU type and source version; see
:mod:`neuromorph.native` for the cache, the one-line compile notice, ``NEUROMORPH_NATIVE=0`` and the fallback
(the fused kernels and the simulator then run on plain torch ops, with identical results). The module-level
functions below are the LIF kernel's :class:`~neuromorph.native.NativeLibrary` methods.

>>> status()["state"] in ("built", "cached", "not built", "fallback")
True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from neuromorph.native import NativeLibrary, enabled

if TYPE_CHECKING:
    import torch
    from torch import Tensor

__all__ = [
    "LIF_KERNEL",
    "RESERVOIR_SIMULATOR",
    "enabled",
    "flat_param",
    "load",
    "status",
    "is_cached",
    "build_directory",
    "extension_name",
    "load_reservoir",
    "reservoir_build_seconds",
]

_CFLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp"]

# -fno-trapping-math lets the compiler if-convert the spike comparison, so the forward loops vectorise (with it
# off GCC 12 reports "control flow in loop" and runs them scalar, about 3x slower); values are unchanged
LIF_KERNEL = NativeLibrary(
    "neuromorph_lif_native",
    Path(__file__).with_name("lif_kernel.cpp"),
    _CFLAGS + ["-fno-trapping-math"],
    extra_ldflags=["-fopenmp"],
    description="native LIF kernel",
)
# a library of its own, compiled with -ffp-contract=off so that it rounds like the torch ops
RESERVOIR_SIMULATOR = NativeLibrary(
    "neuromorph_reservoir",
    Path(__file__).with_name("reservoir_kernel.cpp"),
    _CFLAGS + ["-ffp-contract=off", "-fno-trapping-math"],
    extra_ldflags=["-fopenmp"],
    description="native reservoir simulator",
)

load = LIF_KERNEL.load
status = LIF_KERNEL.status
is_cached = LIF_KERNEL.is_cached
build_directory = LIF_KERNEL.build_directory
extension_name = LIF_KERNEL.extension_name
load_reservoir = RESERVOIR_SIMULATOR.load


def reservoir_build_seconds() -> float:
    """Seconds this process spent building or loading the reservoir simulator (0 before :func:`load_reservoir`).

    >>> reservoir_build_seconds() >= 0.0
    True
    """
    return RESERVOIR_SIMULATOR.build_seconds


def flat_param(t: Tensor, step_shape: torch.Size, dtype: torch.dtype) -> Tensor:
    """A parameter or state as the compiled kernels take it: one value, or one value per element of a time
    step (``step_shape``), contiguous, of ``dtype``.

    >>> import torch
    >>> flat_param(torch.tensor(0.9), torch.Size([2, 3]), torch.float64).shape   # one value stays one value
    torch.Size([])
    >>> flat_param(torch.rand(3), torch.Size([2, 3]), torch.float32).shape       # per neuron: one per element
    torch.Size([6])
    """
    if t.dtype != dtype:
        t = t.to(dtype)
    if t.numel() == 1:  # the kernels read element 0 of a one-value tensor, whatever its shape
        return t
    if all(stride == 0 for stride in t.stride()):  # a broadcast scalar, e.g. a fresh zero state
        return t.as_strided((1,), (1,))
    return t.expand(step_shape).contiguous().reshape(-1)
