"""Population coding with Gaussian tuning curves, and population-vector decoders.

Scalar values: ``N`` neurons with preferred values ``p_i`` evenly spaced over ``[low, high]`` encode a value
``x`` by the rates

    r_i(x) = r_max * exp(-(x - p_i)^2 / (2 sigma^2))          (default sigma = spacing = (high-low)/(N-1))

and, per time step, Bernoulli spikes ``s_i[t] ~ Bernoulli(r_i)``. The decoder is the count-weighted mean of
the preferred values (centre of mass), with ``c_i`` spike counts or rates:

    x_hat = sum_i c_i p_i / sum_i c_i                           (silent population -> (low + high) / 2)

Each of the ``D`` components of a vector is coded by its own population, so ``[..., D] -> [..., D, N]``.
Memory is ``D * N`` rates, or ``D * N * T`` bits as spikes.

Directions (angles, unit vectors): neurons with preferred unit directions ``d_i`` and the population vector

    v_hat = sum_i c_i d_i,   direction = v_hat / ||v_hat||                 (Georgopoulos et al. 1986)

:class:`CircularPopulationEncoder` uses von Mises tuning ``r_i = r_max exp(kappa (cos(theta - theta_i) - 1))``
on ``N`` evenly spaced angles and decodes ``theta_hat = atan2(sum c_i sin theta_i, sum c_i cos theta_i)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from neuromorph.utils import check_positive_int, check_tensor


def _num(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _check_num_neurons(num_neurons: object, minimum: int) -> int:
    if not isinstance(num_neurons, int) or isinstance(num_neurons, bool) or num_neurons < minimum:
        raise ValueError(f"num_neurons must be an int >= {minimum}, got {num_neurons!r}")
    return num_neurons


def _check_r_max(r_max: object) -> float:
    r = _num("r_max", r_max)
    if not 0.0 < r <= 1.0:
        raise ValueError(f"r_max must be in (0, 1] (it is a per-step spike probability), got {r_max!r}")
    return r


def _bernoulli(rates: Tensor, num_steps: int, generator: torch.Generator | None) -> Tensor:
    check_positive_int("num_steps", num_steps)
    u = torch.rand((num_steps, *rates.shape), generator=generator, dtype=rates.dtype, device=rates.device)
    return (u < rates).to(rates.dtype)


# -- functional kernels ----------------------------------------------------------------------------
def gaussian_rates(x: Tensor, preferred: Tensor, sigma: float, r_max: float = 1.0) -> Tensor:
    """``r[..., d, i] = r_max * exp(-(x[..., d] - preferred[i])^2 / (2 sigma^2))``.

    >>> r = gaussian_rates(torch.tensor([0.0]), torch.tensor([0.0, 1.0]), sigma=1.0)
    >>> [round(v, 4) for v in r[0].tolist()]
    [1.0, 0.6065]
    """
    check_tensor("x", x, floating=True, finite=True)
    check_tensor("preferred", preferred, ndim=1, floating=True, finite=True)
    for name, value in (("sigma", sigma), ("r_max", r_max)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return r_max * torch.exp(-((x.unsqueeze(-1) - preferred) ** 2) / (2.0 * sigma * sigma))


def centre_of_mass(counts: Tensor, preferred: Tensor, fallback: float) -> Tensor:
    """``sum_i c_i p_i / sum_i c_i`` over the last dim; rows with ``sum_i c_i = 0`` give ``fallback``.

    >>> centre_of_mass(torch.tensor([[1.0, 0.0, 3.0], [0.0, 0.0, 0.0]]), torch.tensor([0.0, 0.5, 1.0]), 0.5).tolist()
    [0.75, 0.5]
    """
    total = counts.sum(dim=-1)
    weighted = (counts * preferred).sum(dim=-1)
    safe = torch.where(total > 0, total, torch.ones_like(total))
    return torch.where(total > 0, weighted / safe, torch.full_like(weighted, fallback))


def population_vector_decode(counts: Tensor, directions: Tensor, normalize: bool = True) -> Tensor:
    """Population vector ``sum_i c_i d_i`` (``counts [..., N]``, ``directions [N, D]`` -> ``[..., D]``).

    With ``normalize=True`` the result is scaled to unit length (zero vectors stay zero).

    >>> directions = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> [round(v, 4) for v in population_vector_decode(torch.tensor([3.0, 4.0, 0.0]), directions).tolist()]
    [0.6, 0.8]
    """
    check_tensor("counts", counts, floating=True)
    check_tensor("directions", directions, ndim=2, floating=True)
    if counts.shape[-1] != directions.shape[0]:
        raise ValueError(
            f"counts last dim ({counts.shape[-1]}) must equal the number of directions ({directions.shape[0]})"
        )
    v = counts @ directions.to(counts.dtype)
    if normalize:
        v = v / v.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)
    return v


def reconstruction_error(x: Tensor, x_hat: Tensor) -> dict[str, float]:
    """Compare a signal with its reconstruction (same shape, vectors along the last dim).

    Returns ``{"mse", "rmse", "max_abs", "cosine"}``: mean squared error over all elements, its root, the
    largest absolute error, and the mean cosine similarity of the last-dim vectors.

    >>> err = reconstruction_error(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]))
    >>> sorted(err)[:3], round(err["mse"], 3)
    (['cosine', 'max_abs', 'mse'], 1.0)
    """
    check_tensor("x", x, floating=True)
    check_tensor("x_hat", x_hat, floating=True)
    if x.shape != x_hat.shape:
        raise ValueError(f"x_hat must have the shape of x {tuple(x.shape)}, got {tuple(x_hat.shape)}")
    if x.numel() == 0:
        raise ValueError("x must not be empty")
    diff = (x_hat - x).double()
    mse = float((diff**2).mean())
    cosine = (
        float(
            torch.nn.functional.cosine_similarity(
                x.double().reshape(-1, x.shape[-1]), x_hat.double().reshape(-1, x.shape[-1]), dim=-1
            ).mean()
        )
        if x.dim()
        else float("nan")
    )
    return {"mse": mse, "rmse": math.sqrt(mse), "max_abs": float(diff.abs().max()), "cosine": cosine}


# -- modules ---------------------------------------------------------------------------------------
class PopulationEncoder(nn.Module):
    """Gaussian-tuning population code for values in ``[low, high]`` (see the module docstring).

    Args:
        num_neurons: neurons per coded component ``N`` (>= 2).
        low, high: range of the preferred values, ``low < high``.
        sigma: tuning width; ``None`` uses the spacing ``(high - low) / (N - 1)``. A width much smaller
            than the spacing turns the code into nearest-level quantisation.
        r_max: peak per-step spike probability, in ``(0, 1]``.

    >>> enc = PopulationEncoder(num_neurons=9, low=0.0, high=1.0)
    >>> x = torch.tensor([0.25, 0.5])
    >>> enc.rates(x).shape, [round(v, 3) for v in enc.decode(enc.rates(x)).tolist()]
    (torch.Size([2, 9]), [0.252, 0.5])
    """

    preferred: Tensor  # buffer (registered in __init__)

    def __init__(
        self, num_neurons: int, low: float, high: float, sigma: float | None = None, r_max: float = 1.0
    ) -> None:
        super().__init__()
        self.num_neurons = _check_num_neurons(num_neurons, 2)
        self.low, self.high = _num("low", low), _num("high", high)
        if not self.low < self.high:
            raise ValueError(f"low must be < high, got low={low!r}, high={high!r}")
        spacing = (self.high - self.low) / (num_neurons - 1)
        if sigma is None:
            self.sigma = spacing
        else:
            self.sigma = _num("sigma", sigma)
            if not self.sigma > 0:
                raise ValueError(f"sigma must be positive, got {sigma!r}")
        self.r_max = _check_r_max(r_max)
        self.register_buffer("preferred", torch.linspace(self.low, self.high, num_neurons), persistent=False)

    def rates(self, x: Tensor) -> Tensor:
        """Rates ``[..., D, N]`` of values ``x [..., D]``."""
        check_tensor("x", x, floating=True, finite=True)
        return gaussian_rates(x, self.preferred.to(x.dtype), self.sigma, self.r_max)

    def encode(self, x: Tensor, num_steps: int, generator: torch.Generator | None = None) -> Tensor:
        """Bernoulli spikes ``[T, ..., D, N]`` with ``p = rates(x)``."""
        return _bernoulli(self.rates(x), num_steps, generator)

    forward = encode

    def decode(self, counts_or_rates: Tensor) -> Tensor:
        """Centre of mass ``[..., D]`` of counts or rates ``[..., D, N]`` (sum spikes over time first)."""
        check_tensor("counts_or_rates", counts_or_rates, floating=True)
        if counts_or_rates.dim() < 1 or counts_or_rates.shape[-1] != self.num_neurons:
            raise ValueError(
                f"counts_or_rates must be [..., {self.num_neurons}], got shape {tuple(counts_or_rates.shape)}"
            )
        return centre_of_mass(counts_or_rates, self.preferred.to(counts_or_rates.dtype), 0.5 * (self.low + self.high))

    def extra_repr(self) -> str:
        return (
            f"num_neurons={self.num_neurons}, low={self.low}, high={self.high}, sigma={self.sigma:.4g}, "
            f"r_max={self.r_max}"
        )


class CircularPopulationEncoder(nn.Module):
    """Angles coded by ``N`` von Mises tuned neurons, decoded by the population vector.

    ``r_i(theta) = r_max * exp(kappa * (cos(theta - theta_i) - 1))``, ``theta_i = 2 pi i / N``.

    >>> enc = CircularPopulationEncoder(num_neurons=16, kappa=4.0)
    >>> theta = torch.tensor([0.5, -2.0])
    >>> [round(v, 3) for v in enc.decode(enc.rates(theta)).tolist()]
    [0.5, -2.0]
    """

    preferred: Tensor  # buffers (registered in __init__)
    directions: Tensor

    def __init__(self, num_neurons: int, kappa: float = 2.0, r_max: float = 1.0) -> None:
        super().__init__()
        self.num_neurons = _check_num_neurons(num_neurons, 3)
        self.kappa = _num("kappa", kappa)
        if not self.kappa > 0:
            raise ValueError(f"kappa must be positive, got {kappa!r}")
        self.r_max = _check_r_max(r_max)
        angles = torch.arange(num_neurons, dtype=torch.get_default_dtype()) * (2 * math.pi / num_neurons)
        self.register_buffer("preferred", angles, persistent=False)
        self.register_buffer("directions", torch.stack([angles.cos(), angles.sin()], dim=-1), persistent=False)

    def rates(self, theta: Tensor) -> Tensor:
        """Rates ``[..., N]`` of angles ``theta [...]`` (radians)."""
        check_tensor("theta", theta, floating=True, finite=True)
        pref = self.preferred.to(theta.dtype)
        return self.r_max * torch.exp(self.kappa * (torch.cos(theta.unsqueeze(-1) - pref) - 1.0))

    def encode(self, theta: Tensor, num_steps: int, generator: torch.Generator | None = None) -> Tensor:
        """Bernoulli spikes ``[T, ..., N]``."""
        return _bernoulli(self.rates(theta), num_steps, generator)

    forward = encode

    def decode(self, counts_or_rates: Tensor) -> Tensor:
        """Angle in ``(-pi, pi]`` of the population vector of ``[..., N]`` counts or rates."""
        v = population_vector_decode(counts_or_rates, self.directions, normalize=False)
        return torch.atan2(v[..., 1], v[..., 0])
