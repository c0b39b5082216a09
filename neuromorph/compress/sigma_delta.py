"""Sigma-Delta binary embeddings after a randomized Hadamard transform (Huynh & Saab; Zhang & Saab 2021).

Embedding: ``y = alpha * A H D pad(x)`` (``D`` random signs, ``H`` orthonormal Walsh-Hadamard, ``A`` an
``m x n`` Gaussian matrix, dense or sparse with density ``s`` and entries ``N(0, 1/s)``, or the repeat frame
of :class:`SigmaDeltaQuantizer`; ``alpha`` a global scale calibrated so that the ``clip_quantile`` quantile of
``|y_i|`` over (at most 20k rows of) the calibration data equals ``2 - ||h||_1``; larger values are clipped to
that bound, which keeps ``|v_i| <= 1``).

Quantiser of order ``r`` with taps ``n_j`` and coefficients ``c_j`` (``h = sum_j c_j delta_{n_j}``)::

    u_i = sum_j c_j v_{i - n_j}          (v_k = 0 for k < 0)
    q_i = sign(u_i + y_i)                (sign(0) = +1)
    v_i = u_i + y_i - q_i

* order 1 (greedy): taps (1,), c = (1,)
* order 2: taps (1, 7), c = (7/6, -1/6)
* order 3: taps (1, 7, 25), c = (175/144, -25/108, 7/432)

with ``c_j = prod_{l != j} n_l / (n_l - n_j)``, so ``sum c = 1``, ``sum c n = 0``, ``sum c n^2 = 0`` (the filter
``1 - h(z)`` has an ``r``-fold zero at ``z = 1``). If ``|y_i| <= 2 - ||h||_1`` then ``|v_i| <= 1`` for all ``i``.

Distance estimate (Gaussian frame): the ``m`` bits are cut into ``p = m / lambda`` blocks of length
``lambda``; block ``b`` is condensed with weights ``w`` (coefficients of ``(1 + z + ... + z^k)^r``,
``k = floor((lambda - 1) / r)``, zero-padded to ``lambda``: ones for ``r = 1``, triangular for ``r = 2``)::

    V = sqrt(pi/2) (I_p kron w) / (p ||w||_2),      ||x - x'||_2  ~  ||V (q - q')||_1 / alpha.

``decode`` returns ``V q / alpha`` so the estimate is the L1 distance between decoded vectors. The repeat frame
(oversampled Hadamard coefficients, see :class:`SigmaDeltaQuantizer`) condenses each block into one coefficient
estimate and measures Euclidean distance. Neither code is Hamming-searchable: the estimators need the weighted
condensation first.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from neuromorph.compress.hadamard import RandomizedHadamard
from neuromorph.compress.quantize import Quantizer, check_embeddings
from neuromorph.utils import check_tensor

TAPS: dict[int, tuple[int, ...]] = {1: (1,), 2: (1, 7), 3: (1, 7, 25)}


def filter_coefficients(taps: tuple[int, ...]) -> tuple[float, ...]:
    """``c_j = prod_{l != j} n_l / (n_l - n_j)`` for distinct positive taps ``n``.

    >>> filter_coefficients((1,)), filter_coefficients((1, 2))
    ((1,), (2.0, -1.0))
    """
    if len(set(taps)) != len(taps) or any(t < 1 for t in taps):
        raise ValueError(f"taps must be distinct positive integers, got {taps}")
    return tuple(math.prod(nl / (nl - nj) for nl in taps if nl != nj) for nj in taps)


def stability_bound(order: int) -> float:
    """``2 - ||h||_1``: the largest ``|y_i|`` for which ``|v_i| <= 1`` is guaranteed.

    >>> stability_bound(1)
    1.0
    """
    return 2.0 - sum(abs(c) for c in filter_coefficients(_taps(order)))


def _taps(order: int) -> tuple[int, ...]:
    if order not in TAPS:
        raise ValueError(f"order must be 1, 2 or 3, got {order}")
    return TAPS[order]


def sigma_delta_step(y_i: torch.Tensor, history: torch.Tensor, order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One quantiser step. ``history[:, k]`` holds ``v_{i-1-k}`` (``k < max tap``, zeros before the start).

    Returns ``(q_i, new_history)`` with ``new_history[:, 0] = v_i``.

    >>> q, history = sigma_delta_step(torch.tensor([0.25]), torch.zeros(1, 1), order=1)
    >>> q.tolist(), history.tolist()
    ([1.0], [[-0.75]])
    """
    taps = _taps(order)
    coeffs = filter_coefficients(taps)
    u = sum(c * history[:, t - 1] for c, t in zip(coeffs, taps))
    w = u + y_i
    q = torch.where(w >= 0, 1.0, -1.0).to(y_i.dtype)
    new_history = torch.cat(((w - q).unsqueeze(1), history[:, :-1]), dim=1)
    return q, new_history


def sigma_delta_quantize(y: torch.Tensor, order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the order-``order`` Sigma-Delta quantiser along the last axis of ``y [N, m]``.

    Returns ``(q, v)``: ``q`` in {-1, +1} and the internal state ``v`` (both ``[N, m]``, dtype of ``y``).
    Same recursion as repeated :func:`sigma_delta_step`, reading the past states from ``v`` directly.

    >>> q, v = sigma_delta_quantize(torch.full((1, 8), 0.25), order=1)
    >>> q.tolist(), round(q.mean().item(), 3)          # the running mean of the +-1 signs tracks 0.25
    ([[1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0]], 0.25)
    """
    check_tensor("y", y, ndim=2, floating=True, finite=True)
    taps = _taps(order)
    coeffs = filter_coefficients(taps)
    yt = y.T.contiguous()  # [m, N]: one contiguous row per step
    q = torch.empty_like(yt)
    v = torch.empty_like(yt)
    for i in range(yt.shape[0]):
        w = yt[i].clone()
        for c, t in zip(coeffs, taps):
            if i - t >= 0:
                w.add_(v[i - t], alpha=c)
        q[i] = torch.where(w >= 0, 1.0, -1.0)
        v[i] = w - q[i]
    return q.T.contiguous(), v.T.contiguous()


def condensation_weights(order: int, block: int) -> torch.Tensor:
    """Coefficients of ``(1 + z + ... + z^k)^order``, ``k = (block - 1) // order``, zero-padded to ``block``.

    >>> condensation_weights(2, 5).tolist()         # (1 + z + z^2)^2, padded to 5
    [1.0, 2.0, 3.0, 2.0, 1.0]
    """
    _taps(order)
    if block < order + 1:
        raise ValueError(f"block must be >= order + 1 = {order + 1}, got {block}")
    k = (block - 1) // order
    w = np.ones(1)
    for _ in range(order):
        w = np.convolve(w, np.ones(k + 1))
    out = torch.zeros(block, dtype=torch.float64)
    out[: w.size] = torch.from_numpy(w)
    return out


def condense(q: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``V q`` with ``V = sqrt(pi/2) (I_p kron w) / (p ||w||_2)``: ``[N, p*lambda] -> [N, p]``.

    >>> w = condensation_weights(1, 2)
    >>> [round(v, 4) for v in condense(torch.ones(1, 4), w)[0].tolist()]
    [0.8862, 0.8862]
    """
    block = weights.numel()
    if q.shape[-1] % block:
        raise ValueError(f"q length {q.shape[-1]} is not a multiple of the block length {block}")
    p = q.shape[-1] // block
    blocks = q.reshape(*q.shape[:-1], p, block).to(weights.dtype)
    return math.sqrt(math.pi / 2) * (blocks @ weights) / (p * weights.norm())


class SigmaDeltaQuantizer(Quantizer):
    """Sigma-Delta codes of a randomized Hadamard transform (module docstring).

    ``frame="gaussian"``: ``y = alpha A H D x`` with ``A`` Gaussian ``num_bits x n`` (dense, or sparse with
    ``density``), blocks of length ``block``; ``decode`` gives ``V q / alpha`` and ``metric = "l1"``.

    ``frame="repeat"`` (oversampled Hadamard coefficients): ``A = I_n kron 1_lambda`` with
    ``lambda = num_bits / n``, i.e. every coefficient of ``H D x`` is fed ``lambda`` times in a row (classic
    oversampled Sigma-Delta conversion). Condensing each block with ``w / sum(w)`` estimates the coefficient,
    ``c = (I_n kron w^T) q / (sum(w) alpha) ~ H D x``, and ``decode`` returns the reconstruction
    ``x_hat = (D H c)[:d]``; distances are Euclidean (``metric = "euclidean"``). ``H D`` is orthogonal, so no
    random-projection error is added: only the quantisation error, which shrinks like ``lambda^(-r)``.

    >>> x = torch.nn.functional.normalize(torch.randn(200, 16), dim=1)
    >>> q = SigmaDeltaQuantizer(order=1, num_bits=64, seed=0).fit(x)
    >>> codes = q.encode(x[:3])
    >>> codes.shape, q.bytes_per_vector, q.decode(codes).shape
    (torch.Size([3, 64]), 8, torch.Size([3, 4]))
    """

    hamming = False

    def __init__(
        self,
        order: int,
        num_bits: int,
        block: int | None = None,
        frame: str = "gaussian",
        density: float = 1.0,
        clip_quantile: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        _taps(order)
        if frame not in ("gaussian", "repeat"):
            raise ValueError(f"frame must be 'gaussian' or 'repeat', got {frame!r}")
        if isinstance(num_bits, bool) or not isinstance(num_bits, int) or num_bits < 1:
            raise ValueError(f"num_bits must be a positive int, got {num_bits!r}")
        if frame == "gaussian":
            if block is None:  # the longest standard block (at least order + 1) that divides num_bits
                block = next((b for b in (16, 12, 10, 8, 6, 5, 4, 3, 2) if num_bits % b == 0 and b > order), None)
                if block is None:
                    raise ValueError(
                        f"no block length in (16, 12, 10, 8, 6, 5, 4, 3, 2) above order={order} divides "
                        f"num_bits={num_bits}; pass block= explicitly"
                    )
            if num_bits % block:
                raise ValueError(f"num_bits must be a multiple of block={block} for the Gaussian frame, got {num_bits}")
            self.weights = condensation_weights(order, block)
        if not 0.0 < density <= 1.0:
            raise ValueError(f"density must be in (0, 1], got {density}")
        if not 0.5 < clip_quantile <= 1.0:
            raise ValueError(f"clip_quantile must be in (0.5, 1], got {clip_quantile}")
        self.order, self.bits, self.block, self.frame = order, num_bits, block, frame
        self.density, self.clip_quantile, self.seed = density, clip_quantile, seed
        self.metric = "l1" if frame == "gaussian" else "euclidean"
        self.bound = stability_bound(order)
        self.name = f"sigmadelta{order}"
        self.rht: RandomizedHadamard | None = None
        self.matrix: torch.Tensor | None = None
        self.alpha: float | None = None

    def _fit(self, x: torch.Tensor) -> None:
        self.rht = RandomizedHadamard(x.shape[1], seed=self.seed)
        n = self.rht.size
        if self.frame == "repeat":
            if self.bits % n or self.bits // n < self.order + 1:
                raise ValueError(
                    f"num_bits must be a multiple of {n} (the padded dimension) and at least "
                    f"{(self.order + 1) * n} for the repeat frame of order {self.order}, got {self.bits}"
                )
            self.block = self.bits // n
            self.weights = condensation_weights(self.order, self.block)
            self.matrix = None
        else:
            gen = torch.Generator().manual_seed(self.seed + 1)
            a = torch.randn(self.bits, n, generator=gen, dtype=torch.float64)
            if self.density < 1.0:
                mask = torch.rand(self.bits, n, generator=gen, dtype=torch.float64) < self.density
                a = a * mask / math.sqrt(self.density)
            self.matrix = a
        rows = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(self.seed))[:20_000]
        peak = self._project(x[rows], repeat=False).abs().flatten().numpy()  # calibrate on <= 20k rows
        scale = float(np.quantile(peak, self.clip_quantile)) if self.clip_quantile < 1.0 else float(peak.max())
        self.alpha = self.bound / max(scale, 1e-12)

    def _project(self, x: torch.Tensor, repeat: bool = True) -> torch.Tensor:
        assert self.rht is not None
        h = self.rht(x.to(torch.float64))
        if self.matrix is not None:
            return h @ self.matrix.T
        assert self.block is not None  # the repeat frame (no matrix) sets it in _fit
        return h.repeat_interleave(self.block, dim=1) if repeat else h

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``y = clip(alpha * A H D x, -bound, bound)`` (float64, ``[N, num_bits]``)."""
        check_embeddings("x", x, self._fitted_dim())
        assert self.alpha is not None
        return (self.alpha * self._project(x)).clamp(-self.bound, self.bound)

    def _encode(self, x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        out = []
        for start in range(0, x.shape[0], chunk):  # bounded memory: y is [chunk, num_bits]
            q, _ = sigma_delta_quantize(self.embed(x[start : start + chunk]).to(torch.float32), self.order)
            out.append((q > 0).to(torch.uint8))
        return torch.cat(out)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        assert self.alpha is not None and self.rht is not None
        q = codes.to(torch.float64) * 2 - 1
        if self.frame == "gaussian":
            return (condense(q, self.weights) / self.alpha).to(torch.float32)
        c = (q.reshape(q.shape[0], self.rht.size, -1) @ self.weights) / (self.weights.sum() * self.alpha)
        return self.rht.inverse(c).to(torch.float32)

    def _num_bits(self) -> int:
        return self.bits


def sign_distance_estimate(bits_a: torch.Tensor, bits_b: torch.Tensor) -> torch.Tensor:
    """Euclidean distance of unit vectors from ``m`` random-hyperplane bits: ``2 sin(pi * H / (2 m))``.

    >>> a = torch.tensor([[1, 1, 0, 0]], dtype=torch.uint8)
    >>> [round(v, 4) for v in sign_distance_estimate(a, 1 - a).flatten().tolist()]      # opposite: 2 sin(pi / 2)
    [2.0]
    """
    m = bits_a.shape[-1]
    ham = (bits_a != bits_b).sum(-1).to(torch.float64)
    return 2 * torch.sin(math.pi * ham / (2 * m))
