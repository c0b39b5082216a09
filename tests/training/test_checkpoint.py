"""Checkpoints: exact (bit-identical) resume, RNG round trip, file handling, config and world-size checks."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from neuromorph.training import (TrainConfig, capture_rng_state, latest_checkpoint, load_checkpoint,
                                 restore_rng_state, save_checkpoint, train)

torch.set_num_threads(1)


def _cfg(**kw) -> TrainConfig:
    base = dict(model="spikformer", dataset="digits", epochs=3, batch_size=32, lr=3e-3, dim=16, depth=1, heads=2,
                mlp_ratio=2.0, T=2, limit_train=128, limit_test=64, device="cpu", show_progress=False,
                time_shifts=(0, 1), input_noise=0.05)  # noise: the resumed run must continue the RNG stream
    base.update(kw)
    return TrainConfig(**base)


def _no_time(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    full = train(_cfg(checkpoint_dir=str(tmp_path / "full")), log=None)
    part = train(_cfg(checkpoint_dir=str(tmp_path / "part"), stop_after=1), log=None)
    assert len(part.history) == 1
    assert latest_checkpoint(str(tmp_path / "part")).endswith("epoch_0001.pt")
    # the interrupted model differs from the finished one ...
    assert not torch.equal(part.model.head.weight, full.model.head.weight)
    resumed = train(_cfg(checkpoint_dir=str(tmp_path / "part"), resume=True), log=None)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key  # ... and the resumed one is bit-identical
    assert _no_time(resumed.history) == _no_time(full.history)
    # every epoch wrote a checkpoint
    assert sorted(os.listdir(tmp_path / "full")) == ["epoch_0001.pt", "epoch_0002.pt", "epoch_0003.pt"]


def test_resume_with_finished_run_trains_nothing_and_checks_config(tmp_path):
    d = str(tmp_path)
    train(_cfg(model="linear", epochs=1, checkpoint_dir=d), log=None)
    again = train(_cfg(model="linear", epochs=1, checkpoint_dir=d, resume=True), log=None)
    assert len(again.history) == 1
    with pytest.raises(ValueError, match="config differs"):
        train(_cfg(model="linear", epochs=1, lr=0.5, checkpoint_dir=d, resume=True), log=None)
    with pytest.raises(ValueError, match="resume"):
        _cfg(resume=True).validate()


def test_rng_round_trip():
    state = capture_rng_state()
    first = (random.random(), float(np.random.rand()), torch.rand(3))
    restore_rng_state(state)
    second = (random.random(), float(np.random.rand()), torch.rand(3))
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    with pytest.raises(ValueError, match="state"):
        restore_rng_state({"python": None})


def test_save_load_and_latest(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    d = str(tmp_path / "ck")
    assert latest_checkpoint(d) is None
    for epoch in (1, 2, 10):
        save_checkpoint(d, model=model, optimizer=opt, epoch=epoch, rng_states=[capture_rng_state()])
    assert latest_checkpoint(d).endswith("epoch_0010.pt")
    assert not any(name.endswith(".tmp") for name in os.listdir(d))
    fresh = torch.nn.Linear(3, 2)
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    ckpt = load_checkpoint(latest_checkpoint(d), model=fresh, optimizer=fresh_opt)
    assert ckpt["epoch"] == 10 and ckpt["sampler_epoch"] == 10
    assert torch.equal(fresh.weight, model.weight)
    assert torch.equal(fresh_opt.state_dict()["state"][0]["momentum_buffer"],
                       opt.state_dict()["state"][0]["momentum_buffer"])
    with pytest.raises(ValueError, match="world_size"):
        load_checkpoint(latest_checkpoint(d), model=fresh, world_size=2)
    with pytest.raises(ValueError, match="path"):
        load_checkpoint(str(tmp_path / "missing.pt"), model=fresh)
    with pytest.raises(ValueError, match="rng_states"):
        save_checkpoint(d, model=model, optimizer=opt, epoch=1, rng_states=[])
