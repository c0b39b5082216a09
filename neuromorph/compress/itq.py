"""Iterative quantisation (ITQ, Gong & Lazebnik 2011): PCA, then a learned rotation, then the sign.

With ``mu`` the fit-split mean, ``W`` the top-``m`` principal directions (``D x m``, orthonormal columns) and
``V = (X - mu) W`` the projected fit data, ITQ looks for the orthogonal ``R`` (``m x m``) that minimises the
quantisation loss ``||B - V R||_F^2`` over binary ``B in {-1, +1}^{N x m}``, alternating

    B <- sign(V R)                                   (fixed R)
    U S Z^T = svd(B^T V),   R <- Z U^T               (fixed B: orthogonal Procrustes, maximises tr(B^T V R))

from a random orthogonal start. The code of ``x`` is ``b = [(x - mu) W R >= 0]`` (``m`` bits, Hamming-searchable).

>>> import torch
>>> x = torch.nn.functional.normalize(torch.randn(500, 16), dim=1)
>>> q = ITQQuantizer(8, iterations=10).fit(x)
>>> q.encode(x[:2]).shape, q.bytes_per_vector
(torch.Size([2, 8]), 1)
"""

from __future__ import annotations

import torch

from neuromorph.compress.quantize import BinaryQuantizer, sign_bits
from neuromorph.utils import check_positive_int


def random_orthogonal(size: int, generator: torch.Generator) -> torch.Tensor:
    """A Haar-random orthogonal ``size x size`` matrix (QR of a Gaussian, signs of ``diag(R)`` fixed), float64.

    >>> q = random_orthogonal(4, torch.Generator().manual_seed(0))
    >>> q.dtype, torch.allclose(q.T @ q, torch.eye(4, dtype=torch.float64))
    (torch.float64, True)
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    q, r = torch.linalg.qr(torch.randn(size, size, generator=generator, dtype=torch.float64))
    return q * torch.where(torch.diagonal(r) >= 0, 1.0, -1.0).to(torch.float64)


def pca_basis(x: torch.Tensor, num_components: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mu [D], W [D, m])``: the mean and the top-``m`` principal directions of ``x`` (float64).

    >>> x = torch.randn(100, 3, dtype=torch.float64) * torch.tensor([5.0, 1.0, 0.1], dtype=torch.float64)
    >>> mu, w = pca_basis(x, 1)
    >>> w.shape, round(abs(w[0, 0].item()), 2)                  # the top direction is the first axis
    (torch.Size([3, 1]), 1.0)
    """
    if not 1 <= num_components <= x.shape[1]:
        raise ValueError(f"num_components must be in [1, {x.shape[1]}], got {num_components}")
    xs = x.to(torch.float64)
    mu = xs.mean(0)
    cov = (xs - mu).T @ (xs - mu) / max(1, xs.shape[0] - 1)
    evals, evecs = torch.linalg.eigh(cov)
    order = torch.argsort(evals, descending=True)[:num_components]
    return mu, evecs[:, order]


def itq_rotation(v: torch.Tensor, iterations: int = 50, seed: int = 0) -> tuple[torch.Tensor, list[float]]:
    """The ITQ rotation for projected data ``v [N, m]``; returns ``(R [m, m], loss per iteration)``.

    The loss ``||sign(V R) - V R||_F^2 / N`` never increases (each half-step minimises it).

    >>> r, losses = itq_rotation(torch.randn(200, 4, dtype=torch.float64), iterations=5)
    >>> torch.allclose(r @ r.T, torch.eye(4, dtype=torch.float64)), losses[-1] <= losses[0]
    (True, True)
    """
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    vs = v.to(torch.float64)
    rot = random_orthogonal(vs.shape[1], torch.Generator().manual_seed(seed))
    history = []
    for _ in range(iterations):
        proj = vs @ rot
        b = torch.where(proj >= 0, 1.0, -1.0).to(torch.float64)
        history.append(float((b - proj).pow(2).sum() / vs.shape[0]))
        u, _, zt = torch.linalg.svd(b.T @ vs)
        rot = zt.T @ u.T
    return rot, history


class ITQQuantizer(BinaryQuantizer):
    """``num_bits``-bit ITQ code (``num_bits <= D``), see the module docstring.

    >>> x = torch.nn.functional.normalize(torch.randn(300, 16), dim=1)
    >>> q = ITQQuantizer(8, iterations=5).fit(x)
    >>> q.encode(x[:4]).shape, q.bytes_per_vector, q.hamming
    (torch.Size([4, 8]), 1, True)
    """

    name = "itq"

    def __init__(self, num_bits: int, iterations: int = 50, seed: int = 0) -> None:
        super().__init__()
        check_positive_int("num_bits", num_bits)
        if iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {iterations}")
        self.bits, self.iterations, self.seed = num_bits, iterations, seed
        self.mu: torch.Tensor | None = None
        self.projection: torch.Tensor | None = None  # W R, [D, m]
        self.history: list[float] = []

    def _fit(self, x: torch.Tensor) -> None:
        if self.bits > x.shape[1]:
            raise ValueError(f"ITQ gives at most D={x.shape[1]} bits, asked for num_bits={self.bits}")
        self.mu, basis = pca_basis(x, self.bits)
        rot, self.history = itq_rotation((x.to(torch.float64) - self.mu) @ basis, self.iterations, self.seed)
        self.projection = basis @ rot

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        assert self.mu is not None and self.projection is not None
        return sign_bits((x.to(torch.float64) - self.mu) @ self.projection)

    def _num_bits(self) -> int:
        return self.bits
