"""Helpers for tests that run ``python -m neuromorph train`` as a subprocess and kill it at chosen moments."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

import torch

REPO = Path(__file__).resolve().parents[2]

# tqdm line of the training bar, e.g. "epoch 3/4:  25%|██▌       | 15/60 [00:00<00:01, 145.69it/s]"
_BAR_RE = re.compile(r"epoch (\d+)/\d+:\s*\d+%\|[^|]*\|\s*(\d+)/(\d+)")


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for a child ``neuromorph`` process that imports this checkout, single-threaded, no torchrun
    variables inherited. The compiled LIF kernel is switched off: these tests are about processes and files, and
    a rebuild of the shared extension cache would otherwise dominate their run time."""
    env = dict(os.environ, OMP_NUM_THREADS="1", NEUROMORPH_NATIVE="0", PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RESTART_COUNT",
                "NEUROMORPH_PROGRESS", "NEUROMORPH_TEST_KILL_IN_CHECKPOINT_WRITE"):
        env.pop(var, None)
    env.update(extra)
    return env


def train_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "neuromorph", "train", *args]


def run_train(args: list[str], timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """Run ``neuromorph train <args>`` to completion (or to its death) and return the completed process."""
    return subprocess.run(train_command(*args), env=cli_env(**env), capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def run_train_and_kill_mid_epoch(args: list[str], epoch: int, kill: Callable[[subprocess.Popen], None],
                                 timeout: float = 300) -> tuple[subprocess.Popen, str]:
    """Start ``neuromorph train <args>`` with its progress bar on, call ``kill(proc)`` as soon as the bar shows
    epoch ``epoch`` with at least one and at most half of its batches done, then wait for the process to end.

    Returns the process and its combined output. Raises ``AssertionError`` if the run ends before that moment.
    """
    proc = subprocess.Popen(train_command(*args), env=cli_env(NEUROMORPH_PROGRESS="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=REPO)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    seen = b""
    killed = False
    try:
        while True:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            seen += chunk
            if not killed:
                for match in _BAR_RE.finditer(seen[-4096:].decode("utf-8", "replace")):
                    ep, done, total = (int(g) for g in match.groups())
                    if ep == epoch and 1 <= done <= total // 2:
                        kill(proc)
                        killed = True
                        break
        proc.wait()
    finally:
        timer.cancel()
    text = seen.decode("utf-8", "replace")
    assert killed, f"the run ended before epoch {epoch} was half done:\n{text[-3000:]}"
    return proc, text


def kill_process(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)


def final_state(checkpoint_dir: Path, epoch: int) -> dict:
    """The checkpoint dict of ``epoch`` in ``checkpoint_dir``."""
    from neuromorph.training.checkpoint import checkpoint_path, read_checkpoint

    return read_checkpoint(checkpoint_path(str(checkpoint_dir), epoch))


def assert_same_model(a: dict, b: dict, atol: float = 0.0) -> None:
    """Equal model tensors (bit for bit when ``atol`` is 0)."""
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        x, y = a["model"][key], b["model"][key]
        if atol == 0.0:
            assert torch.equal(x, y), f"{key} differs by {(x.double() - y.double()).abs().max().item():.3g}"
        else:
            torch.testing.assert_close(x, y, rtol=0, atol=atol, msg=lambda m, k=key: f"{k}: {m}")


def metrics(history: list[dict]) -> list[dict]:
    """Per-epoch metrics without the wall-clock seconds."""
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def descendants(pid: int) -> list[int]:
    """Process ids of all live descendants of ``pid`` (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                stat = fh.read()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_torchrun_worker(rank: int) -> Callable[[subprocess.Popen], None]:
    """A ``kill`` callback for :func:`run_train_and_kill_mid_epoch` that SIGKILLs the torchrun worker of ``rank``
    (found among the launcher's descendants by its ``RANK`` environment variable)."""
    def kill(proc: subprocess.Popen) -> None:
        for pid in descendants(proc.pid):
            try:
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    env = dict(item.split(b"=", 1) for item in fh.read().split(b"\0") if b"=" in item)
            except OSError:
                continue
            if env.get(b"RANK") == str(rank).encode() and env.get(b"TORCHELASTIC_RESTART_COUNT") == b"0":
                os.kill(pid, signal.SIGKILL)
                return
        raise AssertionError(f"no torchrun worker with RANK={rank} under process {proc.pid}")
    return kill
