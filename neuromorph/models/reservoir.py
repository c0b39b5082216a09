"""Sparse recurrent LIF reservoir: connectivity builder and pure functional step kernel.

Kernel (:func:`reservoir_step`), per time step ``t`` for every neuron ``i`` (batch dim omitted)::

    I_t[i]   = sum_j W[j, i] * s_{t-1}[j]  +  x_t[i]  +  bias[i]      (recurrent input: one-step delay)
    v_pre[i] = beta[i] * v_{t-1}[i] + I_t[i]                          if r_{t-1}[i] == 0
    v_pre[i] = v_reset                                                if r_{t-1}[i] > 0  (refractory: clamped)
    s_t[i]   = H(v_pre[i] - threshold[i])
    v_t[i]   = v_reset if s_t[i] else v_pre[i]
    r_t[i]   = refractory if s_t[i] else max(r_{t-1}[i] - 1, 0)
    a_t[i]   = trace_decay * a_{t-1}[i] + s_t[i]                      (filtered spike trace for readouts)

The membrane update ``v_pre`` is the leaky integrator's own step
(:func:`~neuromorph.neurons.integrator.integrator_step`); the spike rule around it (absolute refractory period,
reset to ``v_reset``, as NEST's ``iaf_psc_delta``) is the reservoir's own, because the LIF protocol has no
absolute refractory period.

For many steps at batch 1-few, :func:`neuromorph.models.reservoir_sim.simulate` runs the same equations in the
compiled event-driven simulator (no Python per step; identical spike trains).

``W`` is sparse with ``W[j, i]`` the weight of the synapse from presynaptic ``j`` to postsynaptic ``i``. Two
ways to apply it, bit-for-bit equal up to float summation order:

* ``"csr"``: ``torch.sparse.mm(W^T, s^T)`` with ``W^T`` stored as a CSR matrix (rows = postsynaptic neurons);
  cost ~ ``nnz * B`` per step, good for large batches.
* ``"event"``: only the synapses of neurons that spiked are touched: their outgoing rows (padded to the
  largest out-degree, padding aimed at a dummy neuron) are gathered and scattered with one ``index_add_``;
  cost ~ ``#spikes * K``, good for a single (or small) batch at low rates.

``"auto"`` uses ``"event"`` when the number of spiking (sample, neuron) pairs in the whole batch is at most
``event_fraction * N`` and ``"csr"`` otherwise. Measured here (``python benchmarks/lsm_vs_brian2.py
--propagation``, 1 thread, K=100, busy 2-core machine): B=1, N=10k: event 0.11/0.90/7.3 ms at 1/5/20 %
activity vs CSR 3.9/4.7/4.9 ms; B=64, N=1k: CSR 1.3-1.7 ms at any activity vs event 1.5/5.3/64 ms (the scatter
cost grows with the number of events).

Connectivity (:func:`build_connectivity`) follows Maass, Natschlaeger & Markram (2002): neurons sit on a 3-D
integer grid; a fraction ``1 - frac_inhibitory`` is excitatory (positive outgoing weights) and the rest
inhibitory (negative outgoing weights, Dale's law). Each neuron receives exactly ``K`` distinct presynaptic
partners drawn with probability proportional to ``C[type_pre, type_post] * exp(-(d / lam)^2)`` (``d`` the
Euclidean grid distance on a torus, so edges have no boundary effects) — the distance kernel is sampled by
Gaussian offsets of standard deviation ``lam / sqrt(2)`` rounded to the grid and the type factor by rejection.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple, Optional, Sequence

import torch
from torch import Tensor

from neuromorph.neurons.integrator import IntegratorParams, IntegratorState, integrator_step
from neuromorph.utils import check_positive_int

METHODS = ("auto", "csr", "event")

# Maass et al. 2002 connection-probability scale per (pre type, post type); index 0 = E, 1 = I
MAASS_C = ((0.3, 0.2), (0.4, 0.1))


class SparseSynapses(NamedTuple):
    """Sparse weight matrix ``W[pre, post]`` in three layouts (all built by :func:`make_synapses`).

    ``crow``/``col``/``val``: pre-major CSR (outgoing synapses of neuron ``j`` are ``col[crow[j]:crow[j+1]]``).
    ``w_t``: the transposed matrix (post x pre) as a ``torch.sparse_csr_tensor`` (the "csr" method).
    ``pad_col``/``pad_val``: outgoing synapses padded to the largest out-degree ``[n_pre, D]``; padding
    points at the dummy target ``n_post`` with weight 0 (the "event" method: one gather per spike).

    >>> syn = make_synapses(torch.tensor([0, 0, 1]), torch.tensor([1, 2, 0]), torch.tensor([0.5, -1.0, 2.0]), 2, 3)
    >>> syn.crow.tolist(), syn.col.tolist(), syn.pad_col.shape
    ([0, 2, 3], [1, 2, 0], torch.Size([2, 2]))
    """

    crow: Tensor
    col: Tensor
    val: Tensor
    w_t: Tensor
    pad_col: Tensor
    pad_val: Tensor
    n_pre: int
    n_post: int


class ReservoirParams(NamedTuple):
    """Parameters of :func:`reservoir_step`: per-neuron ``beta``/``threshold`` ``[N]``, recurrent synapses and settings.

    >>> syn = make_synapses(torch.tensor([0]), torch.tensor([1]), torch.tensor([1.0]), 2, 2)
    >>> p = ReservoirParams(torch.full((2,), 0.9), torch.ones(2), syn)
    >>> p.refractory, p.method
    (0, 'auto')
    """

    beta: Tensor  # [N] membrane decay in (0, 1)
    threshold: Tensor  # [N] > 0
    synapses: SparseSynapses  # recurrent weights (n_pre == n_post == N)
    bias: Optional[Tensor] = None  # [N] constant input current, or None
    v_reset: float = 0.0
    refractory: int = 0  # refractory period in steps
    trace_decay: float = 0.9  # decay of the spike trace used by readouts
    method: str = "auto"
    event_fraction: float = 0.05


class ReservoirState(NamedTuple):
    """State of a reservoir after a step, each ``[B, N]``: membrane, last spikes, refractory countdown, spike trace.

    >>> init_state(batch=2, n=5).v.shape
    torch.Size([2, 5])
    """

    v: Tensor  # [B, N] membrane after reset
    spikes: Tensor  # [B, N] spikes of the last step (feed the recurrent synapses at the next step)
    refrac: Tensor  # [B, N] remaining refractory steps (stored as floats)
    trace: Tensor  # [B, N] filtered spike trace


def make_synapses(pre: Tensor, post: Tensor, weight: Tensor, n_pre: int, n_post: int) -> SparseSynapses:
    """Build the sparse layouts from synapse lists ``pre``/``post`` (int) and ``weight`` (float), all 1-D.

    Duplicated (pre, post) pairs are kept as separate synapses (their weights add up).

    >>> syn = make_synapses(torch.tensor([0, 1]), torch.tensor([1, 1]), torch.tensor([0.5, 2.0]), 2, 2)
    >>> syn.w_t.to_dense().tolist()   # post x pre
    [[0.0, 0.0], [0.5, 2.0]]
    """
    for name, t in (("pre", pre), ("post", post), ("weight", weight)):
        if not isinstance(t, Tensor) or t.dim() != 1:
            raise TypeError(f"{name} must be a 1-D torch.Tensor")
    if not (pre.numel() == post.numel() == weight.numel()):
        raise ValueError(
            f"pre, post and weight must have equal length, got {pre.numel()}, {post.numel()}, {weight.numel()}"
        )
    if not weight.is_floating_point():
        raise TypeError(f"weight must be floating point, got {weight.dtype}")
    pre, post = pre.long(), post.long()
    if pre.numel() and (int(pre.min()) < 0 or int(pre.max()) >= n_pre):
        raise ValueError(f"pre indices must lie in [0, {n_pre})")
    if post.numel() and (int(post.min()) < 0 or int(post.max()) >= n_post):
        raise ValueError(f"post indices must lie in [0, {n_post})")
    order = torch.argsort(pre * n_post + post)
    pre_s, post_s, w_s = pre[order], post[order], weight[order]
    counts = torch.bincount(pre_s, minlength=n_pre)
    crow = torch.zeros(n_pre + 1, dtype=torch.long)
    crow[1:] = torch.cumsum(counts, 0)
    order_t = torch.argsort(post * n_pre + pre)
    counts_t = torch.bincount(post[order_t], minlength=n_post)
    crow_t = torch.zeros(n_post + 1, dtype=torch.long)
    crow_t[1:] = torch.cumsum(counts_t, 0)
    with warnings.catch_warnings():  # "sparse CSR support is beta" / invariant-check notices
        warnings.simplefilter("ignore", UserWarning)
        w_t = torch.sparse_csr_tensor(crow_t, pre[order_t], weight[order_t], size=(n_post, n_pre))
    width = int(counts.max()) if pre.numel() else 0
    slot = torch.arange(pre_s.numel()) - crow[pre_s]  # position of each synapse in its row
    pad_col = torch.full((n_pre, width), n_post, dtype=torch.long)
    pad_val = torch.zeros(n_pre, width, dtype=weight.dtype)
    pad_col[pre_s, slot] = post_s
    pad_val[pre_s, slot] = w_s
    return SparseSynapses(crow, post_s.contiguous(), w_s.contiguous(), w_t, pad_col, pad_val, n_pre, n_post)


def propagate(
    spikes: Tensor, syn: SparseSynapses, method: str = "auto", event_fraction: float = 0.05, binary: bool = True
) -> Tensor:
    """Synaptic input ``spikes @ W`` for ``spikes`` of shape ``[B, n_pre]`` -> ``[B, n_post]``.

    ``binary=True`` promises 0/1 spikes (the event path then skips multiplying by the presynaptic value).

    >>> syn = make_synapses(torch.tensor([0, 1]), torch.tensor([1, 1]), torch.tensor([0.5, 2.0]), 2, 2)
    >>> propagate(torch.tensor([[1.0, 1.0]]), syn).tolist()
    [[0.0, 2.5]]
    >>> propagate(torch.tensor([[1.0, 0.0]]), syn, method="event").tolist()
    [[0.0, 0.5]]
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    B = spikes.shape[0]
    if method == "csr":
        return torch.sparse.mm(syn.w_t, spikes.t().to(syn.val.dtype)).t().to(spikes.dtype)
    active = torch.nonzero(spikes.reshape(-1)).squeeze(1)  # flat (sample, neuron) indices
    if method == "auto" and active.numel() > event_fraction * syn.n_pre:
        return torch.sparse.mm(syn.w_t, spikes.t().to(syn.val.dtype)).t().to(spikes.dtype)
    width = syn.n_post + 1  # one dummy column per sample
    out = torch.zeros(B, width, dtype=spikes.dtype, device=spikes.device)
    if active.numel() == 0 or syn.pad_col.shape[1] == 0:
        return out[:, : syn.n_post]
    if B == 1:
        target, pre = syn.pad_col[active], active
    else:
        b = torch.div(active, syn.n_pre, rounding_mode="floor")
        pre = active - b * syn.n_pre
        target = syn.pad_col[pre] + (b * width).unsqueeze(1)
    weight = syn.pad_val[pre].to(spikes.dtype)
    if not binary:
        weight = weight * spikes.reshape(-1)[active].unsqueeze(1)
    out.view(-1).index_add_(0, target.reshape(-1), weight.reshape(-1))
    return out[:, : syn.n_post]


def init_state(
    batch: int, n: int, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> ReservoirState:
    """All-zero reservoir state for ``batch`` samples of ``n`` neurons.

    >>> state = init_state(batch=2, n=3)
    >>> [tuple(t.shape) for t in state], float(state.v.abs().sum())
    ([(2, 3), (2, 3), (2, 3), (2, 3)], 0.0)
    """
    if batch < 1 or n < 1:
        raise ValueError(f"batch and n must be positive, got batch={batch}, n={n}")
    z = torch.zeros(batch, n, dtype=dtype, device=device)
    return ReservoirState(z, z.clone(), z.clone(), z.clone())


def reservoir_step(x: Tensor, state: ReservoirState, params: ReservoirParams) -> tuple[Tensor, ReservoirState]:
    """One reservoir step (no autograd needed). ``x``: input current ``[B, N]``. Returns ``(spikes, state)``.

    See the module docstring for the equations. The state tensors passed in are never modified (in-place
    ops only touch tensors created inside this call).

    >>> syn = make_synapses(torch.tensor([0]), torch.tensor([1]), torch.tensor([2.0]), 2, 2)
    >>> params = ReservoirParams(torch.full((2,), 0.5), torch.ones(2), syn)
    >>> s1, state = reservoir_step(torch.tensor([[1.5, 0.0]]), init_state(1, 2), params)
    >>> s2, state = reservoir_step(torch.zeros(1, 2), state, params)    # neuron 0's spike reaches neuron 1
    >>> s1.tolist(), s2.tolist()
    ([[1.0, 0.0]], [[0.0, 1.0]])
    """
    if x.shape != state.v.shape:
        raise ValueError(f"x must have the state's shape {tuple(state.v.shape)}, got {tuple(x.shape)}")
    current = propagate(state.spikes, params.synapses, params.method, params.event_fraction) + x
    if params.bias is not None:
        current += params.bias
    v, _ = integrator_step(current, IntegratorState(state.v), IntegratorParams(params.beta))  # beta v + I
    if params.refractory > 0:
        v.masked_fill_(state.refrac > 0, params.v_reset)
    fired = v >= params.threshold
    spikes = fired.to(x.dtype)
    v.masked_fill_(fired, params.v_reset)
    refrac = state.refrac
    if params.refractory > 0:
        refrac = (refrac - 1).clamp_min_(0).masked_fill_(fired, float(params.refractory))
    trace = torch.add(spikes, state.trace, alpha=params.trace_decay)
    return spikes, ReservoirState(v, spikes, refrac, trace)


# ----------------------------------------------------------------------------------------------- connectivity


def grid_shape(n: int) -> tuple[int, int, int]:
    """Most cube-like ``(nx, ny, nz)`` with ``nx * ny * nz == n`` (``nx <= ny <= nz``).

    >>> grid_shape(24), grid_shape(27)
    ((2, 3, 4), (3, 3, 3))
    """
    check_positive_int("n", n)
    best = (1, 1, n)
    for a in range(1, int(round(n ** (1 / 3))) + 2):
        if n % a:
            continue
        m = n // a
        for b in range(a, int(math.isqrt(m)) + 1):
            if m % b == 0:
                c = m // b
                if c >= b and c - a < best[2] - best[0]:
                    best = (a, b, c)
    return best


def default_lambda(k: int) -> float:
    """Length constant (grid units) so that the Gaussian kernel covers about ``8 K`` grid sites.

    The kernel ``exp(-(d/lam)^2)`` integrates to ``pi^1.5 lam^3`` sites, so ``lam = (8 K / pi^1.5)^(1/3)``.

    >>> round(default_lambda(100), 4) > 0
    True
    """
    return (8.0 * k / math.pi**1.5) ** (1.0 / 3.0)


def build_connectivity(
    n: int,
    k: int,
    lam: float | None = None,
    frac_inhibitory: float = 0.2,
    c: Sequence[Sequence[float]] = MAASS_C,
    grid: tuple[int, int, int] | None = None,
    generator: torch.Generator | None = None,
    chunk: int = 8192,
) -> tuple[Tensor, Tensor, Tensor]:
    """Sample the recurrent synapses: returns ``(pre, post, is_inhibitory)``.

    ``pre``/``post``: ``[n * k]`` int64 (each neuron gets exactly ``k`` distinct presynaptic partners, never
    itself); ``is_inhibitory``: ``[n]`` bool (a random ``frac_inhibitory`` fraction). ``lam`` in grid units
    (default :func:`default_lambda`).

    >>> pre, post, inhibitory = build_connectivity(27, k=4, generator=torch.Generator().manual_seed(0))
    >>> len(pre), torch.bincount(post, minlength=27).tolist() == [4] * 27, inhibitory.shape
    (108, True, torch.Size([27]))
    """
    check_positive_int("k", k)
    if not isinstance(n, int) or n <= k:
        raise ValueError(f"n must be an int larger than k={k}, got {n!r}")
    if not 0.0 <= frac_inhibitory < 1.0:
        raise ValueError(f"frac_inhibitory must lie in [0, 1), got {frac_inhibitory}")
    cm = torch.tensor(c, dtype=torch.float32)
    if cm.shape != (2, 2) or bool((cm <= 0).any()):
        raise ValueError(f"c must be a 2x2 table of positive probabilities, got {c!r}")
    shape = grid if grid is not None else grid_shape(n)
    if len(shape) != 3 or math.prod(shape) != n:
        raise ValueError(f"grid must be 3 ints whose product is n={n}, got {shape!r}")
    lam = default_lambda(k) if lam is None else float(lam)
    if lam <= 0:
        raise ValueError(f"lam must be positive, got {lam}")
    g = generator
    n_inh = int(round(frac_inhibitory * n))
    is_inh = torch.zeros(n, dtype=torch.bool)
    is_inh[torch.randperm(n, generator=g)[:n_inh]] = True
    dims = torch.tensor(shape, dtype=torch.long)
    strides = torch.tensor([shape[1] * shape[2], shape[2], 1], dtype=torch.long)
    idx = torch.arange(n)
    coords = torch.stack([(idx // strides[d]) % dims[d] for d in range(3)], dim=1)  # [n, 3]
    accept_p = cm / cm.max()
    sigma = lam / math.sqrt(2.0)
    n_sites = n - 1
    pre_all, post_all = [], []
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        rows = torch.arange(lo, hi)
        chosen = torch.full((hi - lo, k), -1, dtype=torch.long)
        filled = torch.zeros(hi - lo, dtype=torch.long)
        m = 2 * k
        for _ in range(64):
            need = filled < k
            if not bool(need.any()):
                break
            r = rows[need]
            off = torch.round(torch.randn(r.numel(), m, 3, generator=g) * sigma).long()
            cand_xyz = (coords[r].unsqueeze(1) + off) % dims
            cand = (cand_xyz * strides).sum(-1)  # [R, m]
            ok = cand != r.unsqueeze(1)
            p = accept_p[is_inh[cand].long(), is_inh[r].long().unsqueeze(1)]
            ok &= torch.rand(r.numel(), m, generator=g) < p
            # drop candidates already chosen or repeated in this draw, keep order of draws
            prev = chosen[need]
            merged = torch.cat([prev, torch.where(ok, cand, torch.full_like(cand, -1))], dim=1)
            merged = _first_unique(merged, k)
            chosen[need] = merged
            filled[need] = (merged >= 0).sum(1)
            if k > n_sites // 2:
                m = 4 * k
        else:
            raise RuntimeError("could not find k distinct partners; increase lam or decrease k")
        pre_all.append(chosen.reshape(-1))
        post_all.append(rows.repeat_interleave(k))
    return torch.cat(pre_all), torch.cat(post_all), is_inh


def _first_unique(cand: Tensor, k: int) -> Tensor:
    """Per row: the first ``k`` distinct non-negative entries of ``cand`` (in order), padded with -1."""
    R, M = cand.shape
    big = cand.max().item() + 2 if cand.numel() else 1
    key = torch.where(cand >= 0, cand, torch.full_like(cand, big))
    sorted_key, perm = torch.sort(key, dim=1, stable=True)
    dup = torch.zeros_like(sorted_key, dtype=torch.bool)
    dup[:, 1:] = sorted_key[:, 1:] == sorted_key[:, :-1]
    dup |= sorted_key == big
    keep = torch.zeros_like(dup)
    keep.scatter_(1, perm, ~dup)
    # rank of kept entries in original order
    rank = torch.cumsum(keep.long(), dim=1) - 1
    out = torch.full((R, k), -1, dtype=torch.long)
    sel = keep & (rank < k)
    r_idx = torch.arange(R).unsqueeze(1).expand(R, M)[sel]
    out[r_idx, rank[sel]] = cand[sel]
    return out
