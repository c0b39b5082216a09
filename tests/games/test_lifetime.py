"""The lifetime loop: checkpoints are atomic, a killed lifetime resumes exactly, memory is sampled."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("flappy_bird_gymnasium")

from neuromorph.tasks.games import random_policy_scores, run_lifetime  # noqa: E402
from neuromorph.tasks.games.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from neuromorph.tasks.games.curves import curve  # noqa: E402

SMALL = {"hidden": 16, "n_pop": 4}


class _Killed(Exception):
    pass


def test_resume_after_a_crash_continues_the_same_lifetime(tmp_path):
    full = run_lifetime("flappy", 3000, seed=3, checkpoint=str(tmp_path / "a.npz"), checkpoint_every=500,
                        agent_config=SMALL)
    seen = []

    def crash(steps: int) -> None:
        seen.append(steps)
        if len(seen) == 2:
            raise _Killed

    with pytest.raises(_Killed):
        run_lifetime("flappy", 3000, seed=3, checkpoint=str(tmp_path / "b.npz"), checkpoint_every=500,
                     agent_config=SMALL, on_checkpoint=crash)
    resumed = run_lifetime("flappy", 3000, seed=3, checkpoint=str(tmp_path / "b.npz"), checkpoint_every=500,
                           agent_config=SMALL, resume=True)
    assert resumed.resumed_from == [seen[1]]
    assert resumed.episode_scores == full.episode_scores and resumed.episode_end_steps == full.episode_end_steps
    assert resumed.env_steps == full.env_steps == 3000
    a, meta_a = load_checkpoint(str(tmp_path / "a.npz"))
    b, meta_b = load_checkpoint(str(tmp_path / "b.npz"))
    assert meta_a["result"]["env_steps"] == meta_b["result"]["env_steps"]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert any(not np.array_equal(a["param.w1"], v) for v in [np.zeros_like(a["param.w1"])])


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    path = str(tmp_path / "c.npz")
    run_lifetime("flappy", 600, seed=1, checkpoint=path, checkpoint_every=100, agent_config=SMALL)
    with pytest.raises(ValueError, match="another run"):
        run_lifetime("flappy", 900, seed=2, checkpoint=path, checkpoint_every=100, agent_config=SMALL, resume=True)


def test_resume_accepts_a_checkpoint_written_before_an_option_existed(tmp_path):
    """A checkpoint whose config lacks a newer option (here ``entropy_half_life``) ran with its default."""
    path = str(tmp_path / "old.npz")
    full = run_lifetime("flappy", 1200, seed=4, agent_config=SMALL)
    run_lifetime("flappy", 600, seed=4, checkpoint=path, checkpoint_every=300, agent_config=SMALL)
    arrays, meta = load_checkpoint(path)
    del meta["result"]["config"]["entropy_half_life"], meta["agent"]["config"]["entropy_half_life"]
    save_checkpoint(path, arrays, meta)
    resumed = run_lifetime("flappy", 1200, seed=4, checkpoint=path, agent_config=SMALL, resume=True)
    assert resumed.episode_scores == full.episode_scores
    with pytest.raises(ValueError, match="another run"):  # a changed option still refuses the checkpoint
        run_lifetime("flappy", 1200, seed=4, checkpoint=path, agent_config={**SMALL, "entropy_half_life": 5},
                     resume=True)


def test_entropy_half_life_lowers_the_entropy_weight_over_the_lifetime():
    from neuromorph.learning.agents import StreamingActorCritic

    agent = StreamingActorCritic(12, 2, hidden=4, entropy=0.02, entropy_half_life=1000)
    taus = []
    for steps in (0, 1000, 3000):
        agent.steps = steps
        taus.append(agent.entropy_coefficient())
    assert taus == pytest.approx([0.02, 0.01, 0.005])
    assert StreamingActorCritic(12, 2, hidden=4, entropy=0.02).entropy_coefficient() == 0.02
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="entropy_half_life"):
            StreamingActorCritic(12, 2, entropy_half_life=bad)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = str(tmp_path / "ck.npz")
    save_checkpoint(path, {"w": np.arange(3.0)}, {"env_steps": 1})

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        save_checkpoint(path, {"w": np.zeros(3)}, {"env_steps": 2})
    arrays, meta = load_checkpoint(path)  # the old checkpoint is intact
    assert meta["env_steps"] == 1 and arrays["w"].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="existing checkpoint"):
        load_checkpoint(str(tmp_path / "missing.npz"))


def test_result_samples_memory_and_times():
    result = run_lifetime("flappy", 1500, seed=0, rss_every=500, agent_config=SMALL)
    assert [s for s, _ in result.rss_mb] == [0.0, 500.0, 1000.0, 1500.0]
    assert all(mb > 0 for _, mb in result.rss_mb) and result.peak_rss_mb > 0
    assert 0 < result.agent_s < result.wall_s and 0 < result.env_s < result.wall_s
    assert sum(result.episode_scores) >= 0 and result.episode_end_steps == sorted(result.episode_end_steps)


def test_random_policy_and_curve():
    scores = random_policy_scores("flappy", 5, seed=0)
    assert len(scores) == 5 and all(s == 0 for s in scores)  # random flapping never passes a pipe
    c = curve([1.0, 3.0, 5.0, 7.0], [10, 20, 30, 40], window=2)
    assert c["mean_score"] == [1.0, 2.0, 4.0, 6.0]
    with pytest.raises(ValueError, match="same length"):
        curve([1.0], [1, 2])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="game"):
        run_lifetime("tetris", 10)
    with pytest.raises(ValueError, match="env_steps"):
        run_lifetime("flappy", 0)
    with pytest.raises(ValueError, match="resume needs"):
        run_lifetime("flappy", 10, resume=True)


def _cli(out: str, steps: int, resume: bool = False) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "neuromorph", "learn", "flappy", "--env-steps", str(steps), "--seed", "5",
           "--out", out, "--checkpoint-every", "1000", "--hidden", "16", "--n-pop", "4", "--random-episodes", "3"]
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.Popen(cmd + (["--resume"] if resume else []), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def test_cli_killed_with_sigkill_resumes_to_the_uninterrupted_lifetime(tmp_path):
    steps = 12000
    ref = _cli(str(tmp_path / "ref"), steps)
    assert ref.wait(timeout=300) == 0
    run = _cli(str(tmp_path / "run"), steps)
    ckpt = tmp_path / "run" / "checkpoint.npz"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and run.poll() is None:
        time.sleep(0.05)
    if run.poll() is not None:
        pytest.skip("the run finished before it could be killed (machine too fast for this budget)")
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert not (tmp_path / "run" / "result.json").exists()
    again = _cli(str(tmp_path / "run"), steps, resume=True)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    a = json.loads((tmp_path / "ref" / "result.json").read_text())
    b = json.loads((tmp_path / "run" / "result.json").read_text())
    assert len(b["resumed_from"]) == 1 and b["resumed_from"][0] > 0
    assert a["episode_scores"] == b["episode_scores"] and a["env_steps"] == b["env_steps"] == steps
    for key in ("episode_scores", "env_steps", "wall_s", "rss_mb"):
        assert key in b
    curve_json = json.loads((tmp_path / "run" / "curve.json").read_text())
    assert curve_json["random_level"] == 0.0 and len(curve_json["mean_score"]) == len(b["episode_scores"])
    assert (tmp_path / "run" / "curve.png").stat().st_size > 1000
