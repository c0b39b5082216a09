"""Learned Matryoshka binary codes: one ``M``-bit code whose nested prefixes are each usable.

Encoder: ``f(x) = W (x - mu) + c`` (``W`` is ``M x D``, ``mu`` the calibration mean; initialisation in
:meth:`MatryoshkaBinary._fit`), code bits ``b = [f(x) >= 0]``, signs ``s = 2 b - 1``. Training: with
``g = f / std_batch(f)`` (per bit, no gradient through the std) and ``t = tanh(beta g)``, the straight-through
code is ``s_ste = t + stopgrad(sign(f) - t)`` (forward: the exact signs; backward: the tanh derivative) and the
objective is ``L(s_ste) + L(t)``; the relaxed term ``L(t)`` steadies the descent (with ``L(s_ste)`` alone the
exact-sign loss went *up* in our runs).

Loss for a batch of inputs ``x`` (unit-normalised, centred by ``mu`` and renormalised), summed over the nested
prefix lengths ``m`` with weights ``c_m``::

    S_ij   = x_i . x_j                         (float cosine)
    T_ij   = 1 - 2 arccos(S_ij) / pi           (what random hyperplanes give in expectation)
    S^m_ij = s_i[:m] . s_j[:m] / m             (= 1 - 2 Hamming_m / m)
    L      = sum_m c_m [ mean_ij (S^m_ij - T_ij)^2  +  kl_weight * KL(softmax_j(T_i / tau) || softmax_j(S^m_i / tau)) ]

(the diagonal is excluded from the softmax). The KL term sharpens the ranking of each row's nearest
neighbours, which is what recall@k measures. Prefix ``m`` of the packed code is its first ``ceil(m/8)`` bytes
(for ``m`` a multiple of 8 exactly the first ``m/8`` bytes; :class:`MatryoshkaPrefix` packs any ``m``).
"""

from __future__ import annotations

import math
from typing import Sequence, cast

import torch

from neuromorph.compress.quantize import BinaryQuantizer, check_embeddings, sign_bits
from neuromorph.utils import progress


def ste_sign(f: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Straight-through sign: forward ``sign(f)`` (``sign(0) = +1``), backward ``d tanh(beta f)``.

    >>> f = torch.tensor([-0.5, 0.0, 2.0], requires_grad=True)
    >>> s = ste_sign(f)
    >>> s.sum().backward()
    >>> s.tolist(), [round(g, 3) for g in f.grad.tolist()]
    ([-1.0, 1.0, 1.0], [0.786, 1.0, 0.071])
    """
    t = torch.tanh(beta * f)
    return t + (torch.where(f >= 0, 1.0, -1.0).to(f.dtype) - t).detach()


def matryoshka_loss(
    x: torch.Tensor,
    signs: torch.Tensor,
    prefixes: Sequence[int],
    weights: Sequence[float],
    kl_weight: float = 1.0,
    tau: float = 0.05,
) -> torch.Tensor:
    """The loss of the module docstring for unit rows ``x [B, D]`` and ``signs [B, M]`` in {-1, +1}.

    >>> x = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
    >>> loss = matryoshka_loss(x, torch.sign(x), prefixes=(2, 4), weights=(1.0, 1.0))
    >>> loss.dim(), bool(torch.isfinite(loss))
    (0, True)
    """
    s = (x @ x.T).clamp(-1.0, 1.0)
    target = 1 - 2 * torch.arccos(s) / math.pi
    eye = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
    log_p = torch.log_softmax((target / tau).masked_fill(eye, -torch.inf), dim=1)
    total = x.new_zeros(())
    for m, c in zip(prefixes, weights):
        sm = signs[:, :m] @ signs[:, :m].T / m
        mse = (sm - target).pow(2).mean()
        log_q = torch.log_softmax((sm / tau).masked_fill(eye, -torch.inf), dim=1)
        kl = (log_p.exp() * (log_p - log_q)).masked_fill(eye, 0.0).sum(1).mean()
        total = total + c * (mse + kl_weight * kl)
    return total


class MatryoshkaBinary(BinaryQuantizer):
    """Trained ``num_bits``-bit code with nested prefixes ``prefixes`` (the last must equal ``num_bits``).

    >>> x = torch.nn.functional.normalize(torch.randn(256, 16), dim=1)
    >>> code = MatryoshkaBinary(prefixes=(8, 16), steps=5, batch_size=64).fit(x)
    >>> code.num_bits, code.encode(x[:2]).shape, code.prefix(8).fit(x).encode(x[:2]).shape
    (16, torch.Size([2, 16]), torch.Size([2, 8]))
    """

    name = "matryoshka"

    def __init__(
        self,
        prefixes: Sequence[int] = (64, 128, 256, 512),
        prefix_weights: Sequence[float] | None = None,
        steps: int = 400,
        batch_size: int = 512,
        lr: float = 2e-3,
        kl_weight: float = 1.0,
        tau: float = 0.05,
        beta: float = 3.0,
        init: str = "identity",
        seed: int = 0,
        show_progress: bool | None = None,
    ) -> None:
        super().__init__()
        prefixes = tuple(int(m) for m in prefixes)
        if not prefixes or any(m < 1 for m in prefixes) or list(prefixes) != sorted(set(prefixes)):
            raise ValueError(f"prefixes must be strictly increasing positive ints, got {prefixes}")
        weights = tuple(prefix_weights) if prefix_weights is not None else (1.0,) * len(prefixes)
        if len(weights) != len(prefixes) or any(w < 0 for w in weights):
            raise ValueError("prefix_weights must be non-negative, one per prefix")
        if steps < 1 or batch_size < 2 or lr <= 0 or tau <= 0:
            raise ValueError("steps >= 1, batch_size >= 2, lr > 0 and tau > 0 are required")
        if init not in ("identity", "gaussian"):
            raise ValueError(f"init must be 'identity' or 'gaussian', got {init!r}")
        self.prefixes, self.prefix_weights = prefixes, weights
        self.steps, self.batch_size, self.lr, self.init = steps, batch_size, lr, init
        self.kl_weight, self.tau, self.beta = kl_weight, tau, beta
        self.seed, self.show_progress = seed, show_progress
        self.mu: torch.Tensor | None = None
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None
        self.history: list[float] = []

    def _fit(self, x: torch.Tensor) -> None:
        """Adam on the loss of the module docstring, ``steps`` random batches, cosine-annealed learning rate.

        ``init="identity"``: the first ``min(D, M)`` rows of ``W`` start as the unit vectors ``e_d`` (the code
        starts as the centred sign code), the others Gaussian; ``"gaussian"``: all rows Gaussian (SimHash).
        """
        gen = torch.Generator().manual_seed(self.seed)
        x = x.to(torch.float32)
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        self.mu = x.mean(0)
        xc = x - self.mu
        xt = xc / xc.norm(dim=1, keepdim=True).clamp_min(1e-12)  # targets: cosines of the centred inputs
        n, d = x.shape
        weight = torch.randn(self.prefixes[-1], d, generator=gen) / d**0.5
        if self.init == "identity":
            r = min(d, self.prefixes[-1])
            weight[:r] = torch.eye(d)[:r]
        weight.requires_grad_(True)
        bias = torch.zeros(self.prefixes[-1], requires_grad=True)
        opt = torch.optim.Adam([weight, bias], lr=self.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.steps)
        batch = min(self.batch_size, n)
        self.history = []
        for _ in progress(range(self.steps), desc="matryoshka", enable=self.show_progress):
            idx = torch.randperm(n, generator=gen)[:batch]
            f = xc[idx] @ weight.T + bias
            g = f / f.std(0, keepdim=True).detach().clamp_min(1e-6)  # per-bit batch standardisation
            signs, soft = ste_sign(g, self.beta), torch.tanh(self.beta * g)
            loss = cast(
                torch.Tensor,
                sum(
                    matryoshka_loss(xt[idx], code, self.prefixes, self.prefix_weights, self.kl_weight, self.tau)
                    for code in (signs, soft)
                ),
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            self.history.append(float(loss.detach()))
        self.weight, self.bias = weight.detach(), bias.detach()

    def loss(self, x: torch.Tensor) -> float:
        """The training loss with the exact (forward) signs on all of ``x`` (one batch)."""
        check_embeddings("x", x, self._fitted_dim())
        assert self.mu is not None
        xu = x.to(torch.float32)
        xu = xu / xu.norm(dim=1, keepdim=True).clamp_min(1e-12)
        xc = xu - self.mu
        xt = xc / xc.norm(dim=1, keepdim=True).clamp_min(1e-12)
        signs = self._encode(x).to(torch.float32) * 2 - 1
        with torch.no_grad():
            return float(matryoshka_loss(xt, signs, self.prefixes, self.prefix_weights, self.kl_weight, self.tau))

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        assert self.mu is not None and self.weight is not None and self.bias is not None
        x = x.to(torch.float32)
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return sign_bits((x - self.mu) @ self.weight.T + self.bias)

    def _num_bits(self) -> int:
        return self.prefixes[-1]

    def prefix(self, num_bits: int) -> "MatryoshkaPrefix":
        """A quantiser that keeps the first ``num_bits`` bits of this (fitted) code."""
        return MatryoshkaPrefix(self, num_bits)


class MatryoshkaPrefix(BinaryQuantizer):
    """The ``num_bits``-bit prefix of a fitted :class:`MatryoshkaBinary` code.

    >>> x = torch.nn.functional.normalize(torch.randn(256, 16), dim=1)
    >>> parent = MatryoshkaBinary(prefixes=(8, 16), steps=5, batch_size=64).fit(x)
    >>> short = MatryoshkaPrefix(parent, 8).fit(x)
    >>> torch.equal(short.encode(x[:4]), parent.encode(x[:4])[:, :8]), short.bytes_per_vector
    (True, 1)
    """

    def __init__(self, parent: MatryoshkaBinary, num_bits: int) -> None:
        super().__init__()
        if parent.dim is None:
            raise RuntimeError("parent must be fitted before taking a prefix")
        if not 1 <= num_bits <= parent.prefixes[-1]:
            raise ValueError(f"num_bits must be in [1, {parent.prefixes[-1]}], got {num_bits}")
        self.parent, self.bits = parent, num_bits
        self.dim = parent.dim
        self.name = f"matryoshka{num_bits}"

    def fit(self, x: torch.Tensor) -> "MatryoshkaPrefix":
        check_embeddings("x", x, self._fitted_dim())
        return self  # the parent code is already trained

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.parent._encode(x)[:, : self.bits].contiguous()

    def _num_bits(self) -> int:
        return self.bits
