"""Atomic, pickle-free checkpoints of a lifetime: numpy arrays in an ``.npz`` plus a JSON header.

Writing goes to ``path + ".tmp"``, is flushed and ``fsync``-ed, then renamed over ``path`` with ``os.replace``
(atomic on POSIX), so a kill at any moment leaves either the previous or the new checkpoint, never a torn one.

>>> import tempfile, os, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
>>> save_checkpoint(path, {"w": np.ones(2)}, {"env_steps": 5})
>>> arrays, meta = load_checkpoint(path)
>>> arrays["w"].tolist(), meta["env_steps"]
([1.0, 1.0], 5)
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

_META = "__meta__"


def save_checkpoint(path: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write ``arrays`` and the JSON-serialisable ``meta`` to ``path`` atomically (module docstring)."""
    if _META in arrays:
        raise ValueError(f"array name {_META!r} is reserved")
    header = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **{_META: header}, **arrays)  # type: ignore[arg-type]  # numpy stubs read **kwds as allow_pickle
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_checkpoint(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` of a checkpoint written by :func:`save_checkpoint`."""
    if not os.path.isfile(path):
        raise ValueError(f"path must be an existing checkpoint file, got {path!r}")
    with np.load(path, allow_pickle=False) as data:
        if _META not in data.files:
            raise ValueError(f"{path} is not a games checkpoint (no {_META} entry)")
        meta = json.loads(data[_META].tobytes().decode())
        arrays = {k: data[k] for k in data.files if k != _META}
    return arrays, meta
