"""Learning strategies: how one batch becomes gradients, for the single training loop
(:func:`neuromorph.training.fit`) and for anyone who drives training by hand.

Every strategy computes the gradients of one batch into ``.grad`` (scaled by ``amp`` when mixed precision is
on) and returns ``(loss, scores)``; the loop then applies the optimizer. Outputs follow
:func:`neuromorph.metrics.scores`: ``[B, C]`` scores or per-step outputs ``[T, B, C]``.

* :class:`BPTT` — back-propagation through time over the fused multi-step kernels.
* :class:`Online` — eligibility traces (:mod:`neuromorph.learning.online`): no graph through time, memory
  independent of ``T``. Objective ``(1/T) sum_t loss(out_t, target)``; needs per-step outputs.
* :class:`ThreeFactor` — reward-modulated learning on the same traces: at every step an action (class) is
  sampled from ``softmax(out_t)``, the reward is ``r_t = 1[a_t = y]``, and the third factor
  ``r_t - b`` (``b``: running mean reward) multiplies the eligibility of ``log pi(a_t)``::

      dW = lr * (1/T) sum_t (r_t - b) * d log pi_t(a_t) / dW          (REINFORCE with a baseline)

>>> import torch
>>> from torch import nn
>>> from neuromorph import LIF, LeakyIntegrator
>>> model = nn.Sequential(nn.Linear(4, 8), LIF(), nn.Linear(8, 3), LeakyIntegrator())
>>> x, y = torch.rand(10, 2, 4), torch.tensor([0, 2])
>>> loss, score = Online(chunk=5).gradients(model, x, y)
>>> score.shape, model[0].weight.grad.shape
(torch.Size([2, 3]), torch.Size([8, 4]))
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Optional, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuromorph.learning.online import OnlineLearner
from neuromorph.metrics import is_per_step, loss_of, scores, sequence_loss
from neuromorph.neurons.base import reset, set_step_mode
from neuromorph.utils import check_positive_int, check_tensor

LossFn = Callable[[Tensor, Tensor], Tensor]


def _backward(loss: Tensor, amp: Any) -> None:
    (amp.scaler.scale(loss) if amp is not None else loss).backward()


def _autocast(amp: Any):
    return amp.autocast() if amp is not None else contextlib.nullcontext()


class Strategy:
    """Base class. ``gradients(net, x, y, loss_fn, amp, model)`` accumulates one batch's gradients.

    >>> isinstance(get_strategy("online"), Strategy), sorted(STRATEGIES)
    (True, ['bptt', 'online', 'three_factor'])
    """

    name = "strategy"

    def gradients(
        self,
        net: nn.Module,
        x: Tensor,
        y: Tensor,
        loss_fn: LossFn = F.cross_entropy,
        amp: Any = None,
        model: Optional[nn.Module] = None,
    ) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class BPTT(Strategy):
    """Back-propagation through time (the fused kernels' hand-written backward).

    >>> from neuromorph import LIF, LeakyIntegrator
    >>> model = nn.Sequential(nn.Linear(4, 8), LIF(), nn.Linear(8, 3), LeakyIntegrator())
    >>> loss, score = BPTT().gradients(model, torch.rand(5, 2, 4), torch.tensor([0, 2]))
    >>> score.shape, model[0].weight.grad is not None
    (torch.Size([2, 3]), True)
    """

    name = "bptt"

    def gradients(
        self,
        net: nn.Module,
        x: Tensor,
        y: Tensor,
        loss_fn: LossFn = F.cross_entropy,
        amp: Any = None,
        model: Optional[nn.Module] = None,
    ) -> tuple[Tensor, Tensor]:
        inner = model if model is not None else net
        reset(inner)
        with _autocast(amp):
            out = net(x)
        out = out.float() if amp is not None and amp.enabled else out
        loss = loss_of(loss_fn, out, y)
        _backward(loss, amp)
        reset(inner)
        return loss.detach(), scores(out.detach(), y) if not y.is_floating_point() else out.detach()


class Online(Strategy):
    """Online learning with eligibility traces over chunks of ``chunk`` steps (see the module docstring).

    Args:
        chunk: steps per chunk ``K``; memory grows with ``K``, never with ``T``.
        step_every: also call ``optimizer_step`` (given to :meth:`gradients`) after every this many steps: weight
            updates within a sequence (real-time learning); sets the chunk length.

    >>> from neuromorph import LIF, LeakyIntegrator
    >>> model = nn.Sequential(nn.Linear(4, 8), LIF(), nn.Linear(8, 3), LeakyIntegrator())
    >>> loss, score = Online(chunk=2).gradients(model, torch.rand(5, 2, 4), torch.tensor([0, 2]))
    >>> score.shape, model[0].weight.grad.shape
    (torch.Size([2, 3]), torch.Size([8, 4]))
    """

    name = "online"

    def __init__(self, chunk: int = 32, step_every: Optional[int] = None) -> None:
        self.chunk = check_positive_int("chunk", chunk)
        self.step_every = None if step_every is None else check_positive_int("step_every", step_every)
        if self.step_every is not None:
            self.chunk = self.step_every
        self.learner: Optional[OnlineLearner] = None
        self._model: Optional[nn.Module] = None

    def learner_for(self, model: nn.Module, sample: Tensor) -> OnlineLearner:
        """The learner of ``model`` (synapses found by dataflow on ``sample`` the first time)."""
        if self.learner is None or self._model is not model:
            self.learner, self._model = OnlineLearner(model, sample), model
        return self.learner

    def _chunk_losses(self, out: Tensor, y: Tensor, loss_fn: LossFn, steps: int) -> Tensor:
        return sequence_loss(loss_fn, out, y) / steps

    def gradients(
        self,
        net: nn.Module,
        x: Tensor,
        y: Tensor,
        loss_fn: LossFn = F.cross_entropy,
        amp: Any = None,
        model: Optional[nn.Module] = None,
        optimizer_step: Optional[Callable[[], None]] = None,
    ) -> tuple[Tensor, Tensor]:
        check_tensor("x", x, floating=True, finite=True)
        if x.dim() < 3:
            raise ValueError(
                f"online learning needs an input sequence x [T, B, ...], got shape {tuple(x.shape)}; "
                "encode static inputs first (e.g. neuromorph.encoding.direct_encode)"
            )
        inner = model if model is not None else net
        steps = x.shape[0]
        # equal chunks of at most `chunk` steps (T=100, chunk=32: 4 x 25 rather than 32+32+32+4)
        size = self.chunk if self.step_every is not None else -(-steps // -(-steps // self.chunk))
        learner = self.learner_for(inner, x[:size])
        total = x.new_zeros((), dtype=torch.float64)
        summed: Optional[Tensor] = None
        with learner:
            for start in range(0, steps, size):
                last = start + size >= steps
                sync = cast(Any, net).no_sync() if hasattr(net, "no_sync") and not last else contextlib.nullcontext()
                with sync:
                    with _autocast(amp):
                        out = net(x[start : start + size])
                    out = out.float() if amp is not None and amp.enabled else out
                    if not is_per_step(out, y):
                        raise ValueError(
                            f"online learning needs per-step outputs [K, B, ...] (got {tuple(out.shape)} "
                            f"for targets {tuple(y.shape)}); build the model with per-step output, "
                            "e.g. SpikingMLP(..., output='sequence')"
                        )
                    loss = self._chunk_losses(out, y, loss_fn, steps)
                    _backward(loss, amp)
                total += loss.detach().double()
                chunk_sum = out.detach().sum(0)
                summed = chunk_sum if summed is None else summed + chunk_sum
                if optimizer_step is not None and self.step_every is not None and not last:
                    optimizer_step()
        reset(inner)
        assert summed is not None  # steps >= 1
        mean_out = summed / steps
        return total.to(x.dtype), mean_out


class ThreeFactor(Online):
    """Reward-modulated (three-factor) learning on the online traces (see the module docstring).

    Args:
        chunk: steps per chunk.
        baseline_decay: the baseline ``b`` follows the mean reward with this decay per batch.
        generator: random source for the sampled actions (for reproducible runs).

    >>> from neuromorph import LIF, LeakyIntegrator
    >>> model = nn.Sequential(nn.Linear(4, 8), LIF(), nn.Linear(8, 3), LeakyIntegrator())
    >>> rule = ThreeFactor(chunk=5, generator=torch.Generator().manual_seed(0))
    >>> loss, score = rule.gradients(model, torch.rand(5, 2, 4), torch.tensor([0, 2]))
    >>> score.shape, model[2].weight.grad.shape
    (torch.Size([2, 3]), torch.Size([3, 8]))
    """

    name = "three_factor"

    def __init__(
        self, chunk: int = 32, baseline_decay: float = 0.9, generator: Optional[torch.Generator] = None
    ) -> None:
        super().__init__(chunk)
        if not 0.0 <= baseline_decay < 1.0:
            raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay!r}")
        self.baseline_decay = float(baseline_decay)
        self.baseline = 0.0
        self.generator = generator
        self.last_reward = 0.0

    def _chunk_losses(self, out: Tensor, y: Tensor, loss_fn: LossFn, steps: int) -> Tensor:
        if y.dtype != torch.int64 or out.dim() != 3:
            raise ValueError("three-factor learning is defined here for class labels y [B] and outputs [K, B, C]")
        with torch.no_grad():
            probs = torch.softmax(out.detach(), dim=-1)
            actions = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=self.generator)
            actions = actions.reshape(out.shape[:2])
            reward = (actions == y.unsqueeze(0)).to(out.dtype)
            advantage = reward - self.baseline
            self.last_reward = float(reward.mean())
            self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * self.last_reward
        log_pi = torch.log_softmax(out, dim=-1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return -(advantage * log_pi).mean(1).sum() / steps


STRATEGIES: dict[str, Callable[[], Strategy]] = {"bptt": BPTT, "online": Online, "three_factor": ThreeFactor}


def get_strategy(spec: str | Strategy) -> Strategy:
    """A strategy instance from a name in :data:`STRATEGIES` or an instance.

    >>> get_strategy("bptt"), get_strategy(Online(chunk=4)).chunk
    (BPTT(), 4)
    """
    if isinstance(spec, Strategy):
        return spec
    if spec not in STRATEGIES:
        raise ValueError(f"strategy must be one of {sorted(STRATEGIES)} or a Strategy, got {spec!r}")
    return STRATEGIES[spec]()


def predict(model: nn.Module, x: Tensor) -> Tensor:
    """Model outputs for ``x`` in multi-step mode without a graph; the state is reset before and after.

    >>> from neuromorph import LIF
    >>> model = nn.Sequential(nn.Linear(3, 2), LIF())
    >>> out = predict(model, torch.rand(4, 1, 3))
    >>> out.shape, out.requires_grad, model[1].state is None
    (torch.Size([4, 1, 2]), False, True)
    """
    set_step_mode(model, "multi")
    reset(model)
    with torch.no_grad():
        out = model(x)
    reset(model)
    return out
