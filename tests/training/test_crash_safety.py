"""`neuromorph train` killed with SIGKILL mid-write and mid-epoch, with a corrupt newest checkpoint on top, resumes
to weights bit-identical to an uninterrupted run; the checkpoint files themselves are written atomically."""
from __future__ import annotations

import os
import signal

import pytest
import torch

from _cli_runs import assert_same_model, final_state, kill_process, metrics, run_train, run_train_and_kill_mid_epoch
from neuromorph.training.checkpoint import (KILL_IN_WRITE_ENV, CheckpointError, atomic_torch_save,
                                            capture_rng_state, latest_checkpoint, load_checkpoint,
                                            read_checkpoint, save_checkpoint, verify_checkpoint)

EPOCHS = 4
# a small Spikformer on 600 digits, batch 4: ~150 steps (about a second) per epoch, so a kill lands mid-epoch;
# input noise makes the resumed run depend on the restored random stream
SMALL_RUN = ["--model", "spikformer", "--dataset", "digits", "--dim", "16", "--depth", "1", "--heads", "2",
             "--mlp-ratio", "2", "--T", "4", "--epochs", str(EPOCHS), "--batch-size", "4", "--limit-train", "600",
             "--limit-test", "64", "--lr", "3e-3", "--input-noise", "0.05", "--threads", "1"]


def _epoch_files(directory) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.startswith("epoch_"))


@pytest.mark.timeout(400)
def test_sigkill_mid_write_and_mid_epoch_then_corrupt_newest_resumes_bit_identical(tmp_path):
    reference = tmp_path / "reference"
    done = run_train(SMALL_RUN + ["--checkpoint-dir", str(reference), "--no-progress"])
    assert done.returncode == 0, done.stderr[-3000:]
    ck = tmp_path / "crashing"

    # 1. killed inside the write of epoch 2, after the temporary file is complete and before the rename
    crashed = run_train(SMALL_RUN + ["--checkpoint-dir", str(ck), "--no-progress"], **{KILL_IN_WRITE_ENV: "2"})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    assert _epoch_files(ck) == ["epoch_0001.pt"]
    leftovers = [name for name in os.listdir(ck) if name.endswith(".tmp")]
    assert len(leftovers) == 1  # the complete-but-unrenamed temporary file of epoch 2

    # 2. resumed, finishes epoch 2, then killed in the middle of epoch 3
    proc, out = run_train_and_kill_mid_epoch(SMALL_RUN + ["--checkpoint-dir", str(ck), "--resume"], epoch=3,
                                             kill=kill_process)
    assert proc.returncode == -signal.SIGKILL, out[-3000:]
    assert "resumed from" in out and "epoch_0001.pt" in out
    assert _epoch_files(ck) == ["epoch_0001.pt", "epoch_0002.pt"]
    assert not any(name.endswith(".tmp") for name in os.listdir(ck))  # the stale temporary file was removed

    # 3. the newest checkpoint gets truncated (e.g. a disk fault): resume names it, falls back to epoch 1
    newest = ck / "epoch_0002.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    resumed = run_train(SMALL_RUN + ["--checkpoint-dir", str(ck), "--resume", "--no-progress"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"skipping bad checkpoint {newest}" in resumed.stderr
    assert "resumed from" in resumed.stdout and "epoch_0001.pt" in resumed.stdout

    a, b = final_state(reference, EPOCHS), final_state(ck, EPOCHS)
    assert_same_model(a, b)
    assert metrics(a["history"]) == metrics(b["history"])
    for key in ("optimizer", "scheduler"):
        assert repr(a[key]) == repr(b[key])
    # the interrupted epochs really mattered: the epoch-1 weights differ from the final ones
    assert not torch.equal(final_state(ck, 1)["model"]["head.weight"], b["model"]["head.weight"])


def _tiny_checkpoint(directory, epoch: int = 1) -> str:
    model = torch.nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return save_checkpoint(str(directory), model=model, optimizer=opt, epoch=epoch,
                           rng_states=[capture_rng_state()])


def test_truncated_checkpoint_error_names_the_file(tmp_path):
    path = _tiny_checkpoint(tmp_path)
    data = open(path, "rb").read()
    for cut in (0, 10, len(data) // 2, len(data) - 1):
        with open(path, "wb") as fh:
            fh.write(data[:cut])
        with pytest.raises(CheckpointError, match=f"checkpoint {path} is truncated or corrupt"):
            verify_checkpoint(path)
        with pytest.raises(ValueError, match=str(path)):  # CheckpointError is a ValueError
            load_checkpoint(path, model=torch.nn.Linear(8, 3))


def test_flipped_bit_in_tensor_data_is_caught(tmp_path):
    path = _tiny_checkpoint(tmp_path)
    data = bytearray(open(path, "rb").read())
    weights = read_checkpoint(path)["model"]["weight"]
    needle = weights.numpy().tobytes()
    start = bytes(data).index(needle)  # the raw float32 weights inside the zip container
    data[start + 5] ^= 0x10
    with open(path, "wb") as fh:
        fh.write(data)
    with pytest.raises(CheckpointError, match="CRC-32"):
        read_checkpoint(path)


def test_not_a_checkpoint_and_missing_file(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.ones(2)}, other)
    with pytest.raises(CheckpointError, match="not a neuromorph training checkpoint"):
        read_checkpoint(str(other))
    with pytest.raises(CheckpointError, match="missing.pt"):
        read_checkpoint(str(tmp_path / "missing.pt"))


def test_latest_checkpoint_skips_bad_files_with_a_warning(tmp_path):
    first, second, third = (_tiny_checkpoint(tmp_path, e) for e in (1, 2, 3))
    open(third, "wb").close()                      # empty
    with open(second, "r+b") as fh:                # truncated
        fh.truncate(100)
    with pytest.warns(RuntimeWarning) as record:
        assert latest_checkpoint(str(tmp_path)) == first
    messages = [str(w.message) for w in record]
    assert any(third in m for m in messages) and any(second in m for m in messages)
    assert latest_checkpoint(str(tmp_path), verify=False) == third
    open(first, "wb").close()
    with pytest.warns(RuntimeWarning):
        assert latest_checkpoint(str(tmp_path)) is None


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path):
    path = str(tmp_path / "x.pt")
    atomic_torch_save({"v": 1}, path)
    with pytest.raises(Exception):
        atomic_torch_save({"v": lambda: 0}, path)  # a lambda cannot be pickled: torch.save fails mid-write
    assert torch.load(path, weights_only=False) == {"v": 1}
    assert os.listdir(tmp_path) == ["x.pt"]        # no temporary file left behind

    def crash() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"v": 2}, path, before_rename=crash)
    assert torch.load(path, weights_only=False) == {"v": 1} and os.listdir(tmp_path) == ["x.pt"]


def test_save_removes_leftovers_of_killed_writes(tmp_path):
    for stale in (".epoch_0002.pt.123-abcd.tmp", "epoch_0002.pt.tmp"):
        (tmp_path / stale).write_bytes(b"partial")
    (tmp_path / "notes.tmp").write_bytes(b"someone else's")
    _tiny_checkpoint(tmp_path, 2)
    assert sorted(os.listdir(tmp_path)) == ["epoch_0002.pt", "notes.tmp"]
