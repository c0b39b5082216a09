"""The neuron protocol: what every neuron layer declares, so that learning, models and export need no
knowledge of neuron types.

A neuron lives in one file (``lif.py``, ``adaptive.py``, ...) that defines

* ``Params`` and ``State`` NamedTuples (flat: every field a tensor, or a plain setting such as the reset);
* a pure step ``step(x, state, params, surrogate) -> (out, new_state)`` (plain autograd);
* its fused sequence ``sequence(x_seq, state, params, surrogate) -> (out_seq, final_state)``;
* its forward-mode eligibility rule ``online_step(x, state, params, surrogate, traces, learn) -> OnlineStep``
  (hand-written, no autograd; see below);
* a thin :class:`Neuron` subclass that binds them, creates its parameters and names its input filter
  (:meth:`Neuron.input_decays`),

and one line in :mod:`neuromorph.neurons.registry`.

**Eligibility rule.** Write ``u_t`` for the quantity whose (surrogate) step gives the output (``v_pre - theta``
for spiking neurons, the membrane itself for integrators), ``h_t`` for the state after the step and ``p`` for a
learnable parameter. With the output held constant in the temporal recursion (as in e-prop and OTTT), the
eligibility trace ``e^{h,p}_t = d h_t / d p`` follows the leak paths only, and the rule returns for one step

    d_out = d out_t / d u_t                        (surrogate derivative; None means 1)
    du_dp[p] = d u_t / d p  (using e^{., p}_{t-1})
    traces[p][field] = e^{field, p}_t             (None means zero)

so that the online gradient of a loss ``L_t(out_t)`` is ``dL/dp += sum (dL_t/dout_t * d_out * du_dp[p])``
summed over the broadcast dimensions of ``p``. The input current enters ``u`` through a cascade of first-order
filters with decays :meth:`Neuron.input_decays`, which is what presynaptic traces of the synapses follow.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, NamedTuple, Optional, cast

import torch
from torch import Tensor

from neuromorph.neurons.base import SpikingModule
from neuromorph.surrogate import Surrogate

Traces = dict[str, dict[str, Optional[Tensor]]]


class OnlineStep(NamedTuple):
    """Result of a neuron's eligibility rule for one step (see the module docstring).

    >>> step = OnlineStep(torch.ones(1), None, None, {}, {})
    >>> step.out.tolist(), step.d_out
    ([1.0], None)
    """

    out: Tensor
    state: Any
    d_out: Optional[Tensor]
    du_dp: dict[str, Tensor]
    traces: Traces


StepFn = Callable[[Tensor, Any, Any, Surrogate], tuple[Tensor, Any]]
OnlineStepFn = Callable[[Tensor, Any, Any, Surrogate, Traces, tuple[str, ...]], OnlineStep]


class Neuron(SpikingModule):
    """Base of every registered neuron layer. Subclasses set the class attributes below and implement
    :meth:`params` and :meth:`init_state`.

    Class attributes:
        Params, State: the NamedTuple types.
        step, sequence, online_step: the pure functions of the neuron's file (``staticmethod``).
        spiking: True when the output is a spike train (False for non-spiking readouts).
        learnable: names of the ``Params`` fields that can be learned (they are tensors); the constructor takes
            ``learn_<name>`` flags for them and ``num_neurons`` for per-neuron values.
        online_exact: constructor arguments of a configuration in which online learning of a single synaptic
            layer into this neuron is exact (equals BPTT), or None when there is none. Used by the conformance
            tests.

    >>> from neuromorph import LIF
    >>> issubclass(LIF, Neuron), LIF.spiking, LIF.learnable
    (True, True, ('beta', 'threshold'))
    """

    Params: ClassVar[type]
    State: ClassVar[type]
    # staticmethods of the neuron's pure functions (typed as such: a plain Callable would be bound as a method)
    step: ClassVar[staticmethod[[Tensor, Any, Any, Surrogate], tuple[Tensor, Any]]]
    sequence: ClassVar[staticmethod[[Tensor, Any, Any, Surrogate], tuple[Tensor, Any]]]
    online_step: ClassVar[staticmethod[[Tensor, Any, Any, Surrogate, Traces, tuple[str, ...]], OnlineStep]]
    spiking: ClassVar[bool] = True
    learnable: ClassVar[tuple[str, ...]] = ()
    online_exact: ClassVar[Optional[dict[str, Any]]] = None
    surrogate: Surrogate

    def params(self) -> Any:  # pragma: no cover - abstract
        """Current (parametrised, differentiable) parameters as a ``Params`` tuple."""
        raise NotImplementedError

    def input_decays(self) -> tuple[float, ...]:
        """Decays of the linear filter cascade from the input current to ``u`` (mean over neurons when per
        neuron). Presynaptic traces follow the same cascade."""
        raise NotImplementedError  # pragma: no cover - abstract

    def check_online(self) -> None:
        """Raise a ``ValueError`` when this configuration cannot learn online (default: always can)."""

    # the layer runs on its own pure functions
    def forward_single(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:
        return type(self).step(x, state, self.params(), self.surrogate)

    def forward_multi(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:
        return type(self).sequence(x, state, self.params(), self.surrogate)

    def online_sequence(
        self, x_seq: Tensor, state: Any, traces: Traces, learn: tuple[str, ...]
    ) -> tuple[Tensor, Any, Optional[Tensor], dict[str, Tensor], Traces]:
        """Run the eligibility rule over ``x_seq [K, ...]`` without autograd; returns
        ``(out [K, ...], final state, d_out [K, ...] or None, du_dp {p: [K, ...]}, traces)``.

        Neurons with a fused kernel override this for the case ``learn == ()``.
        """
        params = self.params()
        rule = type(self).online_step
        outs, d_outs = [], []
        du: dict[str, list[Tensor]] = {p: [] for p in learn}
        with torch.no_grad():
            for t in range(x_seq.shape[0]):
                res = rule(x_seq[t], state, params, self.surrogate, traces, learn)
                state, traces = res.state, res.traces
                outs.append(res.out)
                d_outs.append(res.d_out)
                for p in learn:
                    du[p].append(res.du_dp[p])
        d_out = None if d_outs[0] is None else torch.stack(cast(list[Tensor], d_outs))  # all or none are None
        return torch.stack(outs), state, d_out, {p: torch.stack(v) for p, v in du.items()}, traces


def zero_state_like(like: Tensor, n_fields: int) -> list[Tensor]:
    """``n_fields`` broadcast zeros shaped like ``like`` (no memory until a step writes a real value).

    >>> v, a = zero_state_like(torch.ones(2, 3), 2)
    >>> v.shape, v.sum().item()
    (torch.Size([2, 3]), 0.0)
    """
    zero = like.new_zeros(()).expand(like.shape)
    return [zero] * n_fields


def trace(traces: Traces, p: str, field: str) -> Optional[Tensor]:
    """``e^{field, p}`` from a trace dict (None = zero).

    >>> traces = {"beta": {"v": torch.tensor(1.0)}}
    >>> trace(traces, "beta", "v").item(), trace(traces, "threshold", "v")
    (1.0, None)
    """
    return traces.get(p, {}).get(field)


def plus(a: Optional[Tensor], b: Optional[Tensor]) -> Optional[Tensor]:
    """``a + b`` where ``None`` stands for zero.

    >>> plus(None, torch.tensor(2.0)).item(), plus(None, None)
    (2.0, None)
    """
    if a is None:
        return b
    return a if b is None else a + b


def times(a: Optional[Tensor], b: Tensor | float) -> Optional[Tensor]:
    """``a * b`` where ``None`` stands for zero.

    >>> times(torch.tensor(2.0), 3).item(), times(None, 3)
    (6.0, None)
    """
    return None if a is None else a * b
