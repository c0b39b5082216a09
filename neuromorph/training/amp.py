"""Optional mixed precision: bfloat16 autocast on CPU, float16 autocast with a GradScaler on CUDA.

With ``enabled=False`` both the context and the scaler are pass-through, so the training loop is written once::

    amp = Amp(device, enabled)
    with amp.autocast():
        loss = criterion(model(x), y)
    amp.backward_step(loss, optimizer)

``backward_step`` computes ``scaler.scale(loss).backward()``, ``scaler.step(optimizer)``, ``scaler.update()`` with an
active scaler (CUDA fp16) and plain ``loss.backward(); optimizer.step()`` otherwise (bf16 has the fp32 exponent
range and needs no loss scaling).
"""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch
from torch import Tensor

from neuromorph.utils import check_bool


class Amp:
    """Mixed-precision policy for ``device`` (``torch.device`` or "cpu"/"cuda").

    >>> amp = Amp("cpu", enabled=True)
    >>> with amp.autocast():
    ...     y = torch.nn.Linear(2, 2)(torch.ones(1, 2))
    >>> amp.dtype, y.dtype, Amp("cpu").enabled
    (torch.bfloat16, torch.bfloat16, False)
    """

    def __init__(self, device: torch.device | str, enabled: bool = False) -> None:
        device = torch.device(device) if isinstance(device, str) else device
        if not isinstance(device, torch.device) or device.type not in ("cpu", "cuda"):
            raise ValueError(f"device must be a cpu or cuda torch.device, got {device!r}")
        self.device = device
        self.enabled = check_bool("enabled", enabled)
        self.dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda", enabled=enabled and device.type == "cuda")

    def autocast(self) -> ContextManager:
        """``torch.autocast`` for this device and dtype, or a null context when disabled."""
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def backward_step(
        self, loss: Tensor, optimizer: torch.optim.Optimizer, max_grad_norm: float | None = None, parameters=None
    ) -> None:
        """Backward pass and optimizer step, unscaling before optional gradient-norm clipping."""
        self.scaler.scale(loss).backward()
        if max_grad_norm is not None:
            self.scaler.unscale_(optimizer)
            params = parameters if parameters is not None else [p for g in optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        self.scaler.step(optimizer)
        self.scaler.update()

    def __repr__(self) -> str:
        return f"Amp(device={self.device}, enabled={self.enabled}, dtype={self.dtype})"
