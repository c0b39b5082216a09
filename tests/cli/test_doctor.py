"""First run: ``neuromorph doctor`` output, ``neuromorph build`` idempotence and its compile notice (the loader
itself is tested in ``tests/test_native.py``)."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neuromorph.cli import main
from neuromorph import native
from neuromorph.native import libraries

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
    for library in libraries():
        assert f"{library.description}: {library.status()['state']} (" in text
    assert "native LIF kernel: " in text and "native reservoir simulator: " in text and "native LUT scan: " in text
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
    assert set(info["native_libraries"]) == {library.description for library in libraries()}
    assert all(status["state"] in native.STATES for status in info["native_libraries"].values())
    assert "partly installed" in doctor.format_report(info)


def test_doctor_names_the_fallback_reason(capsys, monkeypatch):
    monkeypatch.setenv("NEUROMORPH_NATIVE", "0")
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    for library in libraries():
        assert f"{library.description}: fallback (disabled by NEUROMORPH_NATIVE=0)" in text


@pytest.mark.skipif(not native.enabled(), reason="native libraries disabled")
def test_build_builds_every_library_and_is_idempotent():
    first = _cli("build")
    assert first.returncode == 0, first.stderr
    compiled = {library: library.build_directory() / f"{library.extension_name()}.so" for library in libraries()}
    stamps = {library: path.stat().st_mtime_ns for library, path in compiled.items()}
    second = _cli("build")
    assert second.returncode == 0, second.stderr
    for library, path in compiled.items():
        assert f"{library.description}: cached (" in second.stdout
        assert f"  cache: {library.build_directory()}" in second.stdout
        assert path.stat().st_mtime_ns == stamps[library]
    assert "compiling" not in second.stderr


def test_build_reports_disabled_libraries():
    result = _cli("build", env={"NEUROMORPH_NATIVE": "0"})
    assert result.returncode == 1
    for library in libraries():
        assert f"{library.description}: fallback (disabled by NEUROMORPH_NATIVE=0)" in result.stdout


@pytest.mark.slow
def test_first_compile_in_empty_cache_announces_itself(tmp_path):
    """Real compiles into an empty cache: one stderr line per library naming the cache, then all are cached."""
    env = {"TORCH_EXTENSIONS_DIR": str(tmp_path)}
    first = _cli("build", env=env)
    assert first.returncode == 0, first.stderr
    for library in libraries():
        notices = [ln for ln in first.stderr.splitlines() if f"compiling the {library.description}" in ln]
        assert len(notices) == 1 and str(tmp_path) in notices[0]
        assert f"{library.description}: built" in first.stdout
    second = _cli("build", env=env)
    assert "compiling" not in second.stderr
    assert all(f"{library.description}: cached" in second.stdout for library in libraries())
