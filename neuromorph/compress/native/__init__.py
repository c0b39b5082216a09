"""Optional compiled lookup-table scan for :class:`neuromorph.compress.rabitq.AsymmetricIndex`.

``lut_scan.cpp`` is a :class:`neuromorph.native.NativeLibrary`: compiled on first use (or by ``neuromorph
build``), cached per CPU type and source version, disabled by ``NEUROMORPH_NATIVE=0`` like the LIF kernels.
When it cannot be built the index warns once and scans with torch ops instead (same results up to float
rounding). :func:`load` is ``LUT_SCAN.load``.

>>> LUT_SCAN.description
'native LUT scan'
"""

from __future__ import annotations

from pathlib import Path

from neuromorph.native import NativeLibrary

__all__ = ["LUT_SCAN", "load"]

LUT_SCAN = NativeLibrary(
    "neuromorph_lut_scan",
    Path(__file__).with_name("lut_scan.cpp"),
    ["-O3", "-march=native", "-fno-math-errno"],
    description="native LUT scan",
)
load = LUT_SCAN.load
