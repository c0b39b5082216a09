"""Reference helpers for the NIR tests: a plain step-by-step reference runner and spike/membrane recording."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from neuromorph.neurons.base import SpikingModule


def spiking_layers(model: nn.Module) -> list[SpikingModule]:
    return [m for m in model.modules() if isinstance(m, SpikingModule)]


def run_sequential(net: nn.Sequential, x: Tensor) -> Tensor:
    """Reference: each stateless layer on every ``[T*B, ...]`` row, each spiking layer on the sequence."""
    for layer in net:
        if isinstance(layer, SpikingModule):
            x = layer(x)
        else:
            y = layer(x.flatten(0, 1))
            x = y.reshape(x.shape[0], x.shape[1], *y.shape[1:])
    return x


def trace(run, model: nn.Module, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """Feed ``x [T, ...]`` one step at a time; returns, per spiking layer, its outputs (spikes, or the
    membrane of a leaky integrator) and its membrane ``v`` after every step, each ``[T, ...]``."""
    import neuromorph

    layers = spiking_layers(model)
    outputs: list[list[Tensor]] = [[] for _ in layers]
    hooks = [layer.register_forward_hook(lambda mod, args, out, i=i: outputs[i].append(out.detach().clone()))
             for i, layer in enumerate(layers)]
    neuromorph.reset(model)
    membranes = []
    try:
        with torch.no_grad():
            for t in range(x.shape[0]):
                run(x[t:t + 1])
                membranes.append([layer.state.v.clone() for layer in layers])
    finally:
        for hook in hooks:
            hook.remove()
    return [torch.cat(o) for o in outputs], [torch.stack(v) for v in zip(*membranes)]
