"""Optional compiled CPU kernels for the LIF recurrence.

The C++ source (``lif_kernel.cpp``) is compiled on first use with ``torch.utils.cpp_extension.load`` (needs a
C++ compiler and ninja; the build is cached under ``TORCH_EXTENSIONS_DIR``/``~/.cache/torch_extensions``,
one directory per CPU type and source version, see :func:`build_directory`). Before a lazy compile one line
goes to stderr with the cache path; ``neuromorph build`` compiles ahead of time and :func:`status` (shown by
``neuromorph doctor``) says whether the kernel is built, cached or replaced by the fallback, and why.
Set ``NEUROMORPH_NATIVE=0`` to disable it; when it cannot be built, neuromorph warns once and the fused
kernels run on plain torch ops instead, with identical results.

>>> status()["state"] in ("built", "cached", "not built", "fallback")
True
"""
from __future__ import annotations

import os
import sys
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import Tensor

_MODULE: ModuleType | None = None
_TRIED = False
_LOCK = threading.Lock()
_COMPILED_HERE = False  # this process ran the compiler (as opposed to loading a cached build)
_ERROR: str | None = None  # why the build failed, when it did
_SOURCE = Path(__file__).with_name("lif_kernel.cpp")
_CFLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp"]


def enabled() -> bool:
    """True unless the environment variable ``NEUROMORPH_NATIVE`` is ``"0"`` (then the torch-ops path is used).

    >>> enabled() == (os.environ.get("NEUROMORPH_NATIVE", "1") != "0")
    True
    """
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


def extension_name() -> str:
    """Name of the build: per CPU type (``-march=native``) and per version of the C++ source.

    >>> extension_name().startswith("neuromorph_lif_native_")
    True
    """
    import hashlib

    source_tag = hashlib.sha1(_SOURCE.read_bytes()).hexdigest()[:8]
    return f"neuromorph_lif_native_{_cpu_tag()}_{source_tag}"


def build_directory() -> Path:
    """Cache directory of this build (``$TORCH_EXTENSIONS_DIR/<py/cuda tag>/<extension_name()>``).

    >>> build_directory().name == extension_name()
    True
    """
    from torch.utils.cpp_extension import _get_build_directory

    return Path(_get_build_directory(extension_name(), verbose=False))


def is_cached() -> bool:
    """True when a compiled library for this CPU type and source version is in the cache.

    >>> is_cached() == (build_directory() / f"{extension_name()}.so").is_file()
    True
    """
    return (build_directory() / f"{extension_name()}.so").is_file()


def load() -> ModuleType | None:
    """Return the compiled extension, building it on first call; ``None`` when disabled or unavailable.

    A build (not a cache hit) first prints one line to stderr with the cache path.

    >>> kernel = load()
    >>> kernel is None or isinstance(kernel, ModuleType)
    True
    """
    if not enabled():
        return None
    if _TRIED:
        return _MODULE
    with _LOCK:  # a second thread waits for the build instead of silently taking the slow path
        if not _TRIED:
            _build()
    return _MODULE


def _build() -> None:
    global _MODULE, _TRIED, _COMPILED_HERE, _ERROR
    try:
        from torch.utils.cpp_extension import load as load_extension

        directory = build_directory()
        # compile a copy at a stable path inside the cache: checkouts elsewhere with the same source share it
        source = directory / _SOURCE.name
        if not source.is_file() or source.read_bytes() != _SOURCE.read_bytes():
            source.write_bytes(_SOURCE.read_bytes())
        if not is_cached():
            print("neuromorph: compiling the native LIF kernel (once per CPU type and kernel version; "
                  f"`neuromorph build` does it ahead of time), cache: {directory}", file=sys.stderr, flush=True)
            _COMPILED_HERE = True
        _MODULE = load_extension(name=extension_name(), sources=[str(source)], build_directory=str(directory),
                                 extra_cflags=_CFLAGS, extra_ldflags=["-fopenmp"], verbose=False)
    except Exception as err:  # no compiler, no ninja, ...: fall back to torch ops
        _ERROR = f"{type(err).__name__}: {err}".strip()
        warnings.warn(f"neuromorph: compiled LIF kernel unavailable ({_ERROR}); "
                      "using the torch-ops kernel (same results, slower on CPU)", RuntimeWarning, stacklevel=3)
        _MODULE = None
    _TRIED = True


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


def status() -> dict[str, str]:
    """Where the kernel stands in this process, without building it.

    ``state`` is ``"built"`` (compiled by this process), ``"cached"`` (loaded or loadable from the cache),
    ``"not built"`` (will compile on first use) or ``"fallback"`` (torch ops; ``reason`` says why);
    ``path`` is the cache directory.

    >>> info = status()
    >>> info["state"] in ("built", "cached", "not built", "fallback"), "path" in info
    (True, True)
    """
    if not enabled():
        return {"state": "fallback", "reason": "disabled by NEUROMORPH_NATIVE=0", "path": ""}
    try:
        path = str(build_directory())
    except Exception as err:  # pragma: no cover - torch without cpp_extension support
        return {"state": "fallback", "reason": f"no build directory ({type(err).__name__}: {err})", "path": ""}
    if _TRIED and _MODULE is None:
        return {"state": "fallback", "reason": f"build failed: {_ERROR}", "path": path}
    if _TRIED and _COMPILED_HERE:
        return {"state": "built", "reason": "compiled in this process", "path": path}
    if is_cached():
        return {"state": "cached", "reason": "compiled library found in the cache", "path": path}
    return {"state": "not built", "reason": "compiles on first use (or run `neuromorph build`)", "path": path}


# ------------------------------------------------------------------------------ reservoir simulator (own library)
_RESERVOIR_SOURCE = Path(__file__).with_name("reservoir_kernel.cpp")
_RESERVOIR: dict[str, object] = {}  # "module" (ModuleType | None), "error" (str), "seconds" (float), once tried


def load_reservoir() -> ModuleType | None:
    """The compiled reservoir simulator (``reservoir_kernel.cpp``, a library of its own, compiled with
    ``-ffp-contract=off`` so it rounds like the torch ops), built on first call and cached per CPU type and
    source version like the LIF kernel; ``None`` when disabled or unavailable (then one warning)."""
    if not enabled():
        return None
    with _LOCK:
        if "module" not in _RESERVOIR:
            _RESERVOIR.update(_build_reservoir())
    return _RESERVOIR["module"]  # type: ignore[return-value]


def reservoir_build_seconds() -> float:
    """Seconds this process spent building or loading the reservoir simulator (0 before :func:`load_reservoir`)."""
    return float(_RESERVOIR.get("seconds", 0.0))  # type: ignore[arg-type]


def _build_reservoir() -> dict[str, object]:
    import hashlib
    import time

    start = time.perf_counter()
    try:
        from torch.utils.cpp_extension import _get_build_directory
        from torch.utils.cpp_extension import load as load_extension

        name = f"neuromorph_reservoir_{_cpu_tag()}_{hashlib.sha1(_RESERVOIR_SOURCE.read_bytes()).hexdigest()[:8]}"
        directory = Path(_get_build_directory(name, verbose=False))
        source = directory / _RESERVOIR_SOURCE.name
        if not source.is_file() or source.read_bytes() != _RESERVOIR_SOURCE.read_bytes():
            source.write_bytes(_RESERVOIR_SOURCE.read_bytes())
        if not (directory / f"{name}.so").is_file():
            print(f"neuromorph: compiling the native reservoir simulator (once per CPU type and version), cache: "
                  f"{directory}", file=sys.stderr, flush=True)
        flags = _CFLAGS + ["-ffp-contract=off", "-fno-trapping-math"]
        module = load_extension(name=name, sources=[str(source)], build_directory=str(directory), extra_cflags=flags,
                                extra_ldflags=["-fopenmp"], verbose=False)
        return {"module": module, "error": "", "seconds": time.perf_counter() - start}
    except Exception as err:  # no compiler, no ninja, ...: the caller runs torch ops
        error = f"{type(err).__name__}: {err}".strip()
        warnings.warn(f"neuromorph: compiled reservoir simulator unavailable ({error}); using torch ops "
                      "(same spikes, slower)", RuntimeWarning, stacklevel=3)
        return {"module": None, "error": error, "seconds": time.perf_counter() - start}
