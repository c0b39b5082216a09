"""Optional compiled C++ libraries: one loader for all of them.

Each library (:class:`NativeLibrary`) is one C++ source file compiled on first use with
``torch.utils.cpp_extension.load`` (needs a C++ compiler and ninja). Builds are cached under
``TORCH_EXTENSIONS_DIR`` (default ``~/.cache/torch_extensions``), one directory per library, CPU type
(``-march=native``) and source version: ``<name>_<cpu tag>_<source hash>``. The source is copied into that
directory and compiled there, so checkouts at different paths with the same source share the build. Before a
real compile one line goes to stderr with the cache path; ``neuromorph build`` compiles every library ahead of
time and ``neuromorph doctor`` shows each :meth:`NativeLibrary.status`. Set ``NEUROMORPH_NATIVE=0`` to disable
all of them; a library that cannot be built warns once and its callers run plain torch ops instead.

The libraries live next to their sources (:mod:`neuromorph.neurons.native`, :mod:`neuromorph.compress.native`);
this module is shared by both, so it sits at the top of the package. :func:`libraries` lists them all.

>>> [library.description for library in libraries()]
['native LIF kernel', 'native reservoir simulator', 'native LUT scan']
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import threading
import time
import warnings
from pathlib import Path
from types import ModuleType

STATES = ("built", "cached", "not built", "fallback")


def enabled() -> bool:
    """True unless the environment variable ``NEUROMORPH_NATIVE`` is ``"0"`` (then torch ops are used).

    >>> enabled() == (os.environ.get("NEUROMORPH_NATIVE", "1") != "0")
    True
    """
    return os.environ.get("NEUROMORPH_NATIVE", "1") != "0"


def cpu_tag() -> str:
    """A short hash of this CPU's architecture, model name and flags: ``-march=native`` builds are cached per
    CPU type.

    >>> len(cpu_tag())
    10
    """
    info = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            lines = [ln for ln in fh if ln.startswith(("model name", "flags"))][:2]
        info += "".join(lines)
    except OSError:
        pass
    return hashlib.sha1(info.encode()).hexdigest()[:10]


class NativeLibrary:
    """One optional C++ library: compiled once per CPU type and source version, loaded once per process.

    Args:
        name: prefix of the build name (``<name>_<cpu tag>_<first 8 hex digits of sha1(source, flags)>``).
        source: the C++ file.
        extra_cflags: compiler flags (part of the build; changing them recompiles).
        extra_ldflags: linker flags.
        description: what the library is, for messages (``"native LIF kernel"``).

    :meth:`load` is thread-safe and builds at most once per process; ``build_seconds`` is the time that took.

    >>> lib = NativeLibrary("neuromorph_demo", Path("demo.cpp"), ["-O2"], description="demo library")
    >>> lib.description, lib.build_seconds
    ('demo library', 0.0)
    """

    def __init__(
        self,
        name: str,
        source: Path,
        extra_cflags: list[str],
        extra_ldflags: list[str] | None = None,
        description: str = "",
    ) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"name must be a Python identifier (it names the extension module), got {name!r}")
        self.name = name
        self.source = Path(source)
        self.extra_cflags = list(extra_cflags)
        self.extra_ldflags = list(extra_ldflags or [])
        self.description = description or name
        self.build_seconds = 0.0  # time load() spent building or loading, 0 before
        self._module: ModuleType | None = None
        self._tried = False
        self._compiled_here = False  # this process ran the compiler (not just loaded a cached build)
        self._error = ""  # why the build failed, when it did
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"NativeLibrary({self.name!r}, {str(self.source)!r})"

    def extension_name(self) -> str:
        """Name of the build: ``<name>_<cpu tag>_<hash of the source and the compiler and linker flags>`` (the
        flags are part of the name: two checkouts with different flags must not overwrite one cached build).

        >>> from neuromorph.neurons.native import LIF_KERNEL
        >>> LIF_KERNEL.extension_name().startswith("neuromorph_lif_native_" + cpu_tag())
        True
        """
        flags = "\n".join(["cflags", *self.extra_cflags, "ldflags", *self.extra_ldflags]).encode()
        build_tag = hashlib.sha1(self.source.read_bytes() + b"\0" + flags).hexdigest()[:8]
        return f"{self.name}_{cpu_tag()}_{build_tag}"

    def build_directory(self) -> Path:
        """Cache directory of this build, created: ``$TORCH_EXTENSIONS_DIR/<extension_name()>``, or
        ``~/.cache/torch_extensions/<python/CUDA tag>/<extension_name()>`` when that variable is unset.

        >>> from neuromorph.neurons.native import LIF_KERNEL
        >>> LIF_KERNEL.build_directory().name == LIF_KERNEL.extension_name()
        True
        """
        from torch.utils.cpp_extension import _get_build_directory

        return Path(_get_build_directory(self.extension_name(), verbose=False))

    def is_cached(self) -> bool:
        """True when a compiled library for this CPU type and source version is in the cache.

        >>> from neuromorph.neurons.native import LIF_KERNEL
        >>> LIF_KERNEL.is_cached() == (LIF_KERNEL.build_directory() / f"{LIF_KERNEL.extension_name()}.so").is_file()
        True
        """
        return (self.build_directory() / f"{self.extension_name()}.so").is_file()

    def load(self) -> ModuleType | None:
        """The compiled extension module, built on the first call; ``None`` when disabled or unavailable.

        A real compile (not a cache hit) first prints one line to stderr with the cache path; a failure warns
        once (``RuntimeWarning``) and later calls return ``None`` without trying again.

        >>> from neuromorph.neurons.native import LIF_KERNEL
        >>> kernel = LIF_KERNEL.load()
        >>> kernel is None or isinstance(kernel, ModuleType)
        True
        """
        if not enabled():
            return None
        if self._tried:
            return self._module
        with self._lock:  # a second thread waits for the build instead of silently taking the slow path
            if not self._tried:
                self._build()
        return self._module

    def _build(self) -> None:
        start = time.perf_counter()
        try:
            from torch.utils.cpp_extension import load as load_extension

            directory = self.build_directory()
            # compile a copy at a stable path inside the cache: checkouts elsewhere with the same source share it
            code = self.source.read_bytes()
            copy = directory / self.source.name
            if not copy.is_file() or copy.read_bytes() != code:
                copy.write_bytes(code)
            if not self.is_cached():
                print(
                    f"neuromorph: compiling the {self.description} (once per CPU type and source version; "
                    f"`neuromorph build` does it ahead of time), cache: {directory}",
                    file=sys.stderr,
                    flush=True,
                )
                self._compiled_here = True
            self._module = load_extension(
                name=self.extension_name(),
                sources=[str(copy)],
                build_directory=str(directory),
                extra_cflags=list(self.extra_cflags),
                extra_ldflags=list(self.extra_ldflags),
                verbose=False,
            )  # torch edits them
        except Exception as err:  # no compiler, no ninja, ...: the callers run torch ops
            self._error = f"{type(err).__name__}: {err}".strip()
            warnings.warn(
                f"neuromorph: compiled {self.description} unavailable ({self._error}); "
                "using torch ops instead (same results, slower)",
                RuntimeWarning,
                stacklevel=4,
            )
            self._module = None
        self.build_seconds = time.perf_counter() - start
        self._tried = True

    def status(self) -> dict[str, str]:
        """Where the library stands in this process, without building it.

        ``state`` is ``"built"`` (compiled by this process), ``"cached"`` (loaded or loadable from the cache),
        ``"not built"`` (compiles on first use) or ``"fallback"`` (torch ops; ``reason`` says why);
        ``path`` is the cache directory (empty when there is none).

        >>> from neuromorph.neurons.native import LIF_KERNEL
        >>> info = LIF_KERNEL.status()
        >>> info["state"] in STATES, sorted(info)
        (True, ['path', 'reason', 'state'])
        """
        if not enabled():
            return {"state": "fallback", "reason": "disabled by NEUROMORPH_NATIVE=0", "path": ""}
        try:
            path = str(self.build_directory())
        except Exception as err:  # pragma: no cover - torch without cpp_extension support
            return {"state": "fallback", "reason": f"no build directory ({type(err).__name__}: {err})", "path": ""}
        if self._tried and self._module is None:
            return {"state": "fallback", "reason": f"build failed: {self._error}", "path": path}
        if self._tried and self._compiled_here:
            return {"state": "built", "reason": "compiled in this process", "path": path}
        if self._tried:
            return {"state": "cached", "reason": "loaded from the cache", "path": path}
        if self.is_cached():
            return {"state": "cached", "reason": "compiled library found in the cache", "path": path}
        return {"state": "not built", "reason": "compiles on first use or with `neuromorph build`", "path": path}


def libraries() -> list[NativeLibrary]:
    """Every native library of neuromorph, in build order.

    >>> [library.name for library in libraries()]
    ['neuromorph_lif_native', 'neuromorph_reservoir', 'neuromorph_lut_scan']
    """
    from neuromorph.compress.native import LUT_SCAN
    from neuromorph.neurons.native import LIF_KERNEL, RESERVOIR_SIMULATOR

    return [LIF_KERNEL, RESERVOIR_SIMULATOR, LUT_SCAN]
