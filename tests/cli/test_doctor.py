"""First run: ``neuromorph doctor`` output, ``neuromorph build`` idempotence, the lazy-compile notice."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from neuromorph.cli import main
from neuromorph.neurons import native

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "neuromorph", *args], capture_output=True, text=True, env=full_env,
                          cwd=ROOT, timeout=900)


def test_doctor_prints_versions_threads_kernel_and_extras(capsys):
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert f"python     {platform.python_version()}" in text
    assert f"torch      {torch.__version__}" in text
    assert f"torch intra-op {torch.get_num_threads()}" in text
    state = native.status()["state"]
    assert f"native LIF kernel: {state} (" in text
    assert "extras:" in text and "  test " in text and "pytest" in text
    assert "  interop " in text and " nir " in text


def test_doctor_json_reports_missing_packages(capsys, monkeypatch):
    import neuromorph.cli.doctor as doctor

    monkeypatch.setattr(doctor, "declared_extras", lambda: {"fake": ["surely-not-installed-pkg", "torch"]})
    assert main(["doctor", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["extras"]["fake"]["surely-not-installed-pkg"] is None
    assert info["extras"]["fake"]["torch"] == torch.__version__
    assert info["threads"]["torch_intra_op"] == torch.get_num_threads()
    assert info["native_kernel"]["state"] in ("built", "cached", "not built", "fallback")
    assert "partly installed" in doctor.format_report(info)


def test_doctor_names_the_fallback_reason(capsys, monkeypatch):
    monkeypatch.setenv("NEUROMORPH_NATIVE", "0")
    assert main(["doctor"]) == 0
    assert "native LIF kernel: fallback (disabled by NEUROMORPH_NATIVE=0)" in capsys.readouterr().out


def test_lazy_compile_prints_one_line_with_the_cache_path(capsys, monkeypatch, tmp_path):
    """A build that is not in the cache announces itself once on stderr (the compiler itself is stubbed)."""
    import torch.utils.cpp_extension as cpp

    calls = []
    monkeypatch.setattr(native, "_TRIED", False)
    monkeypatch.setattr(native, "_MODULE", None)
    monkeypatch.setattr(native, "_COMPILED_HERE", False)
    monkeypatch.setattr(native, "build_directory", lambda: tmp_path)
    monkeypatch.setattr(cpp, "load", lambda **kw: calls.append(kw) or types.ModuleType("stub"))
    assert native.load() is not None and native.load() is not None  # second call: no second build
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "compiling the native LIF kernel" in err[0] and str(tmp_path) in err[0]
    assert len(calls) == 1 and calls[0]["build_directory"] == str(tmp_path)
    assert native.status()["state"] == "built"


def test_cached_load_prints_nothing(capsys, monkeypatch, tmp_path):
    import torch.utils.cpp_extension as cpp

    (tmp_path / f"{native.extension_name()}.so").write_bytes(b"")
    monkeypatch.setattr(native, "_TRIED", False)
    monkeypatch.setattr(native, "_MODULE", None)
    monkeypatch.setattr(native, "_COMPILED_HERE", False)
    monkeypatch.setattr(native, "build_directory", lambda: tmp_path)
    monkeypatch.setattr(cpp, "load", lambda **kw: types.ModuleType("stub"))
    native.load()
    assert capsys.readouterr().err == ""
    assert native.status()["state"] == "cached"


def test_failed_build_is_reported_as_fallback_with_reason(monkeypatch, tmp_path):
    import torch.utils.cpp_extension as cpp

    def broken(**kw):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(native, "_TRIED", False)
    monkeypatch.setattr(native, "_MODULE", None)
    monkeypatch.setattr(native, "_COMPILED_HERE", False)
    monkeypatch.setattr(native, "build_directory", lambda: tmp_path)
    monkeypatch.setattr(cpp, "load", broken)
    with pytest.warns(RuntimeWarning, match="no compiler here"):
        assert native.load() is None
    status = native.status()
    assert status["state"] == "fallback" and "no compiler here" in status["reason"]


@pytest.mark.skipif(not native.enabled(), reason="native kernel disabled")
def test_build_is_idempotent():
    first = _cli("build")
    assert first.returncode == 0, first.stderr
    library = native.build_directory() / f"{native.extension_name()}.so"
    stamp = library.stat().st_mtime_ns
    second = _cli("build")
    assert second.returncode == 0, second.stderr
    assert "native LIF kernel: cached" in second.stdout and str(native.build_directory()) in second.stdout
    assert "compiling" not in second.stderr
    assert library.stat().st_mtime_ns == stamp


def test_build_reports_disabled_kernel():
    result = _cli("build", env={"NEUROMORPH_NATIVE": "0"})
    assert result.returncode == 1 and "disabled by NEUROMORPH_NATIVE=0" in result.stdout


@pytest.mark.slow
def test_first_compile_in_empty_cache_announces_itself(tmp_path):
    """A real compile into an empty cache: one stderr line naming the cache, then the kernel is cached."""
    env = {"TORCH_EXTENSIONS_DIR": str(tmp_path)}
    first = _cli("build", env=env)
    assert first.returncode == 0, first.stderr
    notices = [ln for ln in first.stderr.splitlines() if "compiling the native LIF kernel" in ln]
    assert len(notices) == 1 and str(tmp_path) in notices[0]
    assert "native LIF kernel: built" in first.stdout
    second = _cli("build", env=env)
    assert "native LIF kernel: cached" in second.stdout and "compiling" not in second.stderr
