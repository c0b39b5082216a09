"""Online learning with eligibility traces (OTTT / e-prop family) for any model, without an autograd graph
through time.

**The gradient.** For a loss ``L = sum_t L_t(out_t)`` every neuron layer learns from the *current* step's
learning signal, and temporal credit is carried forward by eligibility traces instead of backward through
time. With ``g_t = dL_t/d out_t`` arriving at a neuron layer whose state is held fixed (detached):

    neuron input:      dL/dI_t   = g_t * d_out_t             (d_out = surrogate'(u_t); 1 for integrators)
    neuron parameter:  dL/dp    += sum g_t * d_out_t * du_t/dp     (the neuron's hand-written eligibility rule)
    synapse I = A(W) x + b:  dL/dW += (dL/dI_t) x_hat_t^T,   dL/db += c_hat_t sum dL/dI_t,   dL/dx_t = A^T dL/dI_t
    x_hat: the presynaptic input pushed through the neuron's input filter cascade (decays
           ``neuron.input_decays()``): z0_t = x_t, zk_t = lambda_k zk_{t-1} + z(k-1)_t; c_hat the same driven by 1.

This equals exact BPTT whenever the leak is the only temporal path: one synaptic layer into a neuron with
``reset="none"`` or a detached reset (``detach_reset=True``), scalar decays; elsewhere it is the OTTT / e-prop
approximation (deeper layers get the learning signal of the current step only; spike and reset paths through
time are dropped). ``tests/learning`` checks it against :mod:`neuromorph.learning.online_reference` (one
autograd graph per step, the definition) in every case and against BPTT in the exact ones, in float64.

**No graph through time.** The model runs in chunks of ``K`` steps (``[K, B, ...]``, multi-step mode). Each
neuron layer runs its ``online_sequence`` (the fused kernel when no neuron parameter is learned, else its
eligibility rule) under ``torch.no_grad``, and each synapse keeps its presynaptic traces, both carried from
chunk to chunk; the Functions below hand autograd only *instantaneous* derivatives, so the backward pass of a
chunk is one spatial pass over ``K * B`` rows with no temporal recursion. Memory is
``O(parameters + K * B * units)``, independent of the sequence length ``T`` (``K = 1`` is fully streaming).

**Which module is a synapse.** :func:`find_synapses` follows the real dataflow of one forward pass (the
autograd graph of the recorded call): a module with parameters whose output reaches a neuron's input
unchanged or only reshaped is that neuron's synapse. Everything else that would need a gradient through time
raises a ``ValueError`` naming the module: a parameter used by a plain function, BatchNorm or Dropout between
a synapse and its neuron, or a parametrised module feeding a synapse without a neuron in between. Modules with
parameters downstream of every neuron (readouts) get their exact per-step gradient.

>>> import torch
>>> from torch import nn
>>> from neuromorph import LIF, LeakyIntegrator
>>> model = nn.Sequential(nn.Linear(4, 8), LIF(), nn.Linear(8, 2), LeakyIntegrator())
>>> x = torch.rand(20, 3, 4)
>>> [type(s).__name__ + "->" + type(n).__name__ for s, n in find_synapses(model, x)]
['Linear->LIF', 'Linear->LeakyIntegrator']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuromorph.neurons import Neuron, SpikingModule, reset, set_step_mode
from neuromorph.neurons._reduce import reduce_to
from neuromorph.neurons.integrator import leaky_filter
from neuromorph.utils import check_tensor

SYNAPSE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
# autograd nodes that only move values around: a synapse may reach its neuron through them
_SHAPE_OPS = frozenset(
    {
        "ViewBackward0",
        "ReshapeAliasBackward0",
        "UnsafeViewBackward0",
        "PermuteBackward0",
        "TransposeBackward0",
        "CloneBackward0",
        "SqueezeBackward0",
        "SqueezeBackward1",
        "UnsqueezeBackward0",
        "ContiguousBackward0",
        "AliasBackward0",
    }
)


# ------------------------------------------------------------------------------------------- dataflow
def _module_names(model: nn.Module) -> dict[nn.Module, str]:
    return {m: (name or type(model).__name__) for name, m in model.named_modules()}


def _has_own_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False))


def find_synapses(model: nn.Module, sample: Tensor) -> list[tuple[nn.Module, Neuron]]:
    """``(synapse, neuron)`` pairs of ``model``, found from the dataflow of one multi-step forward pass on
    ``sample [K, B, ...]`` (the model's state is reset before and after). Raises a ``ValueError`` naming the
    module wherever a parameter would need a gradient through time that traces cannot carry (see the module
    docstring).

    >>> from torch import nn
    >>> from neuromorph import LIF
    >>> model = nn.Sequential(nn.Linear(4, 8), LIF(), nn.Linear(8, 2), LIF())
    >>> [(type(s).__name__, s.out_features) for s, _ in find_synapses(model, torch.rand(2, 3, 4))]
    [('Linear', 8), ('Linear', 2)]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_tensor("sample", sample, floating=True)
    names = _module_names(model)
    param_owner = {p: names[m] for m in model.modules() for p in m.parameters(recurse=False)}
    produced_by: dict[Any, nn.Module] = {}  # autograd node of a module output -> module
    neuron_nodes: set[Any] = set()
    neuron_inputs: list[tuple[Neuron, Tensor]] = []
    module_inputs: dict[nn.Module, list[Tensor]] = {}
    keep: list[Tensor] = []  # keeps the recorded tensors (and their nodes) alive

    def hook(module: nn.Module, args: tuple, out: Any) -> None:
        if not isinstance(out, Tensor):
            return
        keep.append(out)
        if isinstance(module, Neuron):
            if out.grad_fn is not None:
                neuron_nodes.add(out.grad_fn)
            if args and isinstance(args[0], Tensor):
                neuron_inputs.append((module, args[0]))
        elif _has_own_params(module) and out.grad_fn is not None:
            produced_by.setdefault(out.grad_fn, module)
            if args and isinstance(args[0], Tensor):
                module_inputs.setdefault(module, []).append(args[0])

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    modes = {m: m.step_mode for m in model.modules() if isinstance(m, SpikingModule)}
    try:
        set_step_mode(model, "multi")
        with torch.enable_grad():
            try:
                model(sample)
            except (RuntimeError, ValueError, TypeError) as err:
                raise ValueError(
                    f"model(sample) failed while finding the synapses ({type(err).__name__}: {err}); "
                    f"sample must be one chunk [K, B, ...] of the model's input, got shape "
                    f"{tuple(sample.shape)}"
                ) from err
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.step_mode = mode
        reset(model)

    def reached(start: Tensor, consumer: str) -> Iterator[tuple[nn.Module, list[str]]]:
        """Parametrised modules whose outputs reach ``start`` without crossing a neuron, with the
        non-shape ops on the way; raises on a parameter used outside any module."""
        if start.grad_fn is None:
            return
        stack: list[tuple[Any, list[str]]] = [(start.grad_fn, [])]
        seen: set[Any] = set()
        while stack:
            node, ops = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            if node in neuron_nodes:
                continue
            if node in produced_by:
                yield produced_by[node], ops
                continue
            variable = getattr(node, "variable", None)
            if variable is not None:
                if variable in param_owner:
                    raise ValueError(
                        f"parameter of module {param_owner[variable]!r} reaches {consumer} through a plain function "
                        "call, not through a module call: online learning cannot pair it with a neuron. Use it via "
                        "a module (e.g. nn.Linear) whose output feeds the neuron"
                    )
                continue
            name = type(node).__name__
            step_ops = ops if name in _SHAPE_OPS else ops + [name]
            stack.extend((child, step_ops) for child, _ in node.next_functions)

    pairs: list[tuple[nn.Module, Neuron]] = []
    for neuron, x in neuron_inputs:
        consumer = f"neuron {names[neuron]!r} ({type(neuron).__name__})"
        for module, ops in reached(x, consumer):
            what = f"module {names[module]!r} ({type(module).__name__})"
            if ops:
                raise ValueError(
                    f"{what} feeds {consumer} through {sorted(set(ops))}: presynaptic traces can carry "
                    "its weight gradient through time only when its output reaches the neuron "
                    "unchanged (e.g. move Dropout/BatchNorm before the synapse or drop it)"
                )
            if not isinstance(module, SYNAPSE_TYPES):
                raise ValueError(
                    f"{what} has parameters and feeds {consumer}; online learning supports affine "
                    f"synapses {[t.__name__ for t in SYNAPSE_TYPES]} there (BatchNorm in training mode "
                    "rescales by each step's batch statistics, which a presynaptic trace cannot follow)"
                )
            if (module, neuron) not in pairs:
                pairs.append((module, neuron))
    for module, _ in list(pairs):
        for x in module_inputs.get(module, []):
            consumer = f"synapse {names[module]!r} ({type(module).__name__})"
            for upstream, _ops in reached(x, consumer):
                raise ValueError(
                    f"module {names[upstream]!r} ({type(upstream).__name__}) feeds {consumer} with no "
                    "neuron in between, so its gradient would need the synapse's history; merge the two "
                    "layers or put a neuron between them"
                )
    return pairs


# ------------------------------------------------------------------------------------------- autograd glue
class _InstantNeuron(torch.autograd.Function):
    """Neuron outputs of a chunk whose backward is instantaneous: ``dL/dI = g * d_out`` and
    ``dL/dp = sum g * d_out * du/dp``."""

    @staticmethod
    def forward(
        ctx,
        x: Tensor,
        run: Callable[[Tensor], tuple],
        names: tuple[str, ...],  # type: ignore[override]
        *leaves: Tensor,
    ) -> Tensor:
        out, d_out, du_dp = run(x)
        ctx.d_out, ctx.du = d_out, [du_dp[n] for n in names]
        ctx.shapes = [p.shape for p in leaves]
        return out

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        g_in = g if ctx.d_out is None else g * ctx.d_out
        grads = [reduce_to(g_in * du, shape) for du, shape in zip(ctx.du, ctx.shapes)]
        return (g_in, None, None, *grads)


class _TracedLinear(torch.autograd.Function):
    """``F.linear(x, W, b)`` whose weight and bias gradients use the presynaptic traces ``x_hat``, ``c_hat``."""

    @staticmethod
    def forward(
        ctx,
        x: Tensor,
        x_hat: Tensor,
        c_hat: Tensor,
        weight: Tensor,  # type: ignore[override]
        bias: Optional[Tensor],
    ) -> Tensor:
        ctx.save_for_backward(x_hat, c_hat, weight)
        ctx.has_bias = bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        x_hat, c_hat, weight = ctx.saved_tensors
        gx = g @ weight if ctx.needs_input_grad[0] else None
        gw = gb = None
        if ctx.needs_input_grad[3]:
            gw = g.reshape(-1, g.shape[-1]).t() @ x_hat.reshape(-1, x_hat.shape[-1])
        if ctx.has_bias and ctx.needs_input_grad[4]:
            gb = (g.reshape(c_hat.shape[0], -1, g.shape[-1]).sum(1) * c_hat.unsqueeze(1)).sum(0)
        return gx, None, None, gw, gb


def _grad_only(z: Tensor) -> Tensor:
    """Zero in value, ``z``'s gradient in backward."""
    return z - z.detach()


def _traced_module(module: nn.Module, forward: Callable, x: Tensor, x_hat: Tensor, c_hat: Tensor) -> Tensor:
    """Output of an affine ``module`` at ``x`` with parameter gradients taken at the traces:
    ``f(x; sg(theta)) + g(f(x_hat; theta) - f(0; theta)) + c_hat g(f(0; theta))``, ``g(z) = z - sg(z)``."""
    params = dict(module.named_parameters())
    frozen = {k: v.detach() for k, v in params.items()}
    out = forward(frozen, x)
    zero = forward(params, torch.zeros_like(x[:1]))
    lin = forward(params, x_hat) - zero
    c = c_hat.reshape((-1,) + (1,) * (x.dim() - 1))
    if c.shape[0] != x.shape[0]:  # time-major rows [K * B, ...]: one bias trace per time step
        c = c.repeat_interleave(x.shape[0] // c.shape[0], dim=0)
    return out + _grad_only(lin) + _grad_only(c * zero)


# ------------------------------------------------------------------------------------------- state
@dataclass
class _SynapseUse:
    """Presynaptic trace state of one use of a synapse (one filter stage per decay of its neuron)."""

    neuron: Neuron
    z: list[Tensor] = field(default_factory=list)
    c: list[Tensor] = field(default_factory=list)

    def update(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Traces for the chunk ``x [K, ...]``: ``(x_hat [K, ...], c_hat [K])``; carries the state on."""
        decays = self.neuron.input_decays()
        if len(self.z) not in (0, len(decays)):
            raise ValueError("the neuron's input filter changed during a sequence; call reset() first")
        z, c = x.detach(), torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
        new_z, new_c = [], []
        for k, lam in enumerate(decays):
            lam_t = torch.tensor(lam, dtype=x.dtype, device=x.device)
            if self.z and self.z[k].shape != z.shape[1:]:
                raise ValueError(
                    f"synapse input shape changed from {tuple(self.z[k].shape)} to "
                    f"{tuple(z.shape[1:])} within a sequence; call reset() between sequences"
                )
            z0 = self.z[k] if self.z else z.new_zeros(()).expand(z.shape[1:])
            c0 = self.c[k] if self.c else c.new_zeros(())
            z = leaky_filter(z, z0, lam_t)
            c = leaky_filter(c, c0, lam_t)
            new_z.append(z[-1])
            new_c.append(c[-1])
        self.z, self.c = new_z, new_c
        return z, c


class OnlineLearner:
    """Puts ``model`` into online-learning mode (a context manager; see the module docstring).

    Inside ``with OnlineLearner(model, sample) as learner:`` call ``model(x_chunk)`` on consecutive chunks
    ``[K, B, ...]`` of one sequence (``K`` may change between calls, ``K = 1`` streams) and back-propagate any
    loss of the outputs (``.backward()`` or ``torch.autograd.grad``) before or after the next chunk: gradients
    accumulate exactly as the per-step online algorithm's. Call :meth:`reset` between independent sequences.
    Leaving the context restores the layers.

    Args:
        model: any module with registered neuron layers (:mod:`neuromorph.neurons.registry`).
        sample: one input chunk ``[K, B, ...]`` used once to find the synapses by dataflow
            (:func:`find_synapses`); or give ``synapses`` explicitly.
        synapses: explicit ``(synapse module, neuron)`` pairs.

    >>> from torch import nn
    >>> from neuromorph import LIF, LeakyIntegrator
    >>> model = nn.Sequential(nn.Linear(4, 8), LIF(), nn.Linear(8, 2), LeakyIntegrator())
    >>> x = torch.rand(6, 3, 4)
    >>> with OnlineLearner(model, x[:1]) as learner:
    ...     for t in range(6):
    ...         model(x[t:t + 1]).sum().backward()
    >>> len(learner.synapses), model[0].weight.grad.shape
    (2, torch.Size([8, 4]))
    """

    def __init__(
        self, model: nn.Module, sample: Tensor | None = None, synapses: Sequence[tuple[nn.Module, Neuron]] | None = None
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.neurons = [m for m in model.modules() if isinstance(m, Neuron)]
        other = [
            type(m).__name__ for m in model.modules() if isinstance(m, SpikingModule) and not isinstance(m, Neuron)
        ]
        if other:
            raise TypeError(f"model contains stateful layers that do not implement the neuron protocol: {other}")
        if not self.neurons:
            raise ValueError("model must contain at least one neuron layer (see neuromorph.neurons.NEURONS)")
        for layer in self.neurons:
            layer.check_online()
        if synapses is None:
            if sample is None:
                raise ValueError("give sample (one input chunk [K, B, ...]) or synapses")
            synapses = find_synapses(model, sample)
        self.uses: dict[nn.Module, list[_SynapseUse]] = {}
        for i, pair in enumerate(synapses):
            if not (
                isinstance(pair, tuple)
                and len(pair) == 2
                and isinstance(pair[0], SYNAPSE_TYPES)
                and isinstance(pair[1], Neuron)
            ):
                raise TypeError(f"synapses[{i}] must be a (Linear/Conv module, neuron layer) pair, got {pair!r}")
            self.uses.setdefault(pair[0], []).append(_SynapseUse(pair[1]))
        self._calls: dict[nn.Module, int] = {}
        self._states: dict[Neuron, Any] = {}
        self._traces: dict[Neuron, dict] = {}
        self._saved_modes: dict[SpikingModule, str] = {}
        self._steps: int | None = None
        self._hook: Any = None
        self.active = False

    @property
    def synapses(self) -> list[tuple[nn.Module, Neuron]]:
        return [(m, use.neuron) for m, uses in self.uses.items() for use in uses]

    # -- context ---------------------------------------------------------------------------------
    def __enter__(self) -> "OnlineLearner":
        self._saved_modes = {m: m.step_mode for m in self.model.modules() if isinstance(m, SpikingModule)}
        set_step_mode(self.model, "multi")
        for layer in self.neurons:
            layer.forward = self._neuron_forward(layer)  # type: ignore[method-assign,assignment]
        for syn in self.uses:
            syn.forward = self._synapse_forward(syn)  # type: ignore[method-assign]
        self._hook = self.model.register_forward_pre_hook(self._record_steps)
        self.active = True
        self.reset()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        for module in [*self.neurons, *self.uses]:
            module.__dict__.pop("forward", None)
        for module, mode in self._saved_modes.items():
            module.step_mode = mode
            module.reset()
        self.active = False

    def reset(self) -> None:
        """Forget every neuron state and all traces (start of a new, independent sequence)."""
        reset(self.model)
        self._states, self._traces, self._calls = {}, {}, {}
        for uses in self.uses.values():
            for use in uses:
                use.z, use.c = [], []

    def trace_bytes(self) -> int:
        """Bytes held between chunks by states and traces (independent of the sequence length)."""
        tensors: list[Tensor] = []
        for state in self._states.values():
            tensors += [s for s in state if isinstance(s, Tensor)]
        for per_param in self._traces.values():
            for fields in per_param.values():
                tensors += [t for t in fields.values() if t is not None]
        for uses in self.uses.values():
            for use in uses:
                tensors += use.z + use.c
        return sum(t.numel() * t.element_size() for t in tensors if t.stride() != (0,) * t.dim())

    # -- wrappers --------------------------------------------------------------------------------
    def _neuron_forward(self, layer: Neuron) -> Callable[[Tensor], Tensor]:
        def forward(x: Tensor) -> Tensor:
            check_tensor(f"input of {type(layer).__name__}", x, floating=True)
            if x.dim() < 3:
                raise ValueError(
                    f"{type(layer).__name__} in online mode expects a chunk [K, B, ...], got shape {tuple(x.shape)}"
                )
            params = layer.params()
            learn = tuple(
                n
                for n in type(layer).learnable
                if isinstance(getattr(params, n), Tensor) and getattr(params, n).requires_grad
            )
            state = self._states.get(layer)
            if state is not None and state[0].shape != x.shape[1:]:
                raise ValueError(
                    f"{type(layer).__name__}: input step shape {tuple(x.shape[1:])} differs from the "
                    f"state shape {tuple(state[0].shape)}; call learner.reset() between sequences"
                )
            if state is None:
                state = layer.init_state(x[0])

            def run(x_in: Tensor) -> tuple:
                out, new_state, d_out, du, traces = layer.online_sequence(
                    x_in.detach(), state, self._traces.get(layer, {}), learn
                )
                self._states[layer] = type(new_state)(*(s.detach() if isinstance(s, Tensor) else s for s in new_state))
                self._traces[layer] = traces
                return out, d_out, du

            return _InstantNeuron.apply(x, run, learn, *(getattr(params, n) for n in learn))

        return forward

    def _synapse_forward(self, syn: nn.Module) -> Callable[[Tensor], Tensor]:
        uses = self.uses[syn]

        def conv(params: dict[str, Tensor], x: Tensor) -> Tensor:
            return syn._conv_forward(x, params["weight"], params.get("bias"))  # type: ignore[operator]

        def forward(x: Tensor) -> Tensor:
            count = self._calls.get(syn, 0)
            self._calls[syn] = count + 1
            use = uses[count % len(uses)]
            steps = self._steps
            if steps is None or x.shape[0] % steps:
                raise ValueError(
                    f"synapse {type(syn).__name__} got input of shape {tuple(x.shape)}: expected "
                    f"[K, ...] or [K * B, ...] rows for the chunk length K={steps}"
                )
            x_hat, c_hat = use.update(x.reshape(steps, -1, *x.shape[1:]) if x.shape[0] != steps else x)
            x_hat = x_hat.reshape(x.shape)
            if isinstance(syn, nn.Linear):
                return _TracedLinear.apply(x, x_hat, c_hat, syn.weight, syn.bias)
            return _traced_module(syn, conv, x, x_hat, c_hat)

        return forward

    def __call__(self, x_chunk: Tensor) -> Any:
        """Run the model on one chunk ``[K, B, ...]`` of the current sequence (same as ``model(x_chunk)``)."""
        if not self.active:
            raise RuntimeError("use the learner inside `with learner:`")
        check_tensor("x_chunk", x_chunk, floating=True)
        if x_chunk.dim() < 3 or x_chunk.shape[0] == 0:
            raise ValueError(f"x_chunk must be [K, B, ...] with K >= 1, got shape {tuple(x_chunk.shape)}")
        return self.model(x_chunk)

    def _record_steps(self, module: nn.Module, args: tuple) -> None:
        if not args or not isinstance(args[0], Tensor) or args[0].dim() < 3:
            raise ValueError("in online mode the model takes a chunk [K, B, ...] of its input sequence")
        self._steps = args[0].shape[0]
        self._calls.clear()  # a new chunk: the synapses' uses are counted again from the first
