"""Fast Walsh-Hadamard transform and the randomized Hadamard transform ``x -> H D x``.

``H`` is the normalised (orthonormal, symmetric) Sylvester-Hadamard matrix of size ``n = 2**k``:
``H_1 = [1]``, ``H_{2n} = [[H_n, H_n], [H_n, -H_n]] / sqrt(2)``, so ``H @ H = I``. ``D`` is a diagonal of random
signs. Inputs of dimension ``d`` are zero-padded to the next power of two ``n >= d``.
"""

from __future__ import annotations

import math

import torch

from neuromorph.utils import check_tensor


def next_power_of_two(d: int) -> int:
    """Smallest ``2**k >= d``.

    >>> next_power_of_two(1), next_power_of_two(384), next_power_of_two(512)
    (1, 512, 512)
    """
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    return 1 << (d - 1).bit_length()


def fwht(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal fast Walsh-Hadamard transform over the last dimension (length a power of two).

    ``O(n log n)`` butterflies ``(a, b) -> (a + b, a - b)`` followed by a ``1/sqrt(n)`` scale; equals
    ``x @ H`` for the matrix of :func:`hadamard_matrix`.

    >>> fwht(torch.tensor([1.0, 0.0, 0.0, 0.0])).tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    check_tensor("x", x, floating=True)
    n = x.shape[-1]
    if n < 1 or n & (n - 1):
        raise ValueError(f"x must have a power-of-two last dimension, got {n}")
    lead = x.shape[:-1]
    y = x.reshape(-1, n)
    h = 1
    while h < n:
        y = y.reshape(-1, n // (2 * h), 2, h)
        a, b = y[:, :, 0, :], y[:, :, 1, :]
        y = torch.stack((a + b, a - b), dim=2)
        h *= 2
    return (y.reshape(*lead, n)) / math.sqrt(n)


def hadamard_matrix(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Dense orthonormal Sylvester-Hadamard matrix (reference for tests).

    >>> (hadamard_matrix(2) * math.sqrt(2)).round().tolist()
    [[1.0, 1.0], [1.0, -1.0]]
    """
    if n < 1 or n & (n - 1):
        raise ValueError(f"n must be a power of two, got {n}")
    h = torch.ones(1, 1, dtype=dtype)
    while h.shape[0] < n:
        h = torch.cat((torch.cat((h, h), 1), torch.cat((h, -h), 1)), 0)
    return h / math.sqrt(n)


class RandomizedHadamard:
    """``y = H D pad(x)`` with fixed random signs ``D`` (seeded); ``inverse(y) = (D H y)[:d]``.

    >>> rht = RandomizedHadamard(dim=6, seed=0)
    >>> x = torch.randn(2, 6, dtype=torch.float64)
    >>> y = rht(x)
    >>> y.shape, torch.allclose(rht.inverse(y), x), torch.allclose(y.norm(dim=1), x.norm(dim=1))
    (torch.Size([2, 8]), True, True)
    """

    def __init__(self, dim: int, seed: int = 0) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.size = next_power_of_two(dim)
        gen = torch.Generator().manual_seed(seed)
        self.signs = torch.randint(0, 2, (self.size,), generator=gen).to(torch.float32) * 2 - 1

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, floating=True)
        if x.shape[-1] != self.dim:
            raise ValueError(f"x must have last dimension {self.dim}, got {x.shape[-1]}")
        pad = torch.zeros(*x.shape[:-1], self.size - self.dim, dtype=x.dtype, device=x.device)
        return fwht(torch.cat((x, pad), -1) * self.signs.to(x.dtype))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        check_tensor("y", y, floating=True)
        if y.shape[-1] != self.size:
            raise ValueError(f"y must have last dimension {self.size}, got {y.shape[-1]}")
        return (fwht(y) * self.signs.to(y.dtype))[..., : self.dim]
