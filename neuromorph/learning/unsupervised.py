"""Unsupervised feature learning: STDP + winner-take-all + homeostasis, evaluated by a linear readout.

Layer of ``N`` leaky neurons with full lateral inhibition (hard winner-take-all), per step::

    v_pre_t = beta v_{t-1} + W x_t                      (x_t: rate-coded input spikes [B, in])
    m_t     = v_pre_t - theta                           (theta: per-neuron adaptive thresholds)
    s_t[j]  = 1  iff  j = argmax_k m_t[k]  and  m_t[j] >= 0       (at most one spike per sample and step)
    v_t     = 0 for every neuron of a sample that spiked (winner reset, losers inhibited), else v_pre_t

Plasticity while learning (per batch of ``T`` steps):

* pair STDP on ``W`` (:func:`~neuromorph.learning.stdp.stdp_step`, soft bounds in ``[0, w_max]``), each step;
* weight normalisation: every neuron's incoming weights are rescaled to the L1 budget ``w_total``;
* adaptive-threshold homeostasis: ``theta <- max(theta_min, theta + eta (r - r_target))`` with the
  batch firing rates ``r`` (:func:`~neuromorph.learning.homeostasis.homeostatic_threshold`), so every neuron
  wins a fair share of inputs;
* activity-based pruning of the weakest synapses at the end (optional, ``prune_fraction``).

Features are the spike counts of the layer with plasticity off; a logistic-regression readout on these
features is trained with labels (the only supervised part): see ``neuromorph.tasks.stdp_digits``. The leak is
the leaky integrator's own step (:func:`~neuromorph.neurons.integrator.integrator_step`); the winner-take-all
spike rule and reset are this layer's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neuromorph.learning.homeostasis import homeostatic_threshold, normalize_weights
from neuromorph.learning.pruning import prune_mask
from neuromorph.learning.stdp import STDPParams, stdp_init, stdp_step
from neuromorph.neurons.integrator import IntegratorParams, IntegratorState, integrator_step
from neuromorph.utils import check_tensor


def wta_step(x: Tensor, v: Tensor, weight: Tensor, theta: Tensor, beta: float) -> tuple[Tensor, Tensor]:
    """One winner-take-all step (module docstring). ``x [B, in]``, ``v [B, N]`` -> ``(spikes, v)``.

    >>> x = torch.tensor([[1.0, 1.0]])
    >>> w = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    >>> spikes, v = wta_step(x, torch.zeros(1, 2), w, theta=torch.ones(2), beta=0.9)
    >>> spikes.tolist(), v.tolist()
    ([[0.0, 1.0]], [[0.0, 0.0]])
    """
    v_pre, _ = integrator_step(x @ weight.t(), IntegratorState(v), IntegratorParams(torch.as_tensor(beta)))
    margin = v_pre - theta
    best, winner = margin.max(dim=1)
    fired = best >= 0
    spikes = torch.zeros_like(v_pre)
    spikes[fired, winner[fired]] = 1.0
    v_new = torch.where(fired.unsqueeze(1), torch.zeros_like(v_pre), v_pre)
    return spikes, v_new


class STDPWinnerTakeAll:
    """STDP-trained winner-take-all feature layer (see the module docstring).

    >>> wta = STDPWinnerTakeAll(n_in=4, n_neurons=3, seed=0)
    >>> counts = wta.run((torch.rand(5, 2, 4) < 0.5).float(), learn=True)
    >>> counts.shape, bool((counts.sum(1) <= 5).all())        # at most one winner per step
    (torch.Size([2, 3]), True)
    """

    def __init__(
        self,
        n_in: int,
        n_neurons: int = 100,
        beta: float = 0.9,
        theta0: float = 1.0,
        stdp: STDPParams | None = None,
        w_total: float | None = None,
        target_rate: float | None = None,
        theta_eta: float = 2.0,
        theta_min: float = 0.5,
        seed: int = 0,
    ) -> None:
        if n_in < 1 or n_neurons < 2:
            raise ValueError(f"n_in must be >= 1 and n_neurons >= 2, got {n_in}, {n_neurons}")
        gen = torch.Generator().manual_seed(seed)
        self.stdp = (
            stdp if stdp is not None else STDPParams(a_plus=0.02, a_minus=0.02, tau_plus=5.0, tau_minus=5.0, w_max=1.0)
        )
        self.w_total = float(w_total) if w_total is not None else 0.1 * n_in
        self.weight = normalize_weights(torch.rand(n_neurons, n_in, generator=gen), self.w_total)
        self.theta = torch.full((n_neurons,), float(theta0))
        self.beta = float(beta)
        self.target_rate = target_rate
        self.theta_eta = float(theta_eta)
        self.theta_min = float(theta_min)
        self.mask = torch.ones_like(self.weight, dtype=torch.bool)

    @torch.no_grad()
    def run(self, x_seq: Tensor, learn: bool = False) -> Tensor:
        """Present ``x_seq [T, B, in]``; return spike counts ``[B, N]`` (and learn if ``learn``)."""
        check_tensor("x_seq", x_seq, ndim=3, floating=True)
        steps, batch = x_seq.shape[:2]
        v = x_seq.new_zeros(batch, self.weight.shape[0])
        counts = torch.zeros_like(v)
        state = stdp_init(x_seq[0], v) if learn else None
        for t in range(steps):
            spikes, v = wta_step(x_seq[t], v, self.weight, self.theta, self.beta)
            counts += spikes
            if learn:
                assert state is not None  # initialised above when learning
                dw, state = stdp_step(self.weight, x_seq[t], spikes, state, self.stdp)
                self.weight = (self.weight + dw).clamp(self.stdp.w_min, self.stdp.w_max) * self.mask
        if learn:
            self.weight = normalize_weights(self.weight, self.w_total) * self.mask
            rates = counts.mean(0) / steps
            target = self.target_rate if self.target_rate is not None else float(rates.mean())
            if target > 0:
                self.theta = homeostatic_threshold(self.theta, rates, target, self.theta_eta, self.theta_min)
        return counts

    @torch.no_grad()
    def prune(self, fraction: float, pre_rate: Tensor) -> None:
        """Remove the ``fraction`` of synapses with the lowest ``|W| * pre_rate`` (activity-based)."""
        self.mask = prune_mask(self.weight.abs() * pre_rate.unsqueeze(0), fraction, self.mask)
        self.weight = self.weight * self.mask
