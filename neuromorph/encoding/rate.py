"""Rate coding: intensities become spike probabilities; spike counts become rates again.

Encoding (``method="bernoulli"``), for every element independently and every step ``t = 0..T-1``:

    p = clamp(gain * x, 0, 1),        s[t] ~ Bernoulli(p)

``method="poisson"`` treats ``gain * x`` as the intensity ``lambda`` of a Poisson process sampled with a
step ``dt`` and keeps at most one spike per step:

    p = 1 - exp(-lambda * dt),        s[t] ~ Bernoulli(p)

Decoding is the empirical rate ``r = (1/T) * sum_t s[t]`` (an unbiased estimate of ``p``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from neuromorph.utils import check_positive_int, check_tensor

RATE_METHODS = ("bernoulli", "poisson")


def _positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def rate_probability(
    x: Tensor, gain: float = 1.0, method: str = "bernoulli", dt: float = 1.0, clip: bool = False
) -> Tensor:
    """Per-step spike probability of each element of ``x`` (see the module docstring).

    Bernoulli coding needs ``gain * x`` in ``[0, 1]``: values outside raise a ``ValueError`` unless ``clip=True``
    (then they are clipped to ``[0, 1]``); Poisson coding needs ``gain * x >= 0`` likewise.

    >>> [round(p, 4) for p in rate_probability(torch.tensor([0.2, 0.8]), gain=0.5).tolist()]
    [0.1, 0.4]
    >>> try:
    ...     rate_probability(torch.tensor([2.0]))
    ... except ValueError:
    ...     print("outside [0, 1]")
    outside [0, 1]
    """
    check_tensor("x", x, floating=True, finite=True)
    gain = _positive_float("gain", gain)
    dt = _positive_float("dt", dt)
    if method not in RATE_METHODS:
        raise ValueError(f"method must be one of {RATE_METHODS}, got {method!r}")
    scaled = gain * x
    if not clip and x.numel():
        low, high = float(scaled.min()), float(scaled.max())
        if low < 0 or (method == "bernoulli" and high > 1):
            bound = "[0, 1]" if method == "bernoulli" else ">= 0"
            raise ValueError(
                f"gain * x must lie in {bound} for {method} rate coding, got values in "
                f"[{low:.4g}, {high:.4g}] (gain={gain}); rescale x or pass clip=True"
            )
    if method == "bernoulli":
        return scaled.clamp(0.0, 1.0)
    return -torch.expm1(-scaled.clamp_min(0.0) * dt)


def rate_encode(
    x: Tensor,
    num_steps: int,
    gain: float = 1.0,
    method: str = "bernoulli",
    dt: float = 1.0,
    generator: torch.Generator | None = None,
    clip: bool = False,
) -> Tensor:
    """Sample a spike train ``[T, ...]`` from intensities ``x`` (any shape; ``gain * x`` in ``[0, 1]`` for
    Bernoulli coding, see :func:`rate_probability`).

    >>> rate_encode(torch.tensor([0.0, 1.0]), 3).tolist()
    [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
    """
    num_steps = check_positive_int("num_steps", num_steps)
    p = rate_probability(x, gain, method, dt, clip)
    u = torch.rand((num_steps, *p.shape), generator=generator, dtype=p.dtype, device=p.device)
    return (u < p).to(p.dtype)


def rate_decode(spikes: Tensor, dim: int = 0) -> Tensor:
    """Firing rate ``(1/T) sum_t s[t]`` along the time dimension ``dim`` (default 0, time first).

    >>> rate_decode(torch.tensor([[1.0, 0.0], [1.0, 1.0]])).tolist()
    [1.0, 0.5]
    """
    check_tensor("spikes", spikes, floating=True)
    if spikes.dim() == 0:
        raise ValueError("spikes must have a time dimension, got a scalar")
    return spikes.mean(dim=dim)


class RateEncoder(nn.Module):
    """Module form of :func:`rate_encode`: ``[B, ...] -> [T, B, ...]`` spikes.

    >>> spikes = RateEncoder(num_steps=1000)(torch.tensor([[0.1, 0.9]]), torch.Generator().manual_seed(0))
    >>> spikes.shape, [round(r, 1) for r in spikes.mean(0)[0].tolist()]
    (torch.Size([1000, 1, 2]), [0.1, 0.9])
    """

    def __init__(
        self, num_steps: int, gain: float = 1.0, method: str = "bernoulli", dt: float = 1.0, clip: bool = False
    ) -> None:
        super().__init__()
        self.clip = bool(clip)
        self.num_steps = check_positive_int("num_steps", num_steps)
        self.gain = _positive_float("gain", gain)
        if method not in RATE_METHODS:
            raise ValueError(f"method must be one of {RATE_METHODS}, got {method!r}")
        self.method = method
        self.dt = _positive_float("dt", dt)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return rate_encode(x, self.num_steps, self.gain, self.method, self.dt, generator, self.clip)

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}, gain={self.gain}, method={self.method!r}"


class RateDecoder(nn.Module):
    """Class scores from output spikes: ``scores = spike count / T``, ``[T, B, C] -> [B, C]``.

    :meth:`predict` returns ``argmax`` of the scores (ties go to the lowest class index).

    >>> RateDecoder()(torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])).tolist()
    [[1.0, 0.5]]
    """

    def forward(self, spikes: Tensor) -> Tensor:
        check_tensor("spikes", spikes, ndim=3, floating=True)
        return rate_decode(spikes, dim=0)

    def predict(self, spikes: Tensor) -> Tensor:
        return self(spikes).argmax(dim=-1)
