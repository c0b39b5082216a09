"""Surrogate gradients for the Heaviside spike function.

A spike is ``s = H(x)`` with ``x = v - threshold`` and ``H(x) = 1`` for ``x >= 0`` else ``0``. The true
derivative is zero almost everywhere, so training replaces ``dH/dx`` by a smooth pseudo-derivative:

* ``ATan(alpha)``:        ``dH/dx ~ alpha / (2 * (1 + (pi/2 * alpha * x)^2))``
* ``FastSigmoid(slope)``: ``dH/dx ~ 1 / (1 + slope * |x|)^2``
* ``Triangle(width)``:    ``dH/dx ~ max(0, 1 - |x| / width) / width``
* ``Sigmoid(slope)``:     ``dH/dx ~ slope * sig(slope x) * (1 - sig(slope x))``

Every surrogate exposes ``derivative(x)`` as a plain tensor function (used by the fused kernels and by
online learning rules) and ``__call__(x)``, the Heaviside step with the surrogate in its backward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


class _Heaviside(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, surrogate: "Surrogate") -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.derivative(x), None


@dataclass(frozen=True)
class Surrogate:
    """Base class: subclasses implement :meth:`derivative`.

    >>> sg = ATan()
    >>> x = torch.tensor([-1.0, 0.0, 1.0], requires_grad=True)
    >>> sg(x).tolist(), isinstance(sg, Surrogate)
    ([0.0, 1.0, 1.0], True)
    """

    def derivative(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative_(self, x: Tensor) -> Tensor:
        """In-place :meth:`derivative` (overwrites and returns ``x``); used by the fused kernels to avoid
        temporaries. Subclasses override it with a chain of in-place ops."""
        return x.copy_(self.derivative(x))

    def __call__(self, x: Tensor) -> Tensor:
        return _Heaviside.apply(x, self)


def _positive(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class ATan(Surrogate):
    """``dH/dx ~ alpha / (2 * (1 + (pi/2 * alpha * x)^2))``; the peak ``alpha / 2`` is at ``x = 0``.

    >>> x = torch.tensor([0.0, 1.0], requires_grad=True)
    >>> ATan(alpha=2.0)(x).sum().backward()
    >>> [round(g, 4) for g in x.grad.tolist()]
    [1.0, 0.092]
    """

    alpha: float = 2.0

    def __post_init__(self) -> None:
        _positive("alpha", self.alpha)

    def derivative(self, x: Tensor) -> Tensor:
        return (self.alpha / 2) / (1 + (math.pi / 2 * self.alpha * x).square())

    def derivative_(self, x: Tensor) -> Tensor:
        return x.mul_(math.pi / 2 * self.alpha).square_().add_(1).reciprocal_().mul_(self.alpha / 2)


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """``dH/dx ~ 1 / (1 + slope * |x|)^2``; the peak 1 is at ``x = 0``.

    >>> FastSigmoid(slope=1.0).derivative(torch.tensor([0.0, 1.0])).tolist()
    [1.0, 0.25]
    """

    slope: float = 25.0

    def __post_init__(self) -> None:
        _positive("slope", self.slope)

    def derivative(self, x: Tensor) -> Tensor:
        return (1 + self.slope * x.abs()).square().reciprocal()

    def derivative_(self, x: Tensor) -> Tensor:
        return x.abs_().mul_(self.slope).add_(1).square_().reciprocal_()


@dataclass(frozen=True)
class Triangle(Surrogate):
    """``dH/dx ~ max(0, 1 - |x| / width) / width``; zero outside ``|x| < width``.

    >>> Triangle(width=2.0).derivative(torch.tensor([0.0, 1.0, 3.0])).tolist()
    [0.5, 0.25, 0.0]
    """

    width: float = 1.0

    def __post_init__(self) -> None:
        _positive("width", self.width)

    def derivative(self, x: Tensor) -> Tensor:
        return (1 - x.abs() / self.width).clamp_min(0) / self.width

    def derivative_(self, x: Tensor) -> Tensor:
        return x.abs_().mul_(-1 / self.width).add_(1).clamp_min_(0).mul_(1 / self.width)


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """``dH/dx ~ slope * sig(slope x) * (1 - sig(slope x))``; the peak ``slope / 4`` is at ``x = 0``.

    >>> Sigmoid(slope=4.0).derivative(torch.tensor([0.0])).tolist()
    [1.0]
    """

    slope: float = 5.0

    def __post_init__(self) -> None:
        _positive("slope", self.slope)

    def derivative(self, x: Tensor) -> Tensor:
        sig = torch.sigmoid(self.slope * x)
        return self.slope * sig * (1 - sig)


SURROGATES: dict[str, type[Surrogate]] = {
    "atan": ATan,
    "fast_sigmoid": FastSigmoid,
    "triangle": Triangle,
    "sigmoid": Sigmoid,
}


def get_surrogate(spec: str | Surrogate) -> Surrogate:
    """Return a surrogate from its name (``"atan"``, ``"fast_sigmoid"``, ``"triangle"``, ``"sigmoid"``) or
    pass a :class:`Surrogate` instance through.

    >>> get_surrogate("fast_sigmoid"), get_surrogate(ATan(3.0))
    (FastSigmoid(slope=25.0), ATan(alpha=3.0))
    """
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, str) and spec in SURROGATES:
        return SURROGATES[spec]()
    raise ValueError(f"surrogate must be one of {sorted(SURROGATES)} or a Surrogate instance, got {spec!r}")
