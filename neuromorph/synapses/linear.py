"""Dense synapses for spike inputs: a drop-in ``nn.Linear`` that stores binary inputs compactly for backward.

``y = x W^T + b`` exactly as :class:`torch.nn.Linear`, over any leading dims (``[T, B, F]`` runs as one
matmul on ``T*B`` rows). The weight gradient ``dL/dW = g^T x`` needs the input in backward; a plain Linear
keeps it as float32 (4 bytes per element). When the input holds only 0s and 1s and comes out of another
layer — spikes — this layer keeps it as ``uint8`` (1 byte) and widens it chunk by chunk in backward, so the
activation memory of a spiking network's synapses drops 4x with bit-identical gradients. Other inputs are
kept by reference, exactly like ``nn.Linear``.

At inference (no gradient needed) a binary input goes through the event-driven path of
:mod:`neuromorph.synapses.event` when its measured spike rate is below the crossover (``event="auto"``);
``event="event"`` forces it, ``event="dense"`` never takes it. ``last_path`` (``"event"``/``"dense"``) and
``last_rate`` tell what the last call did.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from neuromorph.synapses.compact import tagged_compact_spikes
from neuromorph.synapses.event import MODES as EVENT_MODES
from neuromorph.synapses.event import try_event_linear


_CHUNK_ROWS = 2048  # rows per chunk when checking / widening the compact input (bounds transient memory)


def _compact(x: Tensor) -> tuple[Tensor, bool]:
    """``(uint8 copy, True)`` when ``x`` holds only 0/1 and is an intermediate of the autograd graph (e.g.
    the spikes of a LIF layer, which would otherwise stay alive only for this backward); else ``(x, False)``.
    A leaf input such as a data batch is referenced, not copied: its owner keeps it alive anyway."""
    if not x.is_floating_point() or x.numel() == 0 or x.grad_fn is None:
        return x, False
    tagged = tagged_compact_spikes(x)
    if tagged is not None:  # written by the LIF kernel together with the spikes
        return tagged, True
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        from neuromorph.neurons import native

        kernel = native.load()
        if kernel is not None:
            x_u8, ok = kernel.compact_binary(x)
            return (x_u8, True) if ok else (x, False)
    x2 = x.reshape(-1, x.shape[-1])
    x_u8 = torch.empty(x2.shape, dtype=torch.uint8, device=x.device)
    for start in range(0, x2.shape[0], _CHUNK_ROWS):
        rows = x2[start : start + _CHUNK_ROWS]
        chunk = x_u8[start : start + _CHUNK_ROWS]
        chunk.copy_(rows)
        if not bool(((rows == 0) | (rows == 1)).all()):
            return x, False
    return x_u8, True


def _weight_grad(g2: Tensor, saved: Tensor, dtype: torch.dtype) -> Tensor:
    """``g2^T x``, ``x`` read chunk by chunk (a compact uint8 input is widened one chunk at a time)."""
    x2 = saved.reshape(-1, saved.shape[-1])
    out = None
    for start in range(0, x2.shape[0], _CHUNK_ROWS * 4):
        part = g2[start : start + _CHUNK_ROWS * 4].t().matmul(x2[start : start + _CHUNK_ROWS * 4].to(dtype))
        out = part if out is None else out.add_(part)
    return cast(Tensor, out)  # saved holds at least one row (the loop ran), as the caller assumes


class _SpikeLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:  # type: ignore[override]
        out = nn.functional.linear(x, weight, bias)
        saved = _compact(x)[0] if ctx.needs_input_grad[1] else None
        ctx.has_bias = bias is not None
        ctx.save_for_backward(saved, weight)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        saved, weight = ctx.saved_tensors
        g_x = g_w = g_b = None
        if ctx.needs_input_grad[0]:
            g_x = g.matmul(weight.to(g.dtype))
        g2 = g.reshape(-1, g.shape[-1])
        if ctx.needs_input_grad[1]:
            g_w = _weight_grad(g2, saved, g.dtype).to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            g_b = g2.sum(0)
        return g_x, g_w, g_b


class SpikeLinear(nn.Linear):
    """``nn.Linear`` whose saved input is stored as ``uint8`` when it is binary, and whose inference on sparse
    spikes runs event-driven (see module docstring).

    Under autocast or for non-float inputs it falls back to :class:`torch.nn.Linear` behaviour.

    >>> import torch
    >>> layer = SpikeLinear(1024, 128)
    >>> with torch.no_grad():
    ...     y = layer((torch.rand(32, 1024) < 0.05).float())
    >>> layer.last_path
    'event'
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None, event: str = "auto"
    ) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        if event not in EVENT_MODES:
            raise ValueError(f"event must be one of {EVENT_MODES}, got {event!r}")
        self.event = event
        # [path, rate] of the last call, updated in place (no nn.Module.__setattr__ on the per-call path)
        self._last: list = [None, None]
        self._event_cache: dict = {}

    @property
    def last_path(self) -> str | None:
        """``"event"`` or ``"dense"``: the path the last call took (``None`` before the first call)."""
        return self._last[0]

    @property
    def last_rate(self) -> float | None:
        """The input spike rate the last call measured (``None`` when it did not look at the spikes)."""
        return self._last[1]

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"SpikeLinear input must be a torch.Tensor, got {type(x).__name__}")
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"SpikeLinear expects input [..., {self.in_features}], got shape {tuple(x.shape)}")
        last = self._last
        last[0], last[1] = "dense", None
        weight, bias = self.weight, self.bias
        grad_mode = torch.is_grad_enabled()
        autocast = torch.is_autocast_enabled(x.device.type)
        needs_grad = grad_mode and (
            x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
        )
        if not needs_grad and not autocast and self.event != "dense":
            y, last[1] = try_event_linear(x, weight, bias, self.event, self._event_cache, tagged_compact_spikes(x))
            if y is not None:
                last[0] = "event"
                return y
        if not grad_mode or autocast or x.dtype != weight.dtype or x.grad_fn is None:
            # a leaf input (a data batch) is saved by reference either way: plain nn.Linear, no extra overhead
            return nn.functional.linear(x, weight, bias)
        return _SpikeLinearFn.apply(x, weight, bias)
