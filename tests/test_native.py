"""The one loader of the native C++ libraries (:class:`neuromorph.native.NativeLibrary`), with the compiler
stubbed: build name and cache path, the one-line compile notice, cache hits, failures, the switch, threads."""
from __future__ import annotations

import threading
import time
import types

import pytest
import torch.utils.cpp_extension as cpp

from neuromorph import native
from neuromorph.compress.native import LUT_SCAN
from neuromorph.native import NativeLibrary, libraries
from neuromorph.neurons.native import LIF_KERNEL, RESERVOIR_SIMULATOR


@pytest.fixture
def library(tmp_path, monkeypatch):
    """A library whose source is a temporary file and whose cache is a temporary directory."""
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NEUROMORPH_NATIVE", raising=False)
    source = tmp_path / "demo_kernel.cpp"
    source.write_text("// demo\n")
    return NativeLibrary("neuromorph_demo", source, ["-O2"], ["-lm"], description="demo library")


def _stub_compiler(monkeypatch, calls: list, result=None):
    def fake_load(**kwargs):
        calls.append(kwargs)
        if isinstance(result, Exception):
            raise result
        return types.ModuleType("stub")

    monkeypatch.setattr(cpp, "load", fake_load)


def test_build_name_and_directory_follow_cpu_and_source(library, tmp_path):
    name = library.extension_name()
    assert name.startswith(f"neuromorph_demo_{native.cpu_tag()}_") and len(name.rsplit("_", 1)[1]) == 8
    assert library.build_directory() == tmp_path / "cache" / name  # TORCH_EXTENSIONS_DIR set: no py/cuda tag level
    library.source.write_text("// changed\n")
    assert library.extension_name() != name  # a new source version is a new build


def test_build_name_follows_the_flags(library):
    other = native.NativeLibrary(library.name, library.source, library.extra_cflags + ["-fno-trapping-math"])
    assert other.extension_name() != library.extension_name()  # other flags: another build, not an overwrite


def test_real_compile_prints_one_line_and_compiles_a_copy_in_the_cache(library, monkeypatch, capsys):
    calls: list = []
    _stub_compiler(monkeypatch, calls)
    assert library.status()["state"] == "not built"
    assert library.load() is not None and library.load() is not None  # second call: no second build
    err = capsys.readouterr().err.strip().splitlines()
    directory = library.build_directory()
    assert len(err) == 1 and "compiling the demo library" in err[0] and str(directory) in err[0]
    assert len(calls) == 1
    call = calls[0]
    assert call["name"] == library.extension_name() and call["build_directory"] == str(directory)
    assert call["sources"] == [str(directory / "demo_kernel.cpp")]
    assert (directory / "demo_kernel.cpp").read_text() == "// demo\n"
    assert call["extra_cflags"] == ["-O2"] and call["extra_ldflags"] == ["-lm"]
    assert library.status() == {"state": "built", "reason": "compiled in this process", "path": str(directory)}
    assert library.build_seconds > 0.0


def test_cache_hit_prints_nothing(library, monkeypatch, capsys):
    calls: list = []
    _stub_compiler(monkeypatch, calls)
    (library.build_directory() / f"{library.extension_name()}.so").write_bytes(b"")
    assert library.is_cached() and library.status()["state"] == "cached"
    library.load()
    assert capsys.readouterr().err == ""
    assert library.status()["state"] == "cached" and len(calls) == 1


def test_failed_build_warns_once_and_reports_the_reason(library, monkeypatch):
    calls: list = []
    _stub_compiler(monkeypatch, calls, RuntimeError("no compiler here"))
    with pytest.warns(RuntimeWarning, match="demo library unavailable.*no compiler here"):
        assert library.load() is None
    assert library.load() is None and len(calls) == 1  # not tried again, no second warning
    status = library.status()
    assert status["state"] == "fallback" and "no compiler here" in status["reason"]


def test_switch_disables_loading_and_is_reported(library, monkeypatch):
    calls: list = []
    _stub_compiler(monkeypatch, calls)
    monkeypatch.setenv("NEUROMORPH_NATIVE", "0")
    assert library.load() is None and calls == []
    assert library.status() == {"state": "fallback", "reason": "disabled by NEUROMORPH_NATIVE=0", "path": ""}
    monkeypatch.setenv("NEUROMORPH_NATIVE", "1")  # read on every call
    assert library.load() is not None and len(calls) == 1


def test_concurrent_loads_build_once(library, monkeypatch):
    calls: list = []

    def slow_load(**kwargs):
        calls.append(kwargs)
        time.sleep(0.2)
        return types.ModuleType("stub")

    monkeypatch.setattr(cpp, "load", slow_load)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(library.load())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 4 and all(r is results[0] is not None for r in results)


def test_name_must_be_an_identifier(tmp_path):
    with pytest.raises(ValueError, match="name must be a Python identifier"):
        NativeLibrary("not-a-name", tmp_path / "x.cpp", [])


def test_the_three_libraries_keep_their_build_names_and_flags():
    """Changing a name or a flag recompiles every user's cache: these are pinned on purpose."""
    assert libraries() == [LIF_KERNEL, RESERVOIR_SIMULATOR, LUT_SCAN]
    base = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp"]
    assert (LIF_KERNEL.name, LIF_KERNEL.extra_cflags, LIF_KERNEL.extra_ldflags) == \
        ("neuromorph_lif_native", base + ["-fno-trapping-math"], ["-fopenmp"])  # vectorised spike loops
    assert (RESERVOIR_SIMULATOR.name, RESERVOIR_SIMULATOR.extra_cflags) == \
        ("neuromorph_reservoir", base + ["-ffp-contract=off", "-fno-trapping-math"])
    assert (LUT_SCAN.name, LUT_SCAN.extra_cflags, LUT_SCAN.extra_ldflags) == \
        ("neuromorph_lut_scan", ["-O3", "-march=native", "-fno-math-errno"], [])


def test_module_functions_are_the_library_methods():
    from neuromorph.compress import native as compress_native
    from neuromorph.neurons import native as neuron_native

    assert neuron_native.load == LIF_KERNEL.load and neuron_native.status == LIF_KERNEL.status
    assert neuron_native.load_reservoir == RESERVOIR_SIMULATOR.load
    assert neuron_native.reservoir_build_seconds() == RESERVOIR_SIMULATOR.build_seconds
    assert compress_native.load == LUT_SCAN.load
