"""``benchmarks/games_reference.py``: the SB3 reference sees the lifetime's env, actions and episode seeds, runs
exactly the asked budget and writes a result JSON that ``games_baselines.py`` collates."""
from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest

pytest.importorskip("flappy_bird_gymnasium")
pytest.importorskip("stable_baselines3")

from neuromorph.tasks.games.envs import make_env  # noqa: E402
from neuromorph.tasks.games.lifetime import EPISODE_SEED_STRIDE, LifetimeResult  # noqa: E402

from benchmark_scripts import load_benchmark  # noqa: E402

reference = load_benchmark("games_reference")
baselines = load_benchmark("games_baselines")


def test_ppo_run_writes_a_lifetime_json_with_the_exact_budget(tmp_path, capsys):
    out = tmp_path / "ppo"
    # 2500 steps: one full PPO rollout of 2048 steps and its update, then a stop mid-rollout
    assert reference.main(["--game", "flappy", "--env-steps", "2500", "--seed", "2", "--out", str(out),
                           "--random-episodes", "2"]) == 0
    data = json.loads((out / "result.json").read_text())
    expected_keys = {f.name for f in fields(LifetimeResult)} | {"summary", "random_level"}
    assert set(data) == expected_keys
    assert data["env_steps"] == 2500 and data["game"] == "flappy" and data["seed"] == 2
    assert data["policy"] == "ppo (stable-baselines3)" and data["config"]["unit"] == "mlp"
    assert data["config"]["n_steps"] == 2048 and data["config"]["net_arch"] == {"pi": [64, 64], "vf": [64, 64]}
    ends = data["episode_end_steps"]
    assert len(ends) == len(data["episode_scores"]) >= 10
    assert all(b > a for a, b in zip(ends, ends[1:])) and 0 < ends[0] and ends[-1] <= 2500
    assert all(s >= 0 and float(s).is_integer() for s in data["episode_scores"])  # pipes passed
    assert data["rss_mb"][0][0] == 0 and data["peak_rss_mb"] >= data["rss_mb"][0][1] > 0
    assert data["wall_s"] == pytest.approx(data["agent_s"] + data["env_s"])
    assert data["summary"]["episodes"] == len(ends) and data["random_level"] == {"mean_score": 0.0, "episodes": 2}
    assert (out / "curve.png").exists() and json.loads((out / "curve.json").read_text())["game"] == "flappy"
    assert "2500 env steps" in capsys.readouterr().out

    # the collation script takes the file unchanged, with its own label and the milestone table
    assert baselines.main([str(out / "result.json"), "--out", str(tmp_path / "coll"), "--at", "1000", "3000"]) == 0
    table = (tmp_path / "coll" / "table.md").read_text()
    row = "| ppo (stable-baselines3), MLP 64x64 (SB3 defaults) | 2 |"
    rows = [line for line in table.splitlines() if line.startswith(row)]
    assert len(rows) == 2  # the run's row and its milestone row: 1000 steps a mean, 3000 past the budget
    assert rows[1].endswith(" | - |") and float(rows[1].split("|")[3]) >= 0


def test_recorder_uses_the_lifetime_episode_seeds_and_action_set():
    result = LifetimeResult(game="flappy", seed=3, policy="test")
    env = reference._recording_env("flappy", 3, result, rss_every=10)
    assert env.action_space.n == 2
    first, _ = env.reset(seed=123)  # the vec env's seed is overridden by the lifetime's
    plain = make_env("flappy")
    np.testing.assert_array_equal(first, plain.reset(seed=3 * EPISODE_SEED_STRIDE)[0])
    done = False
    while not done:  # never flap: the bird falls to the ground
        _, _, terminated, truncated, _ = env.step(0)
        done = terminated or truncated
    assert result.episode_end_steps == [result.env_steps] and result.episode_scores == [0.0]
    assert [s for s, _ in result.rss_mb] == [0.0] + [float(s) for s in range(10, result.env_steps + 1, 10)]
    second, _ = env.reset()
    np.testing.assert_array_equal(second, plain.reset(seed=3 * EPISODE_SEED_STRIDE + 1)[0])
    assert not np.array_equal(first, second)
    env.close()
    plain.close()


def test_dqn_runs_the_budget_and_bad_arguments_are_named():
    result = reference.run_reference("flappy", env_steps=400, seed=0, algo="dqn", show_progress=False)
    assert result.env_steps == 400 and result.config["buffer_size"] == 1_000_000
    assert result.config["train_freq"] == [4, "step"] and result.policy.startswith("dqn")
    with pytest.raises(ValueError, match="algo must be one of"):
        reference.run_reference("flappy", env_steps=10, algo="a2c")
    with pytest.raises(ValueError, match="env_steps must be a positive int"):
        reference.run_reference("flappy", env_steps=0)
    with pytest.raises(ValueError, match="game must be one of"):
        reference.run_reference("tetris", env_steps=10)
