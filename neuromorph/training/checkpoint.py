"""Per-epoch checkpoints that allow an exact (bit-identical) resume.

A checkpoint file ``epoch_{k:04d}.pt`` written after epoch ``k`` (1-based) holds:

- ``model``, ``optimizer``, ``scheduler``, ``scaler``: the ``state_dict()`` of each (``None`` where absent);
- ``epoch``: ``k`` — the number of completed epochs; training resumes at epoch ``k + 1``;
- ``sampler_epoch``: the value the next epoch passes to ``DistributedSampler.set_epoch`` (equal to ``k`` here);
- ``rng``: one entry per rank with the python ``random``, numpy, torch CPU and (when present) all CUDA generator
  states, captured *after* the epoch's evaluation, i.e. exactly where the next epoch will start drawing;
- ``world_size``, ``history`` (list of per-epoch metric dicts) and ``extra`` (free-form, e.g. the config).

Crash safety. :func:`save_checkpoint` writes to a temporary file in the same directory
(``.epoch_{k:04d}.pt.<random>.tmp``), flushes it, calls ``fsync`` on it, renames it over ``epoch_{k:04d}.pt`` with
``os.replace`` (atomic on POSIX) and calls ``fsync`` on the directory, so a crash (even SIGKILL or power loss) leaves
either the complete new file or none, never a truncated ``epoch_*.pt``; leftovers of interrupted writes are
removed by the next save. Older epochs are never deleted, so the previous good checkpoint is always kept.
:func:`read_checkpoint` checks the zip container's CRC-32 of every record before unpickling and raises
:class:`CheckpointError` (a ``ValueError``) naming the file when it is truncated or corrupt;
:func:`latest_checkpoint` skips such files with a warning that names them and falls back to the newest good one.

Resuming with the same world size, thread count and config reproduces an uninterrupted run bit for bit on CPU.

>>> import tempfile, torch
>>> d = tempfile.mkdtemp(); net = torch.nn.Linear(2, 1); opt = torch.optim.SGD(net.parameters(), lr=0.1)
>>> path = save_checkpoint(d, model=net, optimizer=opt, epoch=1, rng_states=[capture_rng_state()])
>>> latest_checkpoint(d) == path and read_checkpoint(path)["epoch"] == 1
True
"""

from __future__ import annotations

import os
import random
import re
import secrets
import signal
import warnings
import zipfile
import zlib
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

_CKPT_RE = re.compile(r"^epoch_(\d{4,})\.pt$")
# temporary files of interrupted writes: ours (".epoch_0003.pt.<random>.tmp") and older builds' ("epoch_0003.pt.tmp")
_TMP_RE = re.compile(r"^\.?epoch_\d{4,}\.pt\.(?:[^/]*\.)?tmp$")
#: Test hook: with this environment variable set to an epoch number, the process kills itself with SIGKILL while
#: saving that epoch, after the temporary file is complete and before the rename (simulates a crash mid-write).
KILL_IN_WRITE_ENV = "NEUROMORPH_TEST_KILL_IN_CHECKPOINT_WRITE"


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt or not a neuromorph training checkpoint.

    >>> import tempfile
    >>> bad = os.path.join(tempfile.mkdtemp(), "epoch_0001.pt")
    >>> _ = open(bad, "wb").write(b"not a checkpoint")
    >>> try:
    ...     verify_checkpoint(bad)
    ... except CheckpointError:
    ...     print("rejected")
    rejected
    """


def capture_rng_state() -> dict[str, Any]:
    """Python, numpy, torch CPU and CUDA RNG states of this process.

    >>> state = capture_rng_state()
    >>> a = torch.rand(2)
    >>> restore_rng_state(state)
    >>> torch.equal(a, torch.rand(2)), sorted(state)[:3]
    (True, ['numpy', 'python', 'torch'])
    """
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`.

    >>> state = capture_rng_state()
    >>> before = (random.random(), np.random.rand(), torch.rand(1).item())
    >>> restore_rng_state(state)
    >>> before == (random.random(), np.random.rand(), torch.rand(1).item())
    True
    """
    if not isinstance(state, dict) or not {"python", "numpy", "torch"} <= state.keys():
        raise ValueError("state must be a dict from capture_rng_state() with keys 'python', 'numpy', 'torch'")
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_path(directory: str, epoch: int) -> str:
    """``directory/epoch_{epoch:04d}.pt``.

    >>> checkpoint_path("runs", 7).replace(os.sep, "/")
    'runs/epoch_0007.pt'
    """
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
    return os.path.join(directory, f"epoch_{epoch:04d}.pt")


def checkpoint_paths(directory: str) -> list[str]:
    """Paths of all ``epoch_*.pt`` files in ``directory``, newest epoch first (empty if there are none).

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> for epoch in (1, 2):
    ...     _ = open(checkpoint_path(d, epoch), "wb").close()
    >>> [os.path.basename(p) for p in checkpoint_paths(d)]
    ['epoch_0002.pt', 'epoch_0001.pt']
    """
    if not os.path.isdir(directory):
        return []
    found = [(int(m.group(1)), name) for name in os.listdir(directory) if (m := _CKPT_RE.match(name))]
    return [os.path.join(directory, name) for _, name in sorted(found, reverse=True)]


def latest_checkpoint(directory: str, verify: bool = True) -> str | None:
    """Path of the newest good ``epoch_*.pt`` in ``directory`` (None if there is none).

    With ``verify`` (default) each candidate, newest first, is checked with :func:`verify_checkpoint`; a truncated
    or corrupt one is skipped with a ``RuntimeWarning`` naming it, and the next older one is tried.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> net = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> for epoch in (1, 2):
    ...     _ = save_checkpoint(d, model=net, optimizer=opt, epoch=epoch, rng_states=[capture_rng_state()])
    >>> _ = open(checkpoint_path(d, 3), "wb").write(b"truncated")        # a broken newer file is skipped
    >>> os.path.basename(latest_checkpoint(d))
    'epoch_0002.pt'
    """
    for path in checkpoint_paths(directory):
        if not verify:
            return path
        try:
            verify_checkpoint(path)
        except CheckpointError as err:
            warnings.warn(
                f"skipping bad checkpoint {path}: {err}; falling back to an older one", RuntimeWarning, stacklevel=2
            )
            continue
        return path
    return None


def verify_checkpoint(path: str) -> None:
    """Raise :class:`CheckpointError` naming ``path`` unless it is a complete zip container whose records all
    match their CRC-32 (what ``torch.save`` writes). Catches truncation and flipped bits without unpickling.

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.pt")
    >>> torch.save({"a": 1}, path)
    >>> verify_checkpoint(path) is None
    True
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path} does not exist or is not a file")
    try:
        with zipfile.ZipFile(path) as archive:
            bad_record = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as err:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({type(err).__name__}: {err})") from err
    if bad_record is not None:
        raise CheckpointError(f"checkpoint {path} is corrupt: record {bad_record!r} fails its CRC-32 check")


def read_checkpoint(path: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint dict stored in ``path`` after :func:`verify_checkpoint`; :class:`CheckpointError` naming
    the file when it is unreadable or lacks the ``model``/``epoch`` entries.

    >>> import tempfile
    >>> net = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> path = save_checkpoint(tempfile.mkdtemp(), model=net, optimizer=opt, epoch=1, rng_states=[{}])
    >>> ckpt = read_checkpoint(path)
    >>> ckpt["epoch"], ckpt["world_size"], sorted(ckpt["model"])
    (1, 1, ['bias', 'weight'])
    """
    verify_checkpoint(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # unpickling errors come in many types; all mean the same thing here
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(err).__name__}: {err})") from err
    if not isinstance(ckpt, dict) or "model" not in ckpt or "epoch" not in ckpt:
        raise CheckpointError(f"{path} is not a neuromorph training checkpoint (no 'model'/'epoch' entries)")
    return ckpt


def _state(obj: Any) -> Any:
    return None if obj is None else obj.state_dict()


def save_checkpoint(
    directory: str,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    rng_states: list[dict[str, Any]],
    scheduler: Any = None,
    scaler: Any = None,
    history: list[dict] | None = None,
    extra: dict | None = None,
) -> str:
    """Write ``epoch_{epoch:04d}.pt`` into ``directory`` atomically and return its path.

    ``rng_states``: one :func:`capture_rng_state` dict per rank, in rank order (gather them before calling this on
    rank 0). ``model`` must be the bare module (not the DDP wrapper) so keys carry no ``module.`` prefix.

    >>> import tempfile
    >>> net = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> path = save_checkpoint(tempfile.mkdtemp(), model=net, optimizer=opt, epoch=5, rng_states=[capture_rng_state()],
    ...                        history=[{"epoch": 5, "train_loss": 0.1}])
    >>> os.path.basename(path), read_checkpoint(path)["history"][0]["epoch"]
    ('epoch_0005.pt', 5)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(model, nn.parallel.DistributedDataParallel):
        raise TypeError("model must be the bare module; pass ddp_model.module")
    if not isinstance(rng_states, list) or not rng_states:
        raise ValueError("rng_states must be a non-empty list with one capture_rng_state() dict per rank")
    os.makedirs(directory, exist_ok=True)
    payload = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": _state(scheduler),
        "scaler": _state(scaler),
        "epoch": epoch,
        "sampler_epoch": epoch,
        "rng": rng_states,
        "world_size": len(rng_states),
        "history": list(history or []),
        "extra": dict(extra or {}),
    }
    path = checkpoint_path(directory, epoch)
    _remove_stale_temporaries(directory)
    atomic_torch_save(payload, path, before_rename=lambda: _kill_hook(epoch))
    return path


def atomic_torch_save(obj: Any, path: str, before_rename: Callable[[], None] | None = None) -> None:
    """``torch.save(obj, path)`` that never leaves a partial ``path``: temp file in the same directory, flush,
    ``fsync``, ``os.replace``, then ``fsync`` of the directory so the rename itself survives a power loss.

    ``before_rename`` (optional) is called once the temporary file is durable, just before the rename; tests use it
    to simulate a crash at the worst moment. On any exception the temporary file is removed.

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.pt")
    >>> atomic_torch_save({"a": torch.ones(2)}, path)
    >>> torch.load(path)["a"].tolist(), os.listdir(os.path.dirname(path))
    ([1.0, 1.0], ['x.pt'])
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    # O_EXCL: never follow or reuse an existing name; mode 0o666 minus the umask, like a plain open()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory descriptors: the rename is still atomic
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _remove_stale_temporaries(directory: str) -> None:
    """Delete temporary files left by writes that were killed before their rename (only rank 0 writes)."""
    for name in os.listdir(directory):
        if _TMP_RE.match(name):
            try:
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass


def _kill_hook(epoch: int) -> None:
    """See :data:`KILL_IN_WRITE_ENV`."""
    target = os.environ.get(KILL_IN_WRITE_ENV)
    if target is not None and target.strip() == str(epoch):
        os.kill(os.getpid(), signal.SIGKILL)


def load_checkpoint(
    path: str,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
    rank: int = 0,
    world_size: int = 1,
    restore_rng: bool = True,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load ``path`` into the given objects and (by default) restore this rank's RNG states.

    Returns the raw checkpoint dict (``epoch``, ``sampler_epoch``, ``history``, ``extra`` ...). Raises
    :class:`CheckpointError` naming ``path`` when the file is truncated or corrupt, and ``ValueError`` if the
    checkpoint was written by a different world size and ``restore_rng`` is set, since the
    per-rank random streams could not be continued exactly.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> net = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> path = save_checkpoint(d, model=net, optimizer=opt, epoch=3, rng_states=[capture_rng_state()])
    >>> copy = torch.nn.Linear(2, 1)
    >>> ckpt = load_checkpoint(path, model=copy)
    >>> ckpt["epoch"], torch.equal(copy.weight, net.weight)
    (3, True)
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"path must be an existing checkpoint file, got {path!r}")
    ckpt = read_checkpoint(path, map_location)
    if restore_rng and ckpt["world_size"] != world_size:
        raise ValueError(
            f"checkpoint {path} was written with world_size={ckpt['world_size']}, this run has "
            f"world_size={world_size}; resume with the same number of processes"
        )
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
