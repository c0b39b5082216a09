"""The README's usage blocks and the quick start run as written (one namespace per page, in order)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _run_blocks(page: Path) -> dict:
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, f"{page} has no python block"
    namespace: dict = {}
    torch.manual_seed(0)
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


def test_readme_usage_blocks_run() -> None:
    namespace = _run_blocks(ROOT / "README.md")
    assert namespace["result"].final_test_accuracy > 0.8      # the online example: 2 epochs on digits


def test_quickstart_runs(capsys: pytest.CaptureFixture[str]) -> None:
    _run_blocks(ROOT / "docs" / "quickstart.md")
    accuracy = float(capsys.readouterr().out.split("test accuracy")[-1])
    assert accuracy > 0.9
