"""The same 784-H-H-10 LIF MLP built in neuromorph and in peer libraries, for side-by-side benchmarks.

Every builder returns ``run(x) -> logits`` for ``x [T, B, 784]`` plus the ``nn.Module`` holding the
parameters. All use decay 0.9, threshold 1.0, subtractive reset and an arctan surrogate where the library
offers one, and read out the time-mean of the output layer's spikes. Each peer is driven the way its own
documentation drives it: snntorch and traceTorch step by step, spikingjelly in multi-step mode ("torch"
backend), norse through its sequence module. Peer libraries are optional (install them with
``pip install --no-deps snntorch spikingjelly norse tracetorch`` plus ``loguru h5py nir nirtorch``).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

Builder = Callable[[int], tuple[nn.Module, Callable[[Tensor], Tensor]]]
IN, OUT, BETA = 784, 10, 0.9


def floor(hidden: int):
    """The non-spiking floor: the same Linear layers (ReLU between) on all T*B rows at once."""
    net = nn.Sequential(nn.Linear(IN, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                        nn.Linear(hidden, OUT))

    def run(x: Tensor) -> Tensor:
        return net(x).mean(0)
    return net, run


def neuromorph_mlp(hidden: int, synapse: type[nn.Linear] | None = None):
    """neuromorph's LIF layers with its ``SpikeLinear`` synapses (or ``synapse``, e.g. ``nn.Linear``)."""
    from neuromorph import LIF, SpikeLinear

    linear = synapse or SpikeLinear
    net = nn.Sequential(linear(IN, hidden), LIF(BETA), linear(hidden, hidden), LIF(BETA),
                        linear(hidden, OUT), LIF(BETA))

    def run(x: Tensor) -> Tensor:
        import neuromorph
        neuromorph.reset(net)
        return net(x).mean(0)
    return net, run


def neuromorph_nnlinear_mlp(hidden: int):
    """neuromorph's LIF layers with plain ``nn.Linear`` synapses (what ``SpikeLinear`` must never be slower than)."""
    return neuromorph_mlp(hidden, nn.Linear)


def neuromorph_torchops_mlp(hidden: int):
    """neuromorph with its compiled CPU kernel switched off (the fused torch-ops path used on GPUs)."""
    import os

    net, run_native = neuromorph_mlp(hidden)

    def run(x: Tensor) -> Tensor:
        previous = os.environ.get("NEUROMORPH_NATIVE")
        os.environ["NEUROMORPH_NATIVE"] = "0"
        try:
            return run_native(x)
        finally:
            if previous is None:
                del os.environ["NEUROMORPH_NATIVE"]
            else:
                os.environ["NEUROMORPH_NATIVE"] = previous
    return net, run


def snntorch_mlp(hidden: int):
    import snntorch as snn
    from snntorch import surrogate

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sg = surrogate.atan()
            self.fc = nn.ModuleList([nn.Linear(IN, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, OUT)])
            self.lif = nn.ModuleList([snn.Leaky(beta=BETA, spike_grad=sg) for _ in range(3)])

        def forward(self, x: Tensor) -> Tensor:
            mems = [lif.init_leaky() for lif in self.lif]
            out = []
            for t in range(x.shape[0]):
                h = x[t]
                for i, (fc, lif) in enumerate(zip(self.fc, self.lif)):
                    h, mems[i] = lif(fc(h), mems[i])
                out.append(h)
            return torch.stack(out).mean(0)
    net = Net()
    return net, net


def spikingjelly_mlp(hidden: int):
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    def lif():
        return neuron.LIFNode(tau=1 / (1 - BETA), decay_input=False, v_reset=None,
                              surrogate_function=surrogate.ATan(), step_mode="m")
    net = nn.Sequential(layer.Linear(IN, hidden, step_mode="m"), lif(), layer.Linear(hidden, hidden, step_mode="m"),
                        lif(), layer.Linear(hidden, OUT, step_mode="m"), lif())

    def run(x: Tensor) -> Tensor:
        functional.reset_net(net)
        return net(x).mean(0)
    return net, run


def norse_mlp(hidden: int):
    import norse.torch as nt

    # norse's LIF is current based; dt = 1 ms and tau_mem_inv = 100/s give a membrane decay of 0.9 per step
    p = nt.LIFParameters(tau_mem_inv=torch.tensor(100.0), v_th=torch.tensor(1.0))
    net = nt.SequentialState(nn.Linear(IN, hidden), nt.LIF(p), nn.Linear(hidden, hidden), nt.LIF(p),
                             nn.Linear(hidden, OUT), nt.LIF(p))

    def run(x: Tensor) -> Tensor:
        out, _ = net(x)
        return out.mean(0)
    return net, run


def tracetorch_mlp(hidden: int):
    import tracetorch as tt
    from tracetorch import functional as ttf
    from tracetorch import snn as tsnn

    class Net(tt.Model):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.ModuleList([nn.Linear(IN, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, OUT)])
            self.lif = nn.ModuleList([
                tsnn.LIB(n, beta=BETA, threshold=1.0, learn_beta=False, learn_threshold=False, learn_bias=False,
                         quant_fn=ttf.round_ste()) for n in (hidden, hidden, OUT)])

        def forward(self, x: Tensor) -> Tensor:
            self.zero_states()
            out = []
            for t in range(x.shape[0]):
                h = x[t]
                for fc, lif in zip(self.fc, self.lif):
                    h = lif(fc(h))
                out.append(h)
            return torch.stack(out).mean(0)
    net = Net()
    return net, net


BUILDERS: dict[str, Builder] = {
    "floor": floor,
    "neuromorph": neuromorph_mlp,
    "neuromorph-torchops": neuromorph_torchops_mlp,
    "neuromorph-nnlinear": neuromorph_nnlinear_mlp,
    "snntorch": snntorch_mlp,
    "spikingjelly": spikingjelly_mlp,
    "norse": norse_mlp,
    "tracetorch": tracetorch_mlp,
}


def available(names: list[str]) -> dict[str, Builder]:
    """Builders whose library imports here; the others are reported as missing by the caller."""
    found = {}
    for name in names:
        try:
            BUILDERS[name](8)
        except ImportError:
            continue
        found[name] = BUILDERS[name]
    return found
