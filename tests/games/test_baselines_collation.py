"""``benchmarks/games_baselines.py``: the labels it gives runs in its tables and curve PNGs."""
from __future__ import annotations

import json

import pytest

from benchmark_scripts import load_benchmark

baselines = load_benchmark("games_baselines")


def _agent_run(sim_steps: int | None) -> dict:
    config = {"unit": "lif", "hidden": 128} | ({} if sim_steps is None else {"sim_steps": sim_steps})
    return {"policy": "agent", "config": config}


def test_labels_tell_runs_with_different_sim_steps_apart():
    # two lifetimes of the same unit, width and seed must not share a label: the PNG keys its curves by label
    assert baselines._label(_agent_run(6)) == "spiking LIF agent (H=128x2, 6 sim steps)"
    assert baselines._label(_agent_run(1)) == "spiking LIF agent (H=128x2, 1 sim step)"
    assert baselines._label(_agent_run(None)) == "spiking LIF agent (H=128x2)"  # older result files


def test_label_counts_one_population_when_the_critic_shares_the_actors_units():
    shared = _agent_run(6)
    shared["config"]["critic_features"] = "shared"
    assert baselines._label(shared, ("critic_features",)) == (
        "spiking LIF agent (H=128, 6 sim steps, critic_features shared)")
    shared["config"]["critic_features"] = "fixed"
    assert baselines._label(shared).startswith("spiking LIF agent (H=128x2,")


def test_random_policy_label_ignores_the_config():
    assert baselines._label({"policy": "random", "config": {}}) == "random policy"


def test_two_runs_with_the_same_curve_name_are_refused(tmp_path):
    run = {"game": "flappy", "seed": 0, "policy": "agent", "env_steps": 10, "wall_s": 1.0,
           "config": {"unit": "tanh", "hidden": 8, "sim_steps": 6}, "episode_scores": [1.0, 2.0],
           "episode_end_steps": [4, 10],
           "summary": {"episodes": 2, "mean_last_100": 1.5, "steps_per_s": 10.0, "agent_steps_per_s": 20.0,
                       "env_steps_per_s": 20.0, "peak_rss_mb": 1.0, "rss_growth_from_100k": 0.0}}
    paths = []
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(run))
        paths.append(str(tmp_path / name))
    with pytest.raises(ValueError, match="share the curve name"):
        baselines.main(paths + ["--out", str(tmp_path / "out")])
    run["seed"] = 1  # a different seed is a different curve
    (tmp_path / "b.json").write_text(json.dumps(run))
    assert baselines.main(paths + ["--out", str(tmp_path / "out")]) == 0


def test_settings_that_differ_between_runs_are_named_in_every_agent_label():
    runs = [{"policy": "agent", "config": {"unit": "lif", "hidden": 128, "sim_steps": 6, "kappa_actor": k,
                                           "lam": 0.9}} for k in (1.5, 1.0)]
    runs.append({"policy": "random", "config": {}})
    shown = baselines.varying_settings(runs)
    assert shown == ("kappa_actor",)  # lam is the same in both, the random policy has no settings
    assert [baselines._label(r, shown) for r in runs] == [
        "spiking LIF agent (H=128x2, 6 sim steps, kappa_actor 1.5)",
        "spiking LIF agent (H=128x2, 6 sim steps, kappa_actor 1.0)",
        "random policy",
    ]


def _pong_tables(tmp_path, configs: dict[str, dict]) -> str:
    """Collate one seed-0 Pong run per ``{file name: config}`` and return the table."""
    paths = []
    for name, config in configs.items():
        run = {"game": "pong_objects", "seed": 0, "policy": "agent", "env_steps": 10, "wall_s": 1.0,
               "config": config, "episode_scores": [-21.0, -20.0], "episode_end_steps": [4, 10],
               "summary": {"episodes": 2, "mean_last_100": -20.5, "steps_per_s": 10.0, "agent_steps_per_s": 20.0,
                           "env_steps_per_s": 20.0, "peak_rss_mb": 1.0, "rss_growth_from_100k": 0.0}}
        (tmp_path / name).write_text(json.dumps(run))
        paths.append(str(tmp_path / name))
    assert baselines.main(paths + ["--out", str(tmp_path / "out")]) == 0
    return (tmp_path / "out" / "table.md").read_text()


def test_runs_of_one_seed_that_differ_in_a_setting_get_two_curves(tmp_path):
    base = {"unit": "lif", "hidden": 8, "sim_steps": 6}
    table = _pong_tables(tmp_path, {"a.json": base | {"kappa_actor": 1.5}, "b.json": base | {"kappa_actor": 1.0}})
    assert "kappa_actor 1.5)" in table and "kappa_actor 1.0)" in table


def test_a_setting_missing_from_older_result_files_is_not_a_difference():
    old = {"policy": "agent", "config": {"unit": "lif", "hidden": 128, "sim_steps": 1, "kappa_actor": 1.5}}
    new = {"policy": "agent", "config": {"unit": "lif", "hidden": 128, "sim_steps": 6, "kappa_actor": 1.0,
                                         "action_repeat": 1}}
    shown = baselines.varying_settings([old, new])
    assert shown == ("kappa_actor",)
    assert baselines._label(old, shown) == "spiking LIF agent (H=128x2, 1 sim step, kappa_actor 1.5)"


def test_an_older_file_without_a_setting_is_labelled_with_its_default(tmp_path):
    # a file written before refresh_value existed ran without it: beside a run with it, the labels tell them apart
    base = {"unit": "lif", "hidden": 8, "sim_steps": 6}
    table = _pong_tables(tmp_path, {"old.json": base, "new.json": base | {"refresh_value": True}})
    assert "refresh_value False)" in table and "refresh_value True)" in table
