"""DDP: two real CPU processes under torchrun (gloo) end with identical weights; sampler sharding; helpers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from neuromorph.training import ddp

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
           str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=False)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=False)
    assert (r0["rank"], r1["rank"], r0["world_size"], r1["world_size"]) == (0, 1, 2, 2)
    assert r0["state"].keys() == r1["state"].keys()
    for key in r0["state"]:
        assert torch.equal(r0["state"][key], r1["state"][key]), key
    metrics = [[{k: v for k, v in h.items() if k != "seconds"} for h in r["history"]] for r in (r0, r1)]
    assert metrics[0] == metrics[1]  # metrics are all-reduced, so every rank reports the same numbers
    assert len(r0["history"]) == 2
    # training actually moved the weights away from the seeded initialisation
    from neuromorph.training import TrainConfig, build_data, build_model
    from neuromorph.utils import seed_everything

    cfg = TrainConfig(model="spikformer", dataset="digits", dim=16, depth=1, heads=2, mlp_ratio=2.0, T=2,
                      limit_train=96, limit_test=64)
    seed_everything(cfg.seed)
    init = build_model(cfg, build_data(cfg).info).state_dict()
    assert not torch.equal(init["head.weight"], r0["state"]["head.weight"])


def test_distributed_sampler_shards_are_disjoint_and_cover():
    data = TensorDataset(torch.arange(10.0))
    shards = []
    for rank in range(2):
        env = ddp.DistEnv(rank=rank, world_size=2)
        sampler = ddp.make_sampler(data, env, shuffle=True, seed=3)
        sampler.set_epoch(1)
        shards.append(list(sampler))
    assert not set(shards[0]) & set(shards[1])
    assert sorted(shards[0] + shards[1]) == list(range(10))
    env1 = ddp.DistEnv()
    a, b = ddp.make_sampler(data, env1, True, 3), ddp.make_sampler(data, env1, True, 3)
    a.set_epoch(0)
    b.set_epoch(1)
    assert list(a) != list(b)  # reshuffled per epoch, deterministically from (seed, epoch)


def test_shard_indices_and_single_process_noops():
    env = ddp.DistEnv(rank=1, world_size=3)
    assert list(ddp.shard_indices(8, env)) == [1, 4, 7]
    single = ddp.DistEnv()
    t = torch.ones(3)
    assert ddp.all_reduce_sum(t, single) is t and torch.equal(t, torch.ones(3))
    assert ddp.all_gather_objects({"a": 1}, single) == [{"a": 1}]
    model = torch.nn.Linear(2, 2)
    assert ddp.wrap_ddp(model, single) is model and ddp.unwrap(model) is model


def test_init_distributed_without_torchrun_env(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    env = ddp.init_distributed("cpu")
    assert (env.rank, env.world_size, env.distributed, env.device.type) == (0, 1, False, "cpu")
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        ddp.init_distributed("cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(ValueError, match="RANK"):
        ddp.init_distributed("cpu")
    with pytest.raises(ValueError, match="device"):
        ddp.init_distributed("tpu")
    with pytest.raises(ValueError, match="backend"):
        ddp.init_distributed("cpu", backend="mpi")
