"""DDP: 2 gloo processes x batch b equal 1 process x batch 2b; elastic restart after a killed worker resumes
bit-identically; sampler sharding; helpers."""
from __future__ import annotations

import signal

import pytest
import torch
from torch.utils.data import TensorDataset

from _cli_runs import (assert_same_model, final_state, kill_torchrun_worker, metrics, run_train,
                       run_train_and_kill_mid_epoch)
from neuromorph.training import ddp

EPOCHS = 3
# spiking MLP (no BatchNorm, whose batch statistics would differ per rank), 512 digits, no input noise (the
# per-rank noise streams would differ): 64 optimizer steps per epoch, about 0.8 s per epoch with 2 processes
RUN = ["--model", "mlp", "--dataset", "digits", "--hidden", "64", "--T", "8", "--epochs", str(EPOCHS),
       "--limit-train", "512", "--limit-test", "128", "--lr", "3e-3", "--threads", "1"]
PER_RANK_BATCH = 4


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    """An uninterrupted ``--nproc 2`` run with batch 4 per process: its final checkpoint."""
    ck = tmp_path_factory.mktemp("ddp2")
    done = run_train(RUN + ["--batch-size", str(PER_RANK_BATCH), "--nproc", "2", "--checkpoint-dir", str(ck),
                            "--no-progress"])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "2 process(es)" in done.stdout
    return final_state(ck, EPOCHS)


@pytest.mark.timeout(300)
def test_two_gloo_processes_equal_one_process_with_double_batch(tmp_path, two_process_run):
    """Same permutation, each global batch split over 2 ranks, DDP-averaged gradients: after 192 AdamW steps the
    weights match one process with batch 2b to 1e-6 (the difference is float32 summation order only)."""
    ck = tmp_path / "one"
    done = run_train(RUN + ["--batch-size", str(2 * PER_RANK_BATCH), "--checkpoint-dir", str(ck), "--no-progress"])
    assert done.returncode == 0, done.stderr[-3000:]
    single = final_state(ck, EPOCHS)
    assert single["world_size"] == 1 and two_process_run["world_size"] == 2
    assert_same_model(single, two_process_run, atol=1e-6)
    # the test can fail: training moved the weights by far more than the tolerance
    moved = (final_state(ck, 1)["model"]["hidden.0.weight"] - single["model"]["hidden.0.weight"]).abs().max()
    assert moved > 1e-2
    for one, two in zip(metrics(single["history"]), metrics(two_process_run["history"])):
        assert one.keys() == two.keys()
        for key in one:
            assert one[key] == pytest.approx(two[key], abs=1e-5), key


@pytest.mark.timeout(300)
def test_elastic_restart_after_a_killed_worker_resumes_bit_identically(tmp_path, two_process_run):
    """``--nproc 2 --max-restarts 1``: SIGKILL rank 1 mid-epoch 2; torchrun restarts both workers, which resume
    from the epoch-1 checkpoint and end bit-identical to the uninterrupted 2-process run."""
    ck = tmp_path / "elastic"
    args = RUN + ["--batch-size", str(PER_RANK_BATCH), "--nproc", "2", "--max-restarts", "1",
                  "--checkpoint-dir", str(ck)]
    proc, out = run_train_and_kill_mid_epoch(args, epoch=2, kill=kill_torchrun_worker(rank=1))
    assert proc.returncode == 0, out[-4000:]
    assert f"(exitcode: -{int(signal.SIGKILL)}) local_rank: 1" in out, out[-4000:]  # torchrun saw the kill
    assert "restarted by torchrun" in out and "resumed from" in out
    assert_same_model(final_state(ck, EPOCHS), two_process_run)
    assert metrics(final_state(ck, EPOCHS)["history"]) == metrics(two_process_run["history"])


def test_max_restarts_needs_a_checkpoint_dir(capsys):
    from neuromorph.cli import main

    assert main(["train", *RUN, "--nproc", "2", "--max-restarts", "1"]) == 2
    assert "--max-restarts needs --checkpoint-dir" in capsys.readouterr().err


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


@pytest.mark.parametrize("synchronize", [True, False])
def test_cleanup_waits_at_a_barrier_before_destroying_the_group_only_when_asked(monkeypatch, synchronize):
    """The CLI's normal exit path synchronises first, so no rank closes its connections while a peer still runs."""
    torch.distributed.init_process_group("gloo", store=torch.distributed.HashStore(), rank=0, world_size=1)
    calls = []
    real_barrier, real_destroy = ddp.dist.barrier, ddp.dist.destroy_process_group
    monkeypatch.setattr(ddp.dist, "barrier", lambda *a, **k: calls.append("barrier") or real_barrier(*a, **k))
    monkeypatch.setattr(ddp.dist, "destroy_process_group",
                        lambda *a, **k: calls.append("destroy") or real_destroy(*a, **k))
    try:
        ddp.cleanup(synchronize=synchronize)
    finally:
        if torch.distributed.is_initialized():
            real_destroy()
    assert calls == (["barrier", "destroy"] if synchronize else ["destroy"])
    assert not torch.distributed.is_initialized()
    ddp.cleanup(synchronize=True)  # no group left: a no-op
    assert calls == (["barrier", "destroy"] if synchronize else ["destroy"])


def test_exit_worker_flushes_its_output_and_exits_with_the_code():
    """The worker's last words reach the pipe although the interpreter's teardown (and atexit) is skipped."""
    import subprocess
    import sys

    script = ("import atexit, sys\nfrom neuromorph.training.ddp import exit_worker\n"
              "atexit.register(lambda: print('atexit ran'))\n"
              "print('out', end='')\nsys.stderr.write('err')\nexit_worker(3)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out", "err")
