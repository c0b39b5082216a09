"""Bounded neuron parameters kept in range by a parametrisation, never by clamping.

* :class:`Decay` — a value in ``(0, 1)``: ``beta = sigmoid(raw)``, ``raw = logit(beta_init)``.
* :class:`Positive` — a value in ``(0, inf)``: ``theta = softplus(raw)``, ``raw = log(expm1(theta_init))``.

Both are scalar (``size=None``) or per-neuron (``size=int`` or a shape tuple that broadcasts against the
trailing dims of the input, e.g. ``(C, 1, 1)`` for per-channel conv maps). When not learnable the value is a
buffer and costs nothing per call.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _shape(name: str, size: int | tuple[int, ...] | None) -> tuple[int, ...]:
    if size is None:
        return ()
    if isinstance(size, bool):
        raise TypeError(f"{name} must be None, a positive int or a tuple of positive ints, got {size!r}")
    if isinstance(size, int):
        size = (size,)
    if not isinstance(size, tuple) or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(f"{name} must be None, a positive int or a tuple of positive ints, got {size!r}")
    return size


def _init_tensor(name: str, init: float | Tensor, shape: tuple[int, ...]) -> Tensor:
    if isinstance(init, Tensor):
        if not init.is_floating_point():
            raise TypeError(f"{name} must be a float or a floating-point tensor, got dtype {init.dtype}")
        value = init.detach().clone()
        if shape and value.shape != torch.Size(shape) and value.dim() != 0:
            raise ValueError(f"{name} has shape {tuple(value.shape)}, expected {shape} or a scalar")
        return value.expand(shape).clone() if shape else value.reshape(())
    if isinstance(init, bool) or not isinstance(init, (int, float)):
        raise TypeError(f"{name} must be a float or a tensor, got {type(init).__name__}")
    return torch.full(shape, float(init))


class _Bounded(nn.Module):
    raw: nn.Parameter
    fixed: Tensor

    def _check(self, value: Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _inverse(value: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _forward(raw: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __init__(self, name: str, init: float | Tensor, learnable: bool, size: int | tuple[int, ...] | None):
        super().__init__()
        self.name = name
        value = _init_tensor(name, init, _shape(f"num_neurons (the size of {name})", size))
        self._check(value)
        self.learnable = bool(learnable)
        if self.learnable:
            self.raw = nn.Parameter(self._inverse(value))
        else:
            self.register_buffer("fixed", value)

    def forward(self) -> Tensor:
        return self._forward(self.raw) if self.learnable else self.fixed

    def extra_repr(self) -> str:
        value = self.forward().detach()
        shown = f"{value.item():.4g}" if value.numel() == 1 else f"shape={tuple(value.shape)}"
        return f"{self.name}={shown}, learnable={self.learnable}"


class Decay(_Bounded):
    """Decay factor in ``(0, 1)``; learnable through ``beta = sigmoid(raw)``.

    >>> beta = Decay("beta", 0.9, learnable=True, size=3)
    >>> [round(v, 4) for v in beta().tolist()], [p.shape for p in beta.parameters()]
    ([0.9, 0.9, 0.9], [torch.Size([3])])
    """

    def _check(self, value: Tensor) -> None:
        if not bool(((value > 0) & (value < 1)).all()):
            raise ValueError(f"{self.name} must lie strictly between 0 and 1, got {value.tolist()}")

    @staticmethod
    def _inverse(value: Tensor) -> Tensor:
        return torch.log(value) - torch.log1p(-value)

    @staticmethod
    def _forward(raw: Tensor) -> Tensor:
        return torch.sigmoid(raw)


class Positive(_Bounded):
    """Strictly positive value (thresholds, scales); learnable through ``theta = softplus(raw)``.

    >>> thr = Positive("threshold", 2.0, learnable=True, size=None)
    >>> round(thr().item(), 4), thr.raw.requires_grad
    (2.0, True)
    """

    def _check(self, value: Tensor) -> None:
        if not bool((value > 0).all()) or not bool(torch.isfinite(value).all()):
            raise ValueError(f"{self.name} must be positive and finite, got {value.tolist()}")

    @staticmethod
    def _inverse(value: Tensor) -> Tensor:
        # log(expm1(v)) computed stably for large v
        return torch.where(value > 20, value, torch.log(torch.expm1(value.clamp_max(20))))

    @staticmethod
    def _forward(raw: Tensor) -> Tensor:
        return nn.functional.softplus(raw)


def decay_from_tau(tau: float, dt: float = 1.0) -> float:
    """Convert a time constant to a per-step decay, ``beta = exp(-dt / tau)``.

    >>> round(decay_from_tau(10.0), 4)
    0.9048
    """
    if not tau > 0 or not dt > 0:
        raise ValueError(f"tau and dt must be positive, got tau={tau!r}, dt={dt!r}")
    return math.exp(-dt / tau)
