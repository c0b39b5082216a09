"""Reward-modulated (three-factor) online learning.

A three-factor rule multiplies a local *eligibility* (factors one and two: pre- and postsynaptic activity,
here the online gradient of :mod:`neuromorph.learning.online`, i.e. presynaptic traces times surrogate
derivatives and the output error of the current step) by a global *neuromodulator* ``M_t`` (factor three:
reward, reward prediction error or TD error) that arrives later. Per parameter ``p``::

    z_p(t) = decay * z_p(t-1) + g_p(t)                 (eligibility; g_p = online gradient of a local objective)
    p     <- p + lr * M_t * z_p(t)                      (plain SGD; with a torch optimiser: p.grad = -M_t z_p)

With ``g_p = d log pi(a_t | s_t) / dp`` and ``M_t = delta_t = r_t + gamma V(s_{t+1}) - V(s_t)`` this is the
actor of actor-critic with eligibility traces (``decay = gamma * lambda``); with ``g_p = dV(s_t)/dp`` it is
the TD(lambda) critic. With ``decay = gamma`` and ``M_t = r_t - baseline`` it is online REINFORCE. Memory is
one trace per parameter, independent of the episode length.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch
from torch import Tensor, nn


class EligibilityTrace:
    """Parameter-space eligibility traces ``z_p`` for a list of parameters (see the module docstring).

    >>> w = nn.Parameter(torch.zeros(2))
    >>> trace = EligibilityTrace([w], decay=0.5)
    >>> trace.accumulate([torch.tensor([1.0, 2.0])])
    >>> trace.accumulate([torch.tensor([1.0, 0.0])])
    >>> trace.apply(modulator=1.0, lr=1.0)       # w += 1.0 * (0.5 * [1, 2] + [1, 0])
    >>> w.tolist()
    [1.5, 1.0]
    """

    def __init__(self, params: Iterable[nn.Parameter], decay: float) -> None:
        self.params = [p for p in params]
        if not self.params or not all(isinstance(p, Tensor) and p.requires_grad for p in self.params):
            raise ValueError("params must be a non-empty iterable of tensors that require grad")
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be a number in [0, 1], got {decay!r}")
        self.decay = float(decay)
        self.traces = [torch.zeros_like(p) for p in self.params]

    def reset(self) -> None:
        """Zero every trace (start of an episode)."""
        for z in self.traces:
            z.zero_()

    @torch.no_grad()
    def accumulate(self, grads: Sequence[Tensor | None], scale: float = 1.0) -> None:
        """``z <- decay * z + scale * g`` (``None`` entries count as zero)."""
        if len(grads) != len(self.traces):
            raise ValueError(f"grads must have one entry per parameter ({len(self.traces)}), got {len(grads)}")
        for z, g in zip(self.traces, grads):
            z.mul_(self.decay)
            if g is not None:
                z.add_(g, alpha=scale)

    def accumulate_from(self, objective: Tensor, retain_graph: bool = False) -> None:
        """Accumulate the gradient of the scalar ``objective`` (e.g. ``log pi(a|s)`` or ``V(s)``)."""
        if not isinstance(objective, Tensor) or objective.numel() != 1:
            raise ValueError("objective must be a scalar tensor")
        grads = torch.autograd.grad(objective, self.params, retain_graph=retain_graph, allow_unused=True)
        self.accumulate(grads)

    def set_grad(self, modulator: float) -> None:
        """Write ``p.grad += -modulator * z_p`` so that a minimising optimiser *ascends* ``modulator * z``."""
        if not math.isfinite(modulator):
            raise ValueError(f"modulator must be finite, got {modulator!r}")
        for p, z in zip(self.params, self.traces):
            g = -modulator * z
            p.grad = g if p.grad is None else p.grad + g

    @torch.no_grad()
    def apply(self, modulator: float, lr: float) -> None:
        """Plain three-factor step ``p <- p + lr * modulator * z_p``."""
        if not math.isfinite(modulator):
            raise ValueError(f"modulator must be finite, got {modulator!r}")
        for p, z in zip(self.params, self.traces):
            p.add_(z, alpha=lr * modulator)


class RunningBaseline:
    """Exponential moving average of a reward signal, ``b <- b + rate * (r - b)``.

    >>> baseline = RunningBaseline(rate=0.5)
    >>> [baseline.update(r) for r in (1.0, 1.0, 0.0)]
    [0.0, 0.0, -1.0]
    """

    def __init__(self, rate: float = 0.05) -> None:
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"rate must be in (0, 1], got {rate!r}")
        self.rate = float(rate)
        self.value = 0.0
        self._started = False

    def update(self, reward: float) -> float:
        """Return ``reward - b`` (before updating ``b``) and update ``b``."""
        if not self._started:
            self.value, self._started = float(reward), True
            return 0.0
        advantage = float(reward) - self.value
        self.value += self.rate * advantage
        return advantage
