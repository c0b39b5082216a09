"""``benchmarks/games_inspect.py``: a frozen test game and a logged continuation of a lifetime checkpoint."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark_scripts import load_benchmark
from neuromorph.tasks.games import run_lifetime

pytest.importorskip("flappy_bird_gymnasium")
inspect = load_benchmark("games_inspect")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("life") / "checkpoint.npz")
    run_lifetime("flappy", 1500, seed=3, checkpoint=path, checkpoint_every=400, agent_config={"hidden": 8},
                 show_progress=False)
    return path


def test_play_leaves_the_weights_as_they_were(checkpoint):
    agent, result = inspect.load_agent(checkpoint)
    before = {k: v.copy() for k, v in agent.params.items()}
    report = inspect.play(agent, result["game"], max_steps=200)
    for k, v in agent.params.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    assert 1 <= report["env_steps"] <= 200 and sum(report["action_counts"]) == report["env_steps"]
    assert abs(sum(report["policy_mean"]) - 1.0) < 1e-3 and report["readout_trace_actor"] >= 0


def test_trace_continues_the_same_lifetime_and_logs_every_update(checkpoint):
    agent, result = inspect.load_agent(checkpoint)
    start = result["env_steps"]
    rows, lifetime = inspect.trace(checkpoint, start + 300)
    assert lifetime.env_steps >= start + 300 and lifetime.episode_scores[: len(result["episode_scores"])] == \
        result["episode_scores"]
    assert rows.shape[1] == len(inspect.TRACE_COLUMNS) and len(rows) >= 300  # one row per TD update
    # the continuation is the lifetime's own: the same run resumed without the log ends the same way
    again = run_lifetime("flappy", start + 300, seed=3, checkpoint=checkpoint, resume=True,
                         agent_config={"hidden": 8}, show_progress=False)
    assert again.episode_scores == lifetime.episode_scores


@pytest.mark.parametrize("critic_features", ["learned", "fixed"])
def test_firing_reports_both_populations_per_window(critic_features):
    rows = inspect.firing("flappy", 600, seed=1, every=200, hidden=8, critic_features=critic_features)
    assert [row["agent_steps"] for row in rows] == [200, 400, 600]
    assert all(0.0 <= row[name] <= 1.0 for row in rows for name in ("actor_rate", "critic_rate"))
    assert any(row["actor_rate"] > 0 for row in rows)
    with pytest.raises(ValueError, match="unit"):
        inspect.firing("flappy", 10, seed=1, every=5, unit="tanh")


def test_patched_restores_the_method_also_when_the_block_raises():
    from neuromorph.learning.agents import StreamingActorCritic

    original = StreamingActorCritic.forward
    calls = []

    def wrap(method):
        def wrapped(self, x):
            calls.append(1)
            return method(self, x)

        return wrapped

    with pytest.raises(RuntimeError, match="boom"), inspect.patched("forward", wrap):
        assert StreamingActorCritic.forward is not original
        agent = StreamingActorCritic(n_features=2, n_actions=2, hidden=4, seed=0)
        agent.act(np.zeros(2))
        raise RuntimeError("boom")
    assert StreamingActorCritic.forward is original and calls
    assert len(inspect.firing("flappy", 50, seed=1, every=25, hidden=4)) == 2  # a normal exit restores it too
    assert StreamingActorCritic.forward is original
