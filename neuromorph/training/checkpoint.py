"""Per-epoch checkpoints that allow an exact (bit-identical) resume.

A checkpoint file ``epoch_{k:04d}.pt`` written after epoch ``k`` (1-based) holds:

- ``model``, ``optimizer``, ``scheduler``, ``scaler``: the ``state_dict()`` of each (``None`` where absent);
- ``epoch``: ``k`` — the number of completed epochs; training resumes at epoch ``k + 1``;
- ``sampler_epoch``: the value the next epoch passes to ``DistributedSampler.set_epoch`` (equal to ``k`` here);
- ``rng``: one entry per rank with the python ``random``, numpy, torch CPU and (when present) all CUDA generator
  states, captured *after* the epoch's evaluation, i.e. exactly where the next epoch will start drawing;
- ``world_size``, ``history`` (list of per-epoch metric dicts) and ``extra`` (free-form, e.g. the config).

Files are written to a temporary name and renamed, so a crash never leaves a truncated ``epoch_*.pt``.
Resuming with the same world size, thread count and config reproduces an uninterrupted run bit for bit on CPU.
"""
from __future__ import annotations

import os
import random
import re
from typing import Any

import numpy as np
import torch
from torch import nn

_CKPT_RE = re.compile(r"^epoch_(\d{4,})\.pt$")


def capture_rng_state() -> dict[str, Any]:
    """Python, numpy, torch CPU and CUDA RNG states of this process."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    if not isinstance(state, dict) or not {"python", "numpy", "torch"} <= state.keys():
        raise ValueError("state must be a dict from capture_rng_state() with keys 'python', 'numpy', 'torch'")
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_path(directory: str, epoch: int) -> str:
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
    return os.path.join(directory, f"epoch_{epoch:04d}.pt")


def latest_checkpoint(directory: str) -> str | None:
    """Path of the ``epoch_*.pt`` file with the highest epoch in ``directory`` (None if there is none)."""
    if not os.path.isdir(directory):
        return None
    found = [(int(m.group(1)), name) for name in os.listdir(directory) if (m := _CKPT_RE.match(name))]
    return os.path.join(directory, max(found)[1]) if found else None


def _state(obj: Any) -> Any:
    return None if obj is None else obj.state_dict()


def save_checkpoint(directory: str, *, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int,
                    rng_states: list[dict[str, Any]], scheduler: Any = None, scaler: Any = None,
                    history: list[dict] | None = None, extra: dict | None = None) -> str:
    """Write ``epoch_{epoch:04d}.pt`` into ``directory`` atomically and return its path.

    ``rng_states``: one :func:`capture_rng_state` dict per rank, in rank order (gather them before calling this on
    rank 0). ``model`` must be the bare module (not the DDP wrapper) so keys carry no ``module.`` prefix.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(model, nn.parallel.DistributedDataParallel):
        raise TypeError("model must be the bare module; pass ddp_model.module")
    if not isinstance(rng_states, list) or not rng_states:
        raise ValueError("rng_states must be a non-empty list with one capture_rng_state() dict per rank")
    os.makedirs(directory, exist_ok=True)
    payload = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": _state(scheduler),
        "scaler": _state(scaler), "epoch": epoch, "sampler_epoch": epoch, "rng": rng_states,
        "world_size": len(rng_states), "history": list(history or []), "extra": dict(extra or {}),
    }
    path = checkpoint_path(directory, epoch)
    tmp = path + ".tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str, *, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, scaler: Any = None, rank: int = 0, world_size: int = 1,
                    restore_rng: bool = True, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load ``path`` into the given objects and (by default) restore this rank's RNG states.

    Returns the raw checkpoint dict (``epoch``, ``sampler_epoch``, ``history``, ``extra`` ...). Raises
    ``ValueError`` if the checkpoint was written by a different world size and ``restore_rng`` is set, since the
    per-rank random streams could not be continued exactly.
    """
    if not os.path.isfile(path):
        raise ValueError(f"path must be an existing checkpoint file, got {path!r}")
    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "epoch" not in ckpt:
        raise ValueError(f"{path} is not a neuromorph training checkpoint")
    if restore_rng and ckpt["world_size"] != world_size:
        raise ValueError(f"checkpoint {path} was written with world_size={ckpt['world_size']}, this run has "
                         f"world_size={world_size}; resume with the same number of processes")
    model.load_state_dict(ckpt["model"])
    if optimizer is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt["scheduler"] is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if scaler is not None and ckpt["scaler"] is not None:
        scaler.load_state_dict(ckpt["scaler"])
    if restore_rng:
        restore_rng_state(ckpt["rng"][rank])
    return ckpt
