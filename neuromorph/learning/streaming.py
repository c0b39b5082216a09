"""Streaming step: a whole ``Linear -> neuron -> ... -> Linear -> neuron`` model advanced by one time step in one
call, with online learning written by hand — for closed loops and games at small batch.

Per step and layer ``l`` (input ``h``; LIF or leaky-integrator neurons)::

    x_hat_l = lam_l x_hat_l + h,   c_hat_l = lam_l c_hat_l + 1          (presynaptic traces, lam_l = neuron decay)
    I = W_l h + b_l
    LIF: v = beta v + I; u = v - thr; out = H(u); d_l = surrogate'(u); reset (subtract / zero / none)
    LI:  v = beta v + I; out = v; d_l = 1

:meth:`StreamingChain.backward` takes ``g = dL/d out`` of the last step and accumulates, layer by layer from the
top, ``g_I = g * d_l``, ``dL/dW_l += g_I^T x_hat_l``, ``dL/db_l += c_hat_l sum g_I`` and ``g = g_I W_l``: the
gradients of :class:`~neuromorph.learning.online.OnlineLearner` (with ``K = 1``) without building any graph.
On CPU (float32/64, built-in surrogates) the step is one call into the compiled kernel; elsewhere the same
equations run on torch ops. Models that are not such a chain (or have learnable neuron parameters) raise a
``ValueError`` naming the module: use :class:`~neuromorph.learning.online.OnlineLearner` for them.

>>> import torch
>>> from torch import nn
>>> from neuromorph import LIF, LeakyIntegrator
>>> model = nn.Sequential(nn.Linear(4, 8), LIF(), nn.Linear(8, 2), LeakyIntegrator())
>>> chain = StreamingChain(model)
>>> out = chain.step(torch.rand(1, 4))
>>> chain.backward(torch.ones_like(out))
>>> out.shape, model[0].weight.grad.shape
(torch.Size([1, 2]), torch.Size([8, 4]))
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from neuromorph.neurons import native
from neuromorph.neurons.integrator import LeakyIntegrator
from neuromorph.neurons.lif import _RESET_CODE, _SURROGATE_ARG, LIF
from neuromorph.neurons.protocol import Neuron
from neuromorph.utils import check_tensor

_PASS_THROUGH = (nn.Identity,)


def _layers(model: nn.Module) -> list[tuple[nn.Linear, LIF | LeakyIntegrator]]:
    """``(Linear, neuron)`` pairs of a chain model, or a ``ValueError`` naming the first module that does not fit."""
    names = {m: n for n, m in model.named_modules()}

    def atoms(module: nn.Module):
        for child in module.children():
            if isinstance(child, (nn.Linear, Neuron)) or not any(True for _ in child.children()):
                yield child
            else:
                yield from atoms(child)

    leaves = list(atoms(model))
    if not isinstance(model, nn.Sequential):
        raise ValueError(
            f"the streaming step needs an nn.Sequential chain of Linear -> LIF/LeakyIntegrator "
            f"layers, got {type(model).__name__}; use OnlineLearner with chunks of one step instead"
        )
    pairs: list[tuple[nn.Linear, LIF | LeakyIntegrator]] = []
    pending: Optional[nn.Linear] = None
    for m in leaves:
        where = f"module {names[m]!r} ({type(m).__name__})"
        if isinstance(m, _PASS_THROUGH) or (isinstance(m, nn.Dropout) and m.p == 0):
            continue
        if isinstance(m, nn.Linear):
            if pending is not None:
                raise ValueError(f"{where} follows another Linear without a neuron in between")
            pending = m
        elif isinstance(m, (LIF, LeakyIntegrator)):
            if pending is None:
                raise ValueError(f"{where} has no Linear synapse in front of it")
            if any(p.requires_grad for p in m.parameters()):
                raise ValueError(
                    f"{where} has learnable neuron parameters; the streaming step learns weights and "
                    "biases only (use OnlineLearner for neuron parameters)"
                )
            if isinstance(m, LIF):
                m.check_online()
                if type(m.surrogate) not in _SURROGATE_ARG:
                    raise ValueError(
                        f"{where} uses a custom surrogate; the streaming step supports "
                        f"{[t.__name__ for t in _SURROGATE_ARG]}"
                    )
            pairs.append((pending, m))
            pending = None
        else:
            raise ValueError(
                f"{where} is not supported by the streaming step (chains of Linear -> LIF / "
                "LeakyIntegrator); use OnlineLearner with chunks of one step instead"
            )
    if pending is not None or not pairs:
        raise ValueError("the chain must end with a neuron layer after its last Linear")
    return pairs


class StreamingChain:
    """Run (and learn online in) a chain model one step at a time (see the module docstring).

    Args:
        model: ``nn.Sequential`` of ``Linear -> LIF/LeakyIntegrator`` pairs (``Identity``/``Dropout(0)`` allowed).
        learn: keep the traces needed by :meth:`backward` (False: inference only, slightly faster).
        backend: ``"auto"`` (compiled kernel when it applies), ``"native"`` or ``"torch"``.

    The chain reads the model's parameters in place, so optimizer updates take effect at the next step.

    >>> from neuromorph import LIF, LeakyIntegrator
    >>> chain = StreamingChain(nn.Sequential(nn.Linear(3, 4), LIF(), nn.Linear(4, 2), LeakyIntegrator()))
    >>> outs = [chain.step(torch.rand(1, 3)) for _ in range(3)]
    >>> outs[-1].shape
    torch.Size([1, 2])
    """

    def __init__(self, model: nn.Module, learn: bool = True, backend: str = "auto") -> None:
        if backend not in ("auto", "native", "torch"):
            raise ValueError(f"backend must be 'auto', 'native' or 'torch', got {backend!r}")
        self.pairs = _layers(model)
        self.model = model
        self.learn = bool(learn)
        self._native: Any = None
        self._torch_state: Optional[dict[str, list]] = None
        weights, biases, betas, thrs, Rs, kinds, resets, skinds, sargs, lams = ([] for _ in range(10))
        for linear, neuron in self.pairs:
            w = linear.weight
            weights.append(w.detach())
            biases.append(linear.bias.detach() if linear.bias is not None else w.new_empty(0))
            beta = neuron.beta().detach().reshape(-1).to(w.dtype)
            betas.append(beta)
            lams.append(float(beta.mean()))
            if isinstance(neuron, LIF):
                thr = neuron.threshold().detach().reshape(-1).to(w.dtype)
                thrs.append(thr)
                Rs.append(thr + neuron.refractory_penalty)
                kinds.append(0)
                resets.append(_RESET_CODE[neuron.reset_mode])
                kind, arg = _SURROGATE_ARG[type(neuron.surrogate)]
                skinds.append(kind)
                sargs.append(float(getattr(neuron.surrogate, arg)))
            else:
                thrs.append(w.new_zeros(1))
                Rs.append(w.new_zeros(1))
                kinds.append(1)
                resets.append(2)
                skinds.append(0)
                sargs.append(1.0)
        self._spec = (weights, biases, betas, thrs, Rs, kinds, resets, skinds, sargs, lams)
        dtype, device = weights[0].dtype, weights[0].device
        use_native = backend != "torch" and device.type == "cpu" and dtype in (torch.float32, torch.float64)
        module = native.load() if use_native else None
        if backend == "native" and module is None:
            raise ValueError(
                f"backend='native' needs the compiled kernel on CPU float32/float64 (status: {native.status()})"
            )
        if module is not None:
            self._native = module.Chain(
                weights, biases, betas, thrs, Rs, kinds, resets, skinds, sargs, lams, self.learn
            )
        self.in_features = weights[0].shape[1]

    @property
    def backend(self) -> str:
        return "native" if self._native is not None else "torch"

    def reset(self) -> None:
        """Forget the neuron states and traces (the next step starts from rest)."""
        if self._native is not None:
            self._native.clear()
        self._torch_state = None

    @torch.no_grad()
    def step(self, x: Tensor) -> Tensor:
        """Advance one step on ``x [B, in_features]``; returns the last layer's output ``[B, out]`` (a buffer
        overwritten by the next step: clone it to keep it)."""
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"x must be a [B, {self.in_features}] tensor, got "
                f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}"
            )
        if x.dtype != self._spec[0][0].dtype:
            raise TypeError(f"x must have the model's dtype {self._spec[0][0].dtype}, got {x.dtype}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x contains NaN or infinite values")
        return self._native.step(x.contiguous()) if self._native is not None else self._torch_step(x)

    @torch.no_grad()
    def backward(self, grad_out: Tensor) -> None:
        """Accumulate into ``.grad`` of every Linear the gradient of a loss whose derivative with respect to the
        last step's output is ``grad_out`` (see the module docstring)."""
        if not self.learn:
            raise RuntimeError("this StreamingChain was built with learn=False")
        check_tensor("grad_out", grad_out, floating=True, finite=True)
        grads_w: list[Tensor] = []
        grads_b: list[Tensor] = []
        for linear, _ in self.pairs:
            for p, store in ((linear.weight, grads_w), (linear.bias, grads_b)):
                if p is None:
                    store.append(linear.weight.new_empty(0))
                    continue
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                store.append(p.grad)
        if self._native is not None:
            self._native.backward(grad_out.contiguous(), grads_w, grads_b)
        else:
            self._torch_backward(grad_out, grads_w, grads_b)

    # -- torch-ops twin of the compiled kernel ---------------------------------------------------------------
    def _torch_step(self, x: Tensor) -> Tensor:
        """The same step on torch ops: each neuron advances by its own eligibility rule (``online_step``)."""
        weights, biases, lams = self._spec[0], self._spec[1], self._spec[9]
        st = self._torch_state
        if st is None or st["state"][0][0].shape[0] != x.shape[0]:
            st = self._torch_state = {
                "state": [
                    neuron.init_state(x.new_zeros(x.shape[0], w.shape[0]))
                    for (_, neuron), w in zip(self.pairs, weights)
                ],
                "d": [None] * len(weights),
                "xhat": [x.new_zeros(x.shape[0], w.shape[1]) for w in weights],
                "chat": [0.0] * len(weights),
            }
        h = x
        for i, ((_, neuron), w) in enumerate(zip(self.pairs, weights)):
            if self.learn:
                st["xhat"][i] = lams[i] * st["xhat"][i] + h
                st["chat"][i] = lams[i] * st["chat"][i] + 1.0
            current = h @ w.t() + (biases[i] if biases[i].numel() else 0)
            layer: Neuron = neuron  # through the neuron protocol, whatever the neuron type
            res = type(layer).online_step(current, st["state"][i], layer.params(), layer.surrogate, {}, ())
            st["state"][i], st["d"][i] = res.state, res.d_out
            h = res.out
        return h

    def _torch_backward(self, g: Tensor, grads_w: list[Tensor], grads_b: list[Tensor]) -> None:
        st = self._torch_state
        if st is None:
            raise RuntimeError("run step() before backward()")
        weights = self._spec[0]
        for i in range(len(weights) - 1, -1, -1):
            g_i = g if st["d"][i] is None else g * st["d"][i]
            grads_w[i].addmm_(g_i.t(), st["xhat"][i])
            if grads_b[i].numel():
                grads_b[i].add_(g_i.sum(0), alpha=st["chat"][i])
            if i > 0:
                g = g_i @ weights[i]
