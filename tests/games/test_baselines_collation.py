"""``benchmarks/games_baselines.py``: the labels it gives runs in its tables and curve PNGs."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "games_baselines.py"
_spec = importlib.util.spec_from_file_location("games_baselines", SCRIPT)
baselines = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(baselines)


def _agent_run(sim_steps: int | None) -> dict:
    config = {"unit": "lif", "hidden": 128} | ({} if sim_steps is None else {"sim_steps": sim_steps})
    return {"policy": "agent", "config": config}


def test_labels_tell_runs_with_different_sim_steps_apart():
    # two lifetimes of the same unit, width and seed must not share a label: the PNG keys its curves by label
    assert baselines._label(_agent_run(6)) == "spiking LIF agent (H=128x2, 6 sim steps)"
    assert baselines._label(_agent_run(1)) == "spiking LIF agent (H=128x2, 1 sim step)"
    assert baselines._label(_agent_run(None)) == "spiking LIF agent (H=128x2)"  # older result files


def test_random_policy_label_ignores_the_config():
    assert baselines._label({"policy": "random", "config": {}}) == "random policy"
