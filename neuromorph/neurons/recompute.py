"""Generic fused multi-step runner with a per-step recomputing backward.

For neuron models without a closed-form adjoint kernel, :func:`run_sequence` runs a pure step function
``step(x_t, state, params) -> (out_t, new_state)`` for all ``T`` steps inside one autograd Function.
Forward keeps no graph: it stores only the input and the state entering each step. Backward walks time in
reverse, rebuilds the graph of one step at a time from the stored state and pulls the output and state
gradients through it (``torch.autograd.grad``), so results equal a naive per-step autograd loop while the
live graph never exceeds one step.
"""

from __future__ import annotations

from typing import Callable, Sequence, cast

import torch
from torch import Tensor

from neuromorph.neurons._reduce import reduce_to

StepFn = Callable[[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]], tuple[Tensor, tuple[Tensor, ...]]]


class _Recompute(torch.autograd.Function):
    @staticmethod
    def forward(ctx, step: StepFn, n_state: int, x: Tensor, *tensors: Tensor):  # type: ignore[override]
        states = tuple(s.expand_as(x[0]) if s.shape != x[0].shape else s for s in tensors[:n_state])
        params = tuple(tensors[n_state:])
        history = [torch.empty((x.shape[0],) + tuple(s.shape), dtype=s.dtype, device=s.device) for s in states]
        outs = []
        for t in range(x.shape[0]):
            for h, s in zip(history, states):
                h[t] = s
            out, states = step(x[t], states, params)
            outs.append(out)
        ctx.step, ctx.n_state = step, n_state
        ctx.init_shapes = [s.shape for s in tensors[:n_state]]
        ctx.save_for_backward(x, *history, *params)
        return (torch.stack(outs), *states)

    @staticmethod
    def backward(ctx, g_out: Tensor, *g_final: Tensor):  # type: ignore[override]
        saved = ctx.saved_tensors
        n = ctx.n_state
        x, history, params = saved[0], saved[1 : 1 + n], saved[1 + n :]
        need_params = [ctx.needs_input_grad[3 + n + i] for i in range(len(params))]
        p_leaves = tuple(p.detach().requires_grad_(need) for p, need in zip(params, need_params))
        g_state = [g if g is not None else torch.zeros_like(h[0]) for g, h in zip(g_final, history)]
        g_x = torch.empty_like(x)
        g_params = [torch.zeros_like(p) if need else None for p, need in zip(params, need_params)]
        for t in range(x.shape[0] - 1, -1, -1):
            with torch.enable_grad():
                x_t = x[t].detach().requires_grad_(True)
                s_t = tuple(h[t].detach().requires_grad_(True) for h in history)
                out, new_state = ctx.step(x_t, s_t, p_leaves)
                inputs = [x_t, *s_t] + [p for p, need in zip(p_leaves, need_params) if need]
                grads = torch.autograd.grad([out, *new_state], inputs, [g_out[t], *g_state], allow_unused=True)
            g_x[t] = grads[0] if grads[0] is not None else 0
            g_state = [g if g is not None else torch.zeros_like(s) for g, s in zip(grads[1 : 1 + n], s_t)]
            it = iter(grads[1 + n :])
            for i, need in enumerate(need_params):
                if need:
                    g = next(it)
                    if g is not None:
                        cast(Tensor, g_params[i]).add_(g)  # allocated above since need is True
        g_init = [reduce_to(g, shape) for g, shape in zip(g_state, ctx.init_shapes)]
        return (None, None, g_x, *g_init, *g_params)


def run_sequence(
    step: StepFn, x_seq: Tensor, state: Sequence[Tensor], params: Sequence[Tensor]
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run ``step`` over ``x_seq [T, ...]``; returns ``(outputs [T, ...], final_state)``.

    >>> step = lambda x, state, params: (x + state[0], (params[0] * (state[0] + x),))
    >>> out, final = run_sequence(step, torch.ones(3, 1), (torch.zeros(1),), (torch.tensor(0.5),))
    >>> out.flatten().tolist(), final[0].tolist()
    ([1.0, 1.5, 1.75], [0.875])
    """
    if x_seq.shape[0] == 0:
        raise ValueError("x_seq must contain at least one time step, got T=0")
    result = _Recompute.apply(step, len(state), x_seq, *state, *params)
    return result[0], tuple(result[1:])
