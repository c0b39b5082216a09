"""Activity-based pruning of synapses and neurons.

:class:`ActivityPruner` watches a ``nn.Linear`` (``W [out, in]``) during normal use and keeps
exponential moving averages of the presynaptic and postsynaptic activity (spike rates)::

    a_pre  <- m a_pre  + (1 - m) mean_b x[b]          a_post <- m a_post + (1 - m) mean_b y[b]

The importance of synapse ``(j, i)`` is ``score_ji = |W_ji| * a_pre_i`` (how much current it actually
delivers). :meth:`ActivityPruner.prune` removes the given fraction of the still-alive synapses with the
lowest score, plus every synapse of postsynaptic neurons whose activity stays below ``min_post_rate``
(dead neurons). Pruned weights are zeroed; their gradients are masked by a hook, and
:meth:`ActivityPruner.apply_mask` re-zeroes them after optimiser steps that move weights without a gradient
(momentum, weight decay).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from neuromorph.utils import check_tensor


def prune_mask(score: Tensor, fraction: float, alive: Tensor | None = None) -> Tensor:
    """Boolean keep-mask removing the ``fraction`` of alive entries with the lowest ``score``.

    >>> prune_mask(torch.tensor([0.3, 0.1, 0.2, 0.4]), fraction=0.5).tolist()
    [True, False, False, True]
    """
    check_tensor("score", score, floating=True)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be a number in [0, 1], got {fraction!r}")
    alive = torch.ones_like(score, dtype=torch.bool) if alive is None else alive.clone()
    n_remove = int(round(fraction * int(alive.sum())))
    if n_remove == 0:
        return alive
    masked = score.masked_fill(~alive, float("inf")).flatten()
    idx = torch.topk(masked, n_remove, largest=False).indices
    keep = alive.flatten()
    keep[idx] = False
    return keep.reshape(score.shape)


class ActivityPruner:
    """Track activity of a ``nn.Linear`` and prune by activity (see the module docstring).

    Presynaptic activity is recorded by a forward pre-hook on the Linear; postsynaptic spikes (the output
    of the spiking layer after it) are passed explicitly with :meth:`observe_post`.

    >>> fc = nn.Linear(4, 2)
    >>> pruner = ActivityPruner(fc)
    >>> _ = fc(torch.tensor([[1.0, 1.0, 0.0, 0.0]]))        # inputs 2 and 3 are silent
    >>> mask = pruner.prune(fraction=0.5)
    >>> mask[:, 2:].any().item(), round(pruner.sparsity(), 2)
    (False, 0.5)
    """

    def __init__(self, synapse: nn.Linear, momentum: float = 0.99) -> None:
        if not isinstance(synapse, nn.Linear):
            raise TypeError(f"synapse must be an nn.Linear, got {type(synapse).__name__}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.synapse = synapse
        self.momentum = float(momentum)
        w = synapse.weight
        self.mask = torch.ones_like(w, dtype=torch.bool)
        self.pre_rate = torch.zeros(w.shape[1], dtype=w.dtype)
        self.post_rate = torch.zeros(w.shape[0], dtype=w.dtype)
        self._seen_pre = self._seen_post = False
        self._hook = synapse.register_forward_pre_hook(self._observe_input)
        self._grad_hook = synapse.weight.register_hook(lambda g: g * self.mask.to(g.dtype))

    def _ema(self, old: Tensor, new: Tensor, seen: bool) -> Tensor:
        return new if not seen else self.momentum * old + (1 - self.momentum) * new

    def _observe_input(self, module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        x = inputs[0].detach()
        self.pre_rate = self._ema(self.pre_rate, x.reshape(-1, x.shape[-1]).mean(0), self._seen_pre)
        self._seen_pre = True

    def observe_post(self, spikes: Tensor) -> None:
        """Record postsynaptic spikes ``[..., out]`` (e.g. the output of the LIF after the Linear)."""
        check_tensor("spikes", spikes, floating=True)
        if spikes.shape[-1] != self.post_rate.shape[0]:
            raise ValueError(f"spikes must end in {self.post_rate.shape[0]} neurons, got {tuple(spikes.shape)}")
        s = spikes.detach()
        self.post_rate = self._ema(self.post_rate, s.reshape(-1, s.shape[-1]).mean(0), self._seen_post)
        self._seen_post = True

    def scores(self) -> Tensor:
        """``|W_ji| * a_pre_i`` for every synapse."""
        return self.synapse.weight.detach().abs() * self.pre_rate.unsqueeze(0)

    @torch.no_grad()
    def prune(self, fraction: float, min_post_rate: float | None = None) -> Tensor:
        """Prune and return the new keep-mask; see the module docstring."""
        if not self._seen_pre:
            raise ValueError("no activity observed yet: run the model before prune()")
        mask = prune_mask(self.scores(), fraction, self.mask)
        if min_post_rate is not None:
            if not self._seen_post:
                raise ValueError("min_post_rate needs postsynaptic activity: call observe_post() first")
            mask &= (self.post_rate >= min_post_rate).unsqueeze(1)
        self.mask = mask
        self.apply_mask()
        return mask

    @torch.no_grad()
    def apply_mask(self) -> None:
        """Zero the pruned weights (call after optimiser steps that may have moved them)."""
        self.synapse.weight.mul_(self.mask.to(self.synapse.weight.dtype))

    def sparsity(self) -> float:
        """Fraction of pruned synapses."""
        return 1.0 - float(self.mask.float().mean())

    def remove(self) -> None:
        """Detach the hooks (the mask stays applied to the weights)."""
        self._hook.remove()
        self._grad_hook.remove()
