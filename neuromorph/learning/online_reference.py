"""Reference implementation of online learning: one autograd graph per time step (tests only).

:mod:`neuromorph.learning.online` computes the same gradients without an autograd graph through time and is
tested against this module, which follows the definitions literally. Do not use it for training: it is slow.

Original description (the algorithm is the same in both modules):

Online mode runs the model one time step at a time (``step_mode="single"``). At every step

1. each LIF-family layer starts from its state **detached** from the graph, with its eligibility traces
   re-attached as gradient-only terms (forward value unchanged)::

       h'_{t-1} = h_{t-1} + sum_p e^{h,p}_{t-1} (p - stopgrad(p))        (so d h'_{t-1} / d p = e^{h,p}_{t-1})

2. each affine synapse (``nn.Linear``, ``nn.Conv*``) feeding such a layer computes the ordinary output
   ``I_t = W x_t + b`` but routes the weight gradient through its presynaptic trace::

       dL/dx_t = W^T dL/dI_t   (learning signal to the layer below, current step only, as in OTTT)
       dL/dW  += dL/dI_t x_hat_t^T,    dL/db += c_hat_t sum dL/dI_t

3. the loss of this step is back-propagated through this step's graph only, accumulating into ``.grad``;
   the graph is then discarded. Traces are updated by :mod:`neuromorph.learning.traces`.

The traces follow only the leak paths through time (spikes held constant in the temporal recursion), so
the online gradient equals ``sum_t dL_t/dtheta`` of exact BPTT whenever the leak is the only temporal path:
a single layer (no learning signal through deeper layers' time) with ``reset="none"``, or
``reset="subtract"`` with ``detach_reset=True`` (then ``d v_t / d v_{t-1} = beta`` exactly), with scalar
synaptic decays. Otherwise it is the OTTT / e-prop approximation: deeper layers receive the learning signal
of the current step only, and reset/spike paths through time are ignored.

Memory is ``O(parameters + B * (inputs + neurons))`` per layer and does not grow with ``T``: the state, one
presynaptic trace per synapse filter stage (``[B, in]``) and one ``[B, N]`` trace per learnable neuron
parameter and state component. Shared parameters accumulate their contributions in ``.grad``; a synapse
module used several times per step keeps one trace per use (uses are matched to pairs in call order).

The same model trains with BPTT by the ``mode`` switch of :class:`OnlineTrainer` (``"bptt"`` runs the
fused multi-step kernels and back-propagates through all ``T`` steps) with the same objective
``L = (1/T) sum_t loss_fn(out_t, target)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from neuromorph.neurons import Neuron, SpikingModule, reset, set_step_mode
from neuromorph.surrogate import Surrogate
from neuromorph.utils import check_tensor

NEURON_TYPES = (Neuron,)
MODES = ("online", "bptt")


class HardStep(Surrogate):
    """Heaviside without any gradient: spikes are constants in the trace recursion.

    >>> x = torch.tensor([-0.5, 0.5])
    >>> HardStep()(x).tolist(), HardStep().derivative(x).tolist()
    ([0.0, 1.0], [0.0, 0.0])
    """

    def derivative(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x)

    def __call__(self, x: Tensor) -> Tensor:
        return (x >= 0).to(x.dtype)


HARD_STEP = HardStep()


def kernel_and_params(layer: Neuron) -> tuple[Any, Any]:
    """The pure step of a neuron layer and its current parameters (from the neuron protocol).

    >>> from neuromorph import LIF
    >>> step, params = kernel_and_params(LIF(beta=0.5))
    >>> step.__name__, round(float(params.beta), 3)
    ('lif_step', 0.5)
    """
    layer.check_online()
    return type(layer).step, layer.params()


def learnable_leaves(params: Any) -> list[tuple[str, Tensor]]:
    """The parameter fields that require gradients (these get eligibility traces).

    >>> from neuromorph import LIF
    >>> [name for name, _ in learnable_leaves(LIF(learn_beta=True).params())]
    ['beta']
    """
    return [(n, p) for n, p in zip(params._fields, params) if isinstance(p, Tensor) and p.requires_grad]


def state_tensors(state: Any) -> list[int]:
    """Indices of the tensor fields of a state NamedTuple.

    >>> from neuromorph.neurons import LIFState
    >>> state_tensors(LIFState(torch.zeros(2)))      # last_spikes is None
    [0]
    """
    return [i for i, s in enumerate(state) if isinstance(s, Tensor)]


def trace_step(
    kernel: Any, x: Tensor, state: Any, params: Any, traces: dict[str, list[Tensor | None]]
) -> dict[str, list[Tensor | None]]:
    """One step of ``d state[k] / d p`` (spikes constant) for every learnable field ``p``, by autograd of one
    step of the pure kernel with every parameter broadcast to the state shape (elementwise neurons).

    >>> from neuromorph import LIF
    >>> layer = LIF(beta=0.5, learn_beta=True, reset="none")
    >>> step, params = kernel_and_params(layer)
    >>> traces = trace_step(step, torch.ones(1), layer.init_state(torch.ones(1)), params, {})
    >>> traces["beta"][0].tolist()      # d v_1 / d beta = v_0 = 0
    [0.0]
    """
    names = [n for n, _ in learnable_leaves(params)]
    idx = state_tensors(state)
    shape = state[idx[0]].shape
    with torch.enable_grad():
        fields = list(state)
        inputs = []
        for k in idx:
            fields[k] = state[k].detach().clone().requires_grad_(True)
            inputs.append(fields[k])
        values = {n: p.detach() for n, p in zip(params._fields, params) if isinstance(p, Tensor)}
        expanded = {n: values[n].expand(shape).clone().requires_grad_(True) for n in names}
        plain = params._replace(**{**values, **expanded})
        _, new_state = kernel(x.detach(), type(state)(*fields), plain, HARD_STEP)
        params_list = [expanded[n] for n in names]
        out: dict[str, list[Tensor | None]] = {n: [None] * len(state) for n in names}
        for k in idx:
            h = new_state[k]
            if not isinstance(h, Tensor) or not h.requires_grad:
                for n in names:
                    out[n][k] = torch.zeros(shape, dtype=state[k].dtype, device=state[k].device)
                continue
            grads = torch.autograd.grad(h.sum(), inputs + params_list, allow_unused=True, retain_graph=True)
            d_state, d_param = grads[: len(inputs)], grads[len(inputs) :]
            for n, g_p in zip(names, d_param):
                e = torch.zeros_like(h) if g_p is None else g_p.detach().clone()
                previous = traces.get(n)
                if previous is not None:
                    for j, g_s in zip(idx, d_state):
                        prev = previous[j]
                        if g_s is not None and prev is not None:
                            e = e + g_s.detach() * prev
                out[n][k] = e.detach()
    return out


class _TracedLinear(torch.autograd.Function):
    """``F.linear(x, W, b)`` whose weight/bias gradients use the presynaptic traces."""

    @staticmethod
    def forward(
        ctx,
        x: Tensor,
        x_hat: Tensor,
        c_hat: float,
        weight: Tensor,  # type: ignore[override]
        bias: Tensor | None,
    ) -> Tensor:
        ctx.save_for_backward(x_hat, weight)
        ctx.c_hat, ctx.has_bias = c_hat, bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        x_hat, weight = ctx.saved_tensors
        gx = g @ weight if ctx.needs_input_grad[0] else None
        g2 = g.reshape(-1, g.shape[-1])
        gw = g2.t() @ x_hat.reshape(-1, x_hat.shape[-1]) if ctx.needs_input_grad[3] else None
        gb = g2.sum(0) * ctx.c_hat if ctx.has_bias and ctx.needs_input_grad[4] else None
        return gx, None, None, gw, gb


def _grad_only(z: Tensor) -> Tensor:
    """Zero in value, ``z``'s gradient in backward."""
    return z - z.detach()


def traced_affine(module: nn.Module, x: Tensor, x_hat: Tensor, c_hat: float) -> Tensor:
    """Output of an affine ``module`` at ``x`` with parameter gradients taken at the traces.

    ``module`` must be affine in its input (``f(x) = A x + b``). For ``nn.Linear`` a fused autograd Function
    is used; otherwise ``f(x; stopgrad(theta)) + g(f(x_hat; theta) - f(0; theta)) + c_hat g(f(0; theta))``
    with ``g(z) = z - stopgrad(z)``.

    >>> fc = nn.Linear(2, 1)
    >>> x, x_hat = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 2.0]])
    >>> out = traced_affine(fc, x, x_hat, c_hat=1.0)
    >>> out.sum().backward()
    >>> torch.allclose(out, fc(x)), fc.weight.grad.tolist()     # value at x, weight gradient at x_hat
    (True, [[0.5, 2.0]])
    """
    if isinstance(module, nn.Linear):
        return _TracedLinear.apply(x, x_hat, c_hat, module.weight, module.bias)
    patched = module.__dict__.pop("forward", None)  # call the module's own forward, not the online wrapper
    try:
        params: dict[str, Tensor] = dict(module.named_parameters())
        frozen = {k: v.detach() for k, v in params.items()}
        out = functional_call(module, frozen, (x,))
        zero = functional_call(module, params, (torch.zeros_like(x[:1]),))
        lin = functional_call(module, params, (x_hat,)) - zero
    finally:
        if patched is not None:
            module.forward = patched
    return out + _grad_only(lin) + c_hat * _grad_only(zero)


@dataclass
class _SynapseTrace:
    neuron: Neuron
    x_hat: list[Tensor | None] = field(default_factory=list)
    c_hat: list[float] = field(default_factory=list)

    def update(self, x: Tensor) -> tuple[Tensor, float]:
        decays = self.neuron.input_decays()
        if len(self.x_hat) != len(decays):
            self.x_hat, self.c_hat = [None] * len(decays), [0.0] * len(decays)
        z, c = x.detach(), 1.0
        for k, lam in enumerate(decays):
            prev = self.x_hat[k]
            if prev is not None and prev.shape != z.shape:
                raise ValueError(
                    f"synapse input shape changed from {tuple(prev.shape)} to {tuple(z.shape)} "
                    "without OnlineLearner.reset()"
                )
            z = z if prev is None else lam * prev + z
            c = lam * self.c_hat[k] + c
            self.x_hat[k], self.c_hat[k] = z, c
        return z, c


class OnlineLearner:
    """Puts ``model`` into online-learning mode (a context manager; see the module docstring).

    Inside ``with OnlineLearner(model) as learner:`` every LIF-family layer runs in single-step mode with a
    detached state plus eligibility traces, and the paired synapses use presynaptic traces for their weight
    gradients. Call ``model(x_t)`` once per step and ``loss_t.backward()`` after each step; call
    :meth:`reset` between independent sequences. Leaving the context restores the step modes.

    Args:
        model: any module containing :class:`~neuromorph.LIF`, :class:`~neuromorph.ALIF`,
            :class:`~neuromorph.SynapticLIF` or :class:`~neuromorph.LeakyIntegrator` layers.
        synapses: explicit ``(affine module, neuron layer)`` pairs; default :func:`find_synapses`. An
            affine module not listed gets the plain per-step gradient (exact when it has no temporal state
            downstream, e.g. a readout Linear whose output is the loss input).

    >>> from neuromorph import LIF
    >>> model = nn.Sequential(nn.Linear(3, 2), LIF())
    >>> with OnlineLearner(model, synapses=[(model[0], model[1])]):
    ...     for t in range(4):
    ...         model(torch.ones(1, 3)).sum().backward()
    >>> model[0].weight.grad.shape
    torch.Size([2, 3])
    """

    def __init__(self, model: nn.Module, synapses: Sequence[tuple[nn.Module, Neuron]] | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.neurons = [m for m in model.modules() if isinstance(m, NEURON_TYPES)]
        unsupported = [
            type(m).__name__
            for m in model.modules()
            if isinstance(m, SpikingModule) and not isinstance(m, NEURON_TYPES)
        ]
        if unsupported:
            raise TypeError(f"model contains spiking layers without eligibility traces: {unsupported}")
        if not self.neurons:
            raise ValueError("model must contain at least one LIF, ALIF, SynapticLIF or LeakyIntegrator layer")
        for layer in self.neurons:
            kernel_and_params(layer)  # validates (e.g. rejects LIF(delay=True))
        if synapses is None:
            from neuromorph.learning.online import find_synapses

            raise ValueError(
                "the reference learner needs explicit synapses; get them with "
                f"{find_synapses.__module__}.find_synapses(model, x_seq)"
            )
        pairs = list(synapses)
        for i, pair in enumerate(pairs):
            if not (
                isinstance(pair, tuple)
                and len(pair) == 2
                and isinstance(pair[0], nn.Module)
                and isinstance(pair[1], NEURON_TYPES)
            ):
                raise TypeError(f"synapses[{i}] must be a (nn.Module, neuron layer) pair, got {pair!r}")
        self.uses: dict[nn.Module, list[_SynapseTrace]] = {}
        for syn, neuron in pairs:
            self.uses.setdefault(syn, []).append(_SynapseTrace(neuron))
        self._calls: dict[nn.Module, int] = {}
        self._neuron_traces: dict[nn.Module, dict[str, list[Tensor | None]]] = {}
        self._saved_modes: dict[SpikingModule, str] = {}
        self._active = False

    # -- context ---------------------------------------------------------------------------------
    def __enter__(self) -> "OnlineLearner":
        self._saved_modes = {m: m.step_mode for m in self.model.modules() if isinstance(m, SpikingModule)}
        set_step_mode(self.model, "single")
        for layer in self.neurons:
            layer.forward_single = self._make_neuron_forward(layer)  # type: ignore[method-assign,assignment]
        for syn in self.uses:
            syn.forward = self._make_synapse_forward(syn)  # type: ignore[method-assign]
        self._active = True
        self.reset()
        return self

    def __exit__(self, *exc: Any) -> None:
        for layer in self.neurons:
            layer.__dict__.pop("forward_single", None)
        for syn in self.uses:
            syn.__dict__.pop("forward", None)
        for module, mode in self._saved_modes.items():
            module.step_mode = mode
            module.reset()
        self._active = False

    def reset(self) -> None:
        """Clear every layer state and all traces (start of a new, independent sequence)."""
        reset(self.model)
        self._neuron_traces = {}
        self._calls = {}
        for synapse_traces in self.uses.values():
            for tr in synapse_traces:
                tr.x_hat, tr.c_hat = [], []

    def trace_bytes(self) -> int:
        """Bytes held by the eligibility traces right now."""
        total = 0
        for per_layer in self._neuron_traces.values():
            for traces in per_layer.values():
                total += sum(t.numel() * t.element_size() for t in traces if t is not None)
        for synapse_traces in self.uses.values():
            for tr in synapse_traces:
                total += sum(t.numel() * t.element_size() for t in tr.x_hat if t is not None)
        return total

    # -- wrappers --------------------------------------------------------------------------------
    def _make_neuron_forward(self, layer: Neuron) -> Callable[[Tensor, Any], tuple[Tensor, Any]]:
        def forward_single(x: Tensor, state: Any) -> tuple[Tensor, Any]:
            kernel, params = kernel_and_params(layer)
            leaves = learnable_leaves(params)
            idx = state_tensors(state)
            traces = self._neuron_traces.setdefault(layer, {})
            fields = [s.detach() if isinstance(s, Tensor) else s for s in state]
            plain_state = type(state)(*fields)
            for name, p in leaves:
                per_state = traces.get(name)
                if per_state is None:
                    continue
                for k in idx:
                    e_k = per_state[k]
                    if e_k is not None:
                        fields[k] = fields[k] + e_k * (p - p.detach())
            out, new_state = kernel(x, type(state)(*fields), params, layer.surrogate)
            if leaves:
                self._neuron_traces[layer] = trace_step(kernel, x, plain_state, params, traces)
            new_state = type(new_state)(*(s.detach() if isinstance(s, Tensor) else s for s in new_state))
            return out, new_state

        return forward_single

    def _make_synapse_forward(self, syn: nn.Module) -> Callable[[Tensor], Tensor]:
        uses = self.uses[syn]

        def forward(x: Tensor) -> Tensor:
            count = self._calls.get(syn, 0)
            self._calls[syn] = count + 1
            x_hat, c_hat = uses[count % len(uses)].update(x)
            return traced_affine(syn, x, x_hat, c_hat)

        return forward


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


class OnlineTrainer:
    """Train one model either online (eligibility traces, memory independent of ``T``) or with BPTT.

    Objective in both modes: ``L = (1/T) sum_t loss_fn(model(x)_t, target)``.

    Args:
        model: maps ``[T, B, ...] -> [T, B, ...]`` in multi-step mode and ``[B, ...] -> [B, ...]`` in single.
        optimizer: a ``torch.optim`` optimizer over the model parameters.
        loss_fn: per-step loss ``loss_fn(out_t, target) -> scalar`` (default cross-entropy).
        mode: ``"online"`` or ``"bptt"`` (can be changed later via ``trainer.mode``).
        update_every: online mode only: also apply the optimizer every this many steps (real-time learning);
            ``None`` updates once per sequence like BPTT.
        synapses: see :class:`OnlineLearner`.

    >>> from neuromorph import LIF, LeakyIntegrator
    >>> model = nn.Sequential(nn.Linear(3, 4), LIF(), nn.Linear(4, 2), LeakyIntegrator())
    >>> synapses = [(model[0], model[1]), (model[2], model[3])]
    >>> trainer = OnlineTrainer(model, torch.optim.SGD(model.parameters(), lr=0.1), synapses=synapses)
    >>> loss = trainer.train_batch(torch.rand(3, 2, 3), torch.tensor([0, 1]))
    >>> loss > 0, trainer.predict(torch.rand(3, 2, 3)).shape
    (True, torch.Size([3, 2, 2]))
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
        mode: str = "online",
        update_every: int | None = None,
        synapses: Sequence[tuple[nn.Module, Neuron]] | None = None,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if update_every is not None and (
            not isinstance(update_every, int) or isinstance(update_every, bool) or update_every < 1
        ):
            raise ValueError(f"update_every must be None or a positive int, got {update_every!r}")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn if loss_fn is not None else F.cross_entropy
        self.mode = _check_mode(mode)
        self.update_every = update_every
        self.learner = OnlineLearner(model, synapses)

    def compute_gradients(self, x_seq: Tensor, target: Tensor) -> float:
        """Zero the gradients and accumulate ``dL/dtheta`` of one batch into ``.grad``; return ``L``."""
        check_tensor("x_seq", x_seq, floating=True)
        if x_seq.dim() < 3:
            raise ValueError(f"x_seq must be [T, B, ...] with at least 3 dims, got shape {tuple(x_seq.shape)}")
        _check_mode(self.mode)
        self.optimizer.zero_grad(set_to_none=True)
        steps = x_seq.shape[0]
        if self.mode == "bptt":
            set_step_mode(self.model, "multi")
            out = self.model(x_seq)
            loss = cast(Tensor, sum(self.loss_fn(out[t], target) for t in range(steps))) / steps
            loss.backward()
            reset(self.model)
            return float(loss.detach())
        total = 0.0
        with self.learner:
            for t in range(steps):
                loss_t = self.loss_fn(self.model(x_seq[t]), target) / steps
                loss_t.backward()
                total += float(loss_t.detach())
                if self.update_every is not None and (t + 1) % self.update_every == 0 and t + 1 < steps:
                    self.optimizer.step()
                    self.optimizer.zero_grad(set_to_none=True)
        return total

    def train_batch(self, x_seq: Tensor, target: Tensor) -> float:
        """One optimiser update (several with ``update_every``) on a batch; returns the loss."""
        self.model.train()
        loss = self.compute_gradients(x_seq, target)
        self.optimizer.step()
        return loss

    @torch.no_grad()
    def predict(self, x_seq: Tensor) -> Tensor:
        """Model outputs ``[T, B, ...]`` for ``x_seq`` (multi-step, no graph); state is reset before/after."""
        check_tensor("x_seq", x_seq, floating=True)
        self.model.eval()
        set_step_mode(self.model, "multi")
        out = self.model(x_seq)
        reset(self.model)
        return out
