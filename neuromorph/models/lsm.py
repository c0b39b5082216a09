"""Liquid state machine: a sparse recurrent LIF reservoir (optionally fed by "cortical" groups) + ridge readout.

Network (all weights fixed, never trained)::

    x_t [B, n_in]  --W_in-->  groups (optional)  --W_ff-->  central reservoir
                   --W_in---------------------------------> central reservoir (when there are no groups or
                                                            central_input=True)

Every population is a :mod:`neuromorph.models.reservoir` LIF reservoir (80/20 excitatory/inhibitory,
distance-dependent sparse recurrent synapses, ``K`` per neuron). All populations live in one index space and
one sparse matrix, so a single :func:`~neuromorph.models.reservoir.reservoir_step` advances the whole network:
groups occupy indices ``[0, n_groups * group_size)``, the central reservoir the rest. The input current of
step ``t`` is ``x_t @ W_in``; ``W_in[c, i] = input_weight * u`` with ``u ~ U(0.5, 1.5)`` for a random fraction
``input_fraction`` of the neurons that see channel ``c`` (zero elsewhere).

Recurrent weights obey Dale's law: ``W[j, i] = sign(j) * w[type_j, type_i] * u`` with ``u ~ U(0.5, 1.5)``,
``sign = +1`` for excitatory and ``-1`` for inhibitory ``j``, and ``w`` the 2x2 table ``weights`` (E->E, E->I,
I->E, I->I). Feed-forward group -> centre synapses: ``ff_k`` random presynaptic group neurons per central
neuron, weight ``sign(j) * ff_weight * u``.

The readout (:class:`RidgeReadout`) is a linear map on reservoir features (time-averaged and/or final spike
traces, see :meth:`LiquidStateMachine.features`) fitted in closed form.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from neuromorph.metrics import accuracy
from neuromorph.models.reservoir import (
    MAASS_C,
    METHODS,
    ReservoirParams,
    ReservoirState,
    build_connectivity,
    init_state,
    make_synapses,
    reservoir_step,
)
from neuromorph.utils import check_positive_int, check_tensor

FEATURES = ("mean", "final", "both", "samples")


class LiquidStateMachine(nn.Module):
    """Fixed spiking reservoir. ``forward(x_seq [T, B, n_in]) -> spikes [T, B, N_total]``.

    CPU module: the sparse synapses are plain attributes (not buffers) and are not moved by ``.to(device)``.

    Args:
        n_inputs: input channels.
        n_neurons: central reservoir size ``N``.
        k: recurrent synapses per central neuron (exact in-degree).
        lam: distance length constant in grid units (default: ``reservoir.default_lambda(k)``).
        frac_inhibitory: inhibitory fraction (Dale's law).
        tau: membrane time constant in steps; ``beta = exp(-1 / tau)`` (per neuron ``tau * U(1-j, 1+j)`` with
            ``j = tau_jitter``).
        threshold, v_reset, refractory: LIF firing threshold, reset value, refractory steps.
        weights: 2x2 recurrent weight scales ``((EE, EI), (IE, II))``, magnitudes (signs follow Dale's law).
        input_weight, input_fraction: input projection scale and the fraction of neurons each channel reaches.
        n_groups, group_size, group_k: optional cortical groups (each a small reservoir with ``group_k`` synapses
            per neuron) feeding the centre through ``ff_k`` synapses per central neuron of scale ``ff_weight``.
        split_inputs: with groups, give group ``g`` only channels ``c`` with ``c % n_groups == g``.
        central_input: with groups, also project the input straight onto the central reservoir.
        trace_decay: decay of the spike trace used for features.
        method: synapse propagation ("auto", "csr", "event").
        seed: connectivity / weight seed (the network is a deterministic function of its arguments).

    >>> lsm = LiquidStateMachine(n_inputs=3, n_neurons=27, k=5, seed=0)
    >>> spikes = lsm(torch.rand(6, 2, 3))
    >>> spikes.shape, bool(((spikes == 0) | (spikes == 1)).all())
    (torch.Size([6, 2, 27]), True)
    """

    beta: Tensor  # buffers (registered in __init__)
    threshold: Tensor
    w_in: Tensor
    is_inhibitory: Tensor

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int = 1000,
        k: int = 100,
        lam: float | None = None,
        frac_inhibitory: float = 0.2,
        tau: float = 20.0,
        tau_jitter: float = 0.0,
        threshold: float = 1.0,
        v_reset: float = 0.0,
        refractory: int = 2,
        weights: Sequence[Sequence[float]] = ((0.05, 0.1), (0.2, 0.1)),
        input_weight: float = 1.0,
        input_fraction: float = 0.3,
        n_groups: int = 0,
        group_size: int = 250,
        group_k: int = 25,
        ff_k: int = 50,
        ff_weight: float = 0.5,
        split_inputs: bool = True,
        central_input: bool = False,
        trace_decay: float = 0.9,
        method: str = "auto",
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, val in (("n_inputs", n_inputs), ("n_neurons", n_neurons), ("k", k)):
            check_positive_int(name, val)
        if not isinstance(n_groups, int) or n_groups < 0:
            raise ValueError(f"n_groups must be a non-negative int, got {n_groups!r}")
        if tau <= 0:
            raise ValueError(f"tau must be positive (steps), got {tau}")
        if not 0.0 <= tau_jitter < 1.0:
            raise ValueError(f"tau_jitter must lie in [0, 1), got {tau_jitter}")
        if threshold <= v_reset:
            raise ValueError(f"threshold must exceed v_reset, got threshold={threshold}, v_reset={v_reset}")
        if not isinstance(refractory, int) or refractory < 0:
            raise ValueError(f"refractory must be a non-negative int (steps), got {refractory!r}")
        if not 0.0 < input_fraction <= 1.0:
            raise ValueError(f"input_fraction must lie in (0, 1], got {input_fraction}")
        if not 0.0 <= trace_decay < 1.0:
            raise ValueError(f"trace_decay must lie in [0, 1), got {trace_decay}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        w_tab = torch.tensor(weights, dtype=torch.float32)
        if w_tab.shape != (2, 2) or bool((w_tab < 0).any()):
            raise ValueError(f"weights must be a 2x2 table of non-negative magnitudes, got {weights!r}")
        if n_groups and (group_size <= group_k or ff_k < 1):
            raise ValueError(
                f"group_size must exceed group_k and ff_k must be >= 1, got group_size={group_size}, "
                f"group_k={group_k}, ff_k={ff_k}"
            )
        g = torch.Generator().manual_seed(int(seed))
        self.n_inputs, self.n_neurons, self.n_groups, self.group_size = n_inputs, n_neurons, n_groups, group_size
        n_total = n_groups * group_size + n_neurons
        self.n_total = n_total
        self.central_offset = n_groups * group_size

        pres, posts, ws = [], [], []
        inh = torch.zeros(n_total, dtype=torch.bool)
        blocks = [(i * group_size, group_size, group_k) for i in range(n_groups)]
        blocks.append((self.central_offset, n_neurons, k))
        for off, size, kk in blocks:
            pre, post, is_inh = build_connectivity(
                size, kk, lam if off == self.central_offset else None, frac_inhibitory, MAASS_C, generator=g
            )
            inh[off : off + size] = is_inh
            scale = w_tab[is_inh[pre].long(), is_inh[post].long()]
            w = scale * (0.5 + torch.rand(pre.numel(), generator=g))
            w = torch.where(is_inh[pre], -w, w)
            pres.append(pre + off)
            posts.append(post + off)
            ws.append(w)
        if n_groups:
            n_src = self.central_offset
            if ff_k > n_src:
                raise ValueError(f"ff_k must not exceed the number of group neurons {n_src}, got {ff_k}")
            # ff_k distinct random sources per central neuron (top-k of uniform keys, in row chunks of at most
            # 2^24 keys)
            rows = max(1, 2**24 // n_src)
            pre = torch.cat(
                [
                    torch.rand(min(rows, n_neurons - r), n_src, generator=g).topk(ff_k, dim=1).indices
                    for r in range(0, n_neurons, rows)
                ]
            ).reshape(-1)
            post = torch.arange(n_neurons).repeat_interleave(ff_k) + self.central_offset
            w = ff_weight * (0.5 + torch.rand(pre.numel(), generator=g))
            w = torch.where(inh[pre], -w, w)
            pres.append(pre)
            posts.append(post)
            ws.append(w)
        self.synapses = make_synapses(torch.cat(pres), torch.cat(posts), torch.cat(ws), n_total, n_total)
        self.register_buffer("is_inhibitory", inh)

        w_in = torch.zeros(n_inputs, n_total)
        for c in range(n_inputs):
            pops = []
            if n_groups:
                grp = range(n_groups) if not split_inputs or n_inputs < n_groups else [c % n_groups]
                pops += [(i * group_size, group_size) for i in grp]
            if not n_groups or central_input:
                pops.append((self.central_offset, n_neurons))
            for off, size in pops:
                m = max(1, int(round(input_fraction * size)))
                idx = torch.randperm(size, generator=g)[:m] + off
                w_in[c, idx] = input_weight * (0.5 + torch.rand(m, generator=g))
        self.register_buffer("w_in", w_in)
        taus = tau * (1.0 + tau_jitter * (2 * torch.rand(n_total, generator=g) - 1))
        self.register_buffer("beta", torch.exp(-1.0 / taus))
        self.register_buffer("threshold", torch.full((n_total,), float(threshold)))
        self.v_reset, self.refractory, self.trace_decay, self.method = float(v_reset), refractory, trace_decay, method

    def params(self) -> ReservoirParams:
        return ReservoirParams(
            self.beta, self.threshold, self.synapses, None, self.v_reset, self.refractory, self.trace_decay, self.method
        )

    @property
    def num_synapses(self) -> int:
        return int(self.synapses.val.numel())

    def _check_input(self, x_seq: Tensor) -> Tensor:
        check_tensor("x_seq", x_seq, ndim=3, floating=True)
        if x_seq.shape[-1] != self.n_inputs:
            raise ValueError(f"x_seq must have shape [T, B, {self.n_inputs}], got {tuple(x_seq.shape)}")
        return x_seq

    @torch.no_grad()
    def run(
        self, x_seq: Tensor, record_spikes: bool = True, state: Optional[ReservoirState] = None
    ) -> tuple[Optional[Tensor], Tensor, Tensor, ReservoirState]:
        """Simulate ``T`` steps. Returns ``(spikes [T,B,N_total] or None, mean_trace [B,N_total],
        final_trace [B,N_total], final_state)``."""
        x_seq = self._check_input(x_seq)
        T, B, _ = x_seq.shape
        p = self.params()
        st = state if state is not None else init_state(B, self.n_total, x_seq.dtype, x_seq.device)
        rec = torch.empty(T, B, self.n_total, dtype=x_seq.dtype) if record_spikes else None
        trace_sum = torch.zeros(B, self.n_total, dtype=x_seq.dtype)
        for t in range(T):
            s, st = reservoir_step(x_seq[t] @ self.w_in.to(x_seq.dtype), st, p)
            if rec is not None:
                rec[t] = s
            trace_sum += st.trace
        return rec, trace_sum / T, st.trace, st

    def forward(self, x_seq: Tensor) -> Tensor:
        spikes, _, _, _ = self.run(x_seq, record_spikes=True)
        assert spikes is not None
        return spikes

    @torch.no_grad()
    def features(
        self,
        x_seq: Tensor,
        mode: str = "both",
        population: str = "central",
        sample_every: int = 1,
        batch_size: int = 512,
    ) -> Tensor:
        """Readout features ``[B, F]`` of the central reservoir ("central") or every neuron ("all"):
        mean spike trace over time ("mean"), final trace ("final"), both concatenated ("both"), or the traces
        at steps ``sample_every - 1, 2 * sample_every - 1, ...`` concatenated ("samples"; trailing steps that do
        not fill a whole ``sample_every`` block are not simulated)."""
        if mode not in FEATURES:
            raise ValueError(f"mode must be one of {FEATURES}, got {mode!r}")
        if population not in ("central", "all"):
            raise ValueError(f"population must be 'central' or 'all', got {population!r}")
        x_seq = self._check_input(x_seq)
        if not isinstance(sample_every, int) or not 1 <= sample_every <= x_seq.shape[0]:
            raise ValueError(f"sample_every must be an int in [1, T={x_seq.shape[0]}], got {sample_every!r}")
        lo = self.central_offset if population == "central" else 0
        out = []
        for b in range(0, x_seq.shape[1], batch_size):
            xb = x_seq[:, b : b + batch_size]
            if mode == "samples":
                parts, st = [], None
                for t0 in range(0, xb.shape[0] - sample_every + 1, sample_every):
                    _, _, final_tr, st = self.run(xb[t0 : t0 + sample_every], record_spikes=False, state=st)
                    parts.append(final_tr)
            else:
                _, mean_tr, final_tr, _ = self.run(xb, record_spikes=False)
                parts = {"mean": [mean_tr], "final": [final_tr], "both": [mean_tr, final_tr]}[mode]
            out.append(torch.cat([q[:, lo:] for q in parts], dim=1))
        return torch.cat(out, dim=0)


# ------------------------------------------------------------------------------------------------ readout


def ridge_fit(x: Tensor, y: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """Closed-form ridge regression ``min_W ||X W + b - Y||^2 + alpha ||W||^2`` (bias unpenalised).

    With centred ``Xc = X - mean(X)``, ``Yc = Y - mean(Y)``: ``W = (Xc^T Xc + alpha I)^-1 Xc^T Yc`` (primal,
    used when ``F <= n``) or ``W = Xc^T (Xc Xc^T + alpha I)^-1 Yc`` (dual, ``F > n``); ``b = mean(Y) -
    mean(X) W``. Computed in float64. Returns ``(W [F, C], b [C])``.

    >>> x = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)
    >>> w, b = ridge_fit(x, 2 * x + 1, alpha=1e-9)
    >>> round(w.item(), 6), round(b.item(), 6)
    (2.0, 1.0)
    """
    check_tensor("x", x, ndim=2, floating=True)
    check_tensor("y", y, ndim=2, floating=True)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    xd, yd = x.double(), y.double()
    xm, ym = xd.mean(0), yd.mean(0)
    xc, yc = xd - xm, yd - ym
    n, f = xc.shape
    if f <= n:
        a = xc.t() @ xc
        a.diagonal().add_(alpha)
        w = torch.linalg.solve(a, xc.t() @ yc)
    else:
        a = xc @ xc.t()
        a.diagonal().add_(alpha)
        w = xc.t() @ torch.linalg.solve(a, yc)
    b = ym - xm @ w
    return w.to(x.dtype), b.to(x.dtype)


class RidgeReadout(nn.Module):
    """Linear classifier on reservoir features trained by closed-form ridge regression on one-hot targets.

    :meth:`fit` picks ``alpha`` from ``alphas`` by accuracy on a held-out ``val_fraction`` of the training set
    (random split from ``seed``), then refits on the whole training set with the chosen ``alpha``.

    >>> features, labels = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).repeat(10, 1), torch.tensor([1, 0]).repeat(10)
    >>> readout = RidgeReadout(2, 2).fit(features, labels)
    >>> readout(torch.tensor([[0.0, 1.0]])).argmax(1).tolist()
    [1]
    """

    weight: Tensor  # buffers (registered in __init__)
    bias: Tensor

    def __init__(self, n_features: int, n_classes: int) -> None:
        super().__init__()
        if n_features < 1 or n_classes < 2:
            raise ValueError(f"n_features must be >= 1 and n_classes >= 2, got {n_features}, {n_classes}")
        self.n_features, self.n_classes = n_features, n_classes
        self.register_buffer("weight", torch.zeros(n_features, n_classes))
        self.register_buffer("bias", torch.zeros(n_classes))
        self.alpha: float | None = None
        self.val_scores: dict[float, float] = {}

    def forward(self, features: Tensor) -> Tensor:
        check_tensor("features", features, ndim=2, floating=True)
        if features.shape[1] != self.n_features:
            raise ValueError(f"features must have {self.n_features} columns, got {features.shape[1]}")
        return features @ self.weight + self.bias

    def _onehot(self, labels: Tensor) -> Tensor:
        if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.is_floating_point():
            raise TypeError("labels must be a 1-D integer torch.Tensor")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.n_classes):
            raise ValueError(f"labels must lie in [0, {self.n_classes})")
        return torch.nn.functional.one_hot(labels.long(), self.n_classes).float()

    def fit(
        self,
        features: Tensor,
        labels: Tensor,
        alphas: Sequence[float] = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4),
        val_fraction: float = 0.2,
        seed: int = 0,
    ) -> "RidgeReadout":
        check_tensor("features", features, ndim=2, floating=True)
        y = self._onehot(labels)
        if features.shape[0] != y.shape[0]:
            raise ValueError(f"features and labels must have equal length, got {features.shape[0]}, {y.shape[0]}")
        if not alphas:
            raise ValueError("alphas must hold at least one value")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
        n = features.shape[0]
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        n_val = max(1, int(round(val_fraction * n)))
        va, tr = perm[:n_val], perm[n_val:]
        self.val_scores = {}
        for a in alphas:
            w, b = ridge_fit(features[tr], y[tr], float(a))
            self.val_scores[float(a)] = accuracy(features[va] @ w + b, labels[va])
        best = max(self.val_scores.values())
        self.alpha = max(a for a, s in self.val_scores.items() if s == best)  # ties -> strongest regularisation
        w, b = ridge_fit(features, y, self.alpha)
        self.weight.copy_(w)
        self.bias.copy_(b)
        return self

    @torch.no_grad()
    def accuracy(self, features: Tensor, labels: Tensor) -> float:
        """:func:`neuromorph.metrics.accuracy` of the readout's scores."""
        return accuracy(self(features), labels)


# ------------------------------------------------------------------------------------------------ task


def digits_rows(hold: int = 4, tail: int = 0, gain: float = 1.0) -> tuple[Tensor, Tensor]:
    """sklearn digits (1797 images, 8x8) presented row by row: ``x [8*hold + tail, 1797, 8]``, ``y [1797]``.

    Row ``r`` (pixel values / 16 times ``gain``) is the input current for ``hold`` consecutive steps; ``tail``
    zero steps follow.

    >>> x, y = digits_rows(hold=2)
    >>> x.shape, y.shape
    (torch.Size([16, 1797, 8]), torch.Size([1797]))
    """
    from sklearn.datasets import load_digits

    check_positive_int("hold", hold)
    if not isinstance(tail, int) or tail < 0:
        raise ValueError(f"tail must be a non-negative int, got {tail!r}")
    d = load_digits()
    img = torch.tensor(d.images / 16.0, dtype=torch.float32) * gain  # [N, 8, 8]
    x = img.permute(1, 0, 2).repeat_interleave(hold, dim=0)  # [8*hold, N, 8]
    if tail:
        x = torch.cat([x, torch.zeros(tail, x.shape[1], 8)], dim=0)
    return x.contiguous(), torch.tensor(d.target, dtype=torch.long)


def split_indices(n: int, test_fraction: float = 0.25, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Random train/test split of ``range(n)``.

    >>> train, test = split_indices(8, test_fraction=0.25, seed=0)
    >>> len(train), len(test), sorted(torch.cat([train, test]).tolist()) == list(range(8))
    (6, 2, True)
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = int(math.ceil(test_fraction * n))
    return perm[n_test:], perm[:n_test]
