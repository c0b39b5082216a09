"""Trace-based spike-timing-dependent plasticity (pair STDP), optionally reward-modulated.

For a synapse matrix ``W [out, in]`` with presynaptic spikes ``x_t [B, in]`` and postsynaptic spikes
``y_t [B, out]`` (batch-averaged below), the all-to-all pair rule keeps one trace per neuron::

    p_t = lambda_plus  p_{t-1} + x_t        lambda_plus  = exp(-1 / tau_plus)   (presynaptic trace)
    q_t = lambda_minus q_{t-1} + y_t        lambda_minus = exp(-1 / tau_minus)  (postsynaptic trace)

    dW_t = a_plus  * f_+(W) * (1/B) sum_b y_t[b] p_t[b]^T          (LTP: post fires after pre, incl. same step)
         - a_minus * f_-(W) * (1/B) sum_b lambda_minus q_{t-1}[b] x_t[b]^T   (LTD: pre after post)

so a pre spike at ``t_pre`` and a post spike at ``t_post`` change ``w`` by ``a_plus lambda_plus^(t_post-t_pre)``
if ``t_post >= t_pre`` and by ``-a_minus lambda_minus^(t_pre-t_post)`` if ``t_pre > t_post``.
Bounds: ``f_+ = f_- = 1`` (additive, then clipped to ``[w_min, w_max]``) or, with ``soft_bounds``,
``f_+(W) = w_max - W`` and ``f_-(W) = W - w_min`` (multiplicative).

Reward-modulated STDP (R-STDP, a three-factor rule) does not change ``W`` directly: the STDP term feeds a
synaptic eligibility trace ``E_t = lambda_e E_{t-1} + dW_t`` and the weight moves only when a reward (or any
neuromodulator) ``M`` arrives: ``W += lr * M * E``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from neuromorph.utils import check_tensor


@dataclass(frozen=True)
class STDPParams:
    """Constants of the pair rule (see the module docstring).

    >>> p = STDPParams(tau_plus=10.0)
    >>> round(p.lambda_plus, 4), p.w_max
    (0.9048, 1.0)
    """

    a_plus: float = 0.01
    a_minus: float = 0.012
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    w_min: float = 0.0
    w_max: float = 1.0
    soft_bounds: bool = True

    def __post_init__(self) -> None:
        for name in ("a_plus", "a_minus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        for name in ("tau_plus", "tau_minus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not self.w_max > self.w_min:
            raise ValueError(f"w_max must exceed w_min, got w_min={self.w_min!r}, w_max={self.w_max!r}")

    @property
    def lambda_plus(self) -> float:
        return math.exp(-1.0 / self.tau_plus)

    @property
    def lambda_minus(self) -> float:
        return math.exp(-1.0 / self.tau_minus)


class STDPState(NamedTuple):
    """Pre- and postsynaptic spike traces after the last step (``[B, in]`` and ``[B, out]``).

    >>> state = stdp_init(torch.zeros(2, 3), torch.zeros(2, 1))
    >>> state.pre_trace.shape, state.post_trace.shape
    (torch.Size([2, 3]), torch.Size([2, 1]))
    """

    pre_trace: Tensor  # p, [B, in]
    post_trace: Tensor  # q, [B, out]


def _check_spikes(pre: Tensor, post: Tensor) -> None:
    check_tensor("pre", pre, ndim=2, floating=True)
    check_tensor("post", post, ndim=2, floating=True)
    if pre.shape[0] != post.shape[0]:
        raise ValueError(f"pre and post must have the same batch size, got {pre.shape[0]} and {post.shape[0]}")


def stdp_init(pre: Tensor, post: Tensor) -> STDPState:
    """Zero traces shaped like one step of ``pre [B, in]`` and ``post [B, out]``.

    >>> stdp_init(torch.zeros(1, 4), torch.zeros(1, 2)).post_trace.tolist()
    [[0.0, 0.0]]
    """
    _check_spikes(pre, post)
    return STDPState(torch.zeros_like(pre), torch.zeros_like(post))


def stdp_step(
    weight: Tensor, pre: Tensor, post: Tensor, state: STDPState, params: STDPParams
) -> tuple[Tensor, STDPState]:
    """One step of the pair rule. Returns ``(dW [out, in], new_state)``; ``weight`` is only read (bounds).

    >>> params = STDPParams(a_plus=0.1, a_minus=0.1, soft_bounds=False)
    >>> w = torch.full((1, 1), 0.5)
    >>> state = stdp_init(torch.zeros(1, 1), torch.zeros(1, 1))
    >>> _, state = stdp_step(w, torch.ones(1, 1), torch.zeros(1, 1), state, params)    # pre spike
    >>> dw, state = stdp_step(w, torch.zeros(1, 1), torch.ones(1, 1), state, params)   # post spike after it
    >>> dw.item() > 0
    True
    """
    _check_spikes(pre, post)
    check_tensor("weight", weight, ndim=2, floating=True)
    if weight.shape != (post.shape[1], pre.shape[1]):
        raise ValueError(
            f"weight must have shape (out, in) = {(post.shape[1], pre.shape[1])}, got {tuple(weight.shape)}"
        )
    batch = pre.shape[0]
    p = params.lambda_plus * state.pre_trace + pre
    ltp = post.t() @ p / batch
    q_decayed = params.lambda_minus * state.post_trace
    ltd = q_decayed.t() @ pre / batch
    q = q_decayed + post
    if params.soft_bounds:
        dw = params.a_plus * (params.w_max - weight) * ltp - params.a_minus * (weight - params.w_min) * ltd
    else:
        dw = params.a_plus * ltp - params.a_minus * ltd
    return dw, STDPState(p, q)


class STDP(nn.Module):
    """Stateful pair STDP acting on the ``weight`` of a ``nn.Linear`` (``[out, in]``).

    Call :meth:`step` once per time step with the pre- and postsynaptic spikes of that step. Without
    reward modulation the weight changes immediately (``W += lr * dW``, clipped to ``[w_min, w_max]``);
    with ``reward_modulated=True`` ``dW`` only feeds the eligibility trace ``E`` and :meth:`reward` applies
    ``W += lr * M * E``.

    >>> fc = nn.Linear(2, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = fc.weight.fill_(0.5)
    >>> rule = STDP(fc, STDPParams(a_plus=0.1, a_minus=0.1, soft_bounds=False))
    >>> _ = rule.step(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0]]))   # input 0 fires first ...
    >>> _ = rule.step(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0]]))   # ... then the output: potentiation
    >>> fc.weight[0, 0].item() > 0.5, fc.weight[0, 1].item() == 0.5
    (True, True)
    """

    eligibility: Tensor  # buffer (registered in __init__)

    def __init__(
        self,
        synapse: nn.Linear,
        params: STDPParams | None = None,
        lr: float = 1.0,
        reward_modulated: bool = False,
        eligibility_decay: float = 0.95,
    ) -> None:
        super().__init__()
        if not isinstance(synapse, nn.Linear):
            raise TypeError(f"synapse must be an nn.Linear, got {type(synapse).__name__}")
        if not 0.0 <= eligibility_decay < 1.0:
            raise ValueError(f"eligibility_decay must be in [0, 1), got {eligibility_decay!r}")
        self.synapse = synapse
        self.params = params if params is not None else STDPParams()
        self.lr = float(lr)
        self.reward_modulated = bool(reward_modulated)
        self.eligibility_decay = float(eligibility_decay)
        self.state: STDPState | None = None
        self.register_buffer("eligibility", torch.zeros_like(synapse.weight))

    def reset(self) -> None:
        """Clear spike traces and the eligibility trace."""
        self.state = None
        self.eligibility.zero_()

    @torch.no_grad()
    def step(self, pre: Tensor, post: Tensor) -> Tensor:
        """Apply one step; returns the STDP term ``dW`` of this step."""
        state = self.state if self.state is not None else stdp_init(pre, post)
        if state.pre_trace.shape != pre.shape or state.post_trace.shape != post.shape:
            raise ValueError(
                f"spike shapes changed to pre {tuple(pre.shape)}, post {tuple(post.shape)} without reset()"
            )
        weight = self.synapse.weight
        dw, self.state = stdp_step(weight, pre.detach(), post.detach(), state, self.params)
        if self.reward_modulated:
            self.eligibility.mul_(self.eligibility_decay).add_(dw)
        else:
            weight.add_(self.lr * dw).clamp_(self.params.w_min, self.params.w_max)
        return dw

    @torch.no_grad()
    def reward(self, modulator: float) -> None:
        """Three-factor update ``W += lr * modulator * E`` (reward-modulated mode only)."""
        if not self.reward_modulated:
            raise ValueError("reward() needs STDP(reward_modulated=True)")
        if isinstance(modulator, bool) or not isinstance(modulator, (int, float)) or not math.isfinite(modulator):
            raise ValueError(f"modulator must be a finite number, got {modulator!r}")
        self.synapse.weight.add_(self.lr * modulator * self.eligibility).clamp_(self.params.w_min, self.params.w_max)
