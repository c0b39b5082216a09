"""Compile a :class:`~neuromorph.evolution.genome.Genome` into a sparse spiking network and run it.

Non-input neurons are numbered outputs first, then hidden; input synapses act within the step, recurrent
synapses (from any non-input neuron, including self-loops) with a one-step delay::

    I_t[i] = sum_{(c -> i)} w * x_t[c]  +  sum_{(j -> i)} w * s_{t-1}[j]      (index gather + index_add_)
    v_pre  = beta * v_{t-1} + I_t,  beta = exp(-1 / tau)
    s_t    = H(v_pre - threshold);  v_t = v_pre * (1 - s_t)                  (reset to zero)

The membrane update is the LIF neuron's own step (:func:`~neuromorph.neurons.lif.lif_step`, ``reset="zero"``).
Class scores after ``T`` steps (:func:`run_evolved`): ``score_k = count_k + clip(v_T[k] / threshold_k, 0, 1)``
for output ``k`` (spike count plus the fraction of the way to the next spike, a tie-breaker); the prediction is
``argmax_k score_k``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from neuromorph.evolution.genome import Genome
from neuromorph.neurons.lif import LIFParams, LIFState, lif_step
from neuromorph.surrogate import get_surrogate
from neuromorph.utils import check_tensor

_STEP = get_surrogate("atan")  # the network runs without autograd: only the Heaviside forward is used


class EvolvedParams(NamedTuple):
    """A genome as index tensors for :func:`evolved_step` (non-input neurons: outputs first, then hidden).

    >>> import numpy as np
    >>> from neuromorph.evolution.genome import Genome, NeuronGene, SynapseGene, minimal_genome
    >>> p = compile_genome(minimal_genome(2, 1, np.random.default_rng(0), connect_prob=1.0))
    >>> p.n_inputs, p.n_outputs, p.in_w.shape, p.rec_w.shape
    (2, 1, torch.Size([2]), torch.Size([0]))
    """

    n_inputs: int
    beta: Tensor  # [n] decay of the non-input neurons (outputs first, then hidden)
    threshold: Tensor  # [n]
    in_src: Tensor  # [E_in] input channel of each input synapse
    in_dst: Tensor  # [E_in] target neuron index
    in_w: Tensor  # [E_in]
    rec_src: Tensor  # [E_rec] presynaptic neuron index
    rec_dst: Tensor  # [E_rec]
    rec_w: Tensor  # [E_rec]
    n_outputs: int
    ids: tuple[int, ...]  # genome id of every non-input neuron, in index order


class EvolvedState(NamedTuple):
    """Membrane ``v`` and the last step's spikes of the non-input neurons, each ``[B, n]``.

    >>> EvolvedState(torch.zeros(2, 3), torch.zeros(2, 3)).v.shape
    torch.Size([2, 3])
    """

    v: Tensor  # [B, n]
    spikes: Tensor  # [B, n] last step's spikes


def compile_genome(g: Genome, dtype: torch.dtype = torch.float32) -> EvolvedParams:
    """Turn a genome into index tensors for :func:`evolved_step` (disabled synapses are left out).

    >>> import numpy as np
    >>> from neuromorph.evolution.genome import Genome, NeuronGene, SynapseGene, minimal_genome
    >>> g = minimal_genome(2, 1, np.random.default_rng(0), connect_prob=1.0)
    >>> compile_genome(g).in_src.tolist(), compile_genome(g).ids
    ([0, 1], (2,))
    """
    if not isinstance(g, Genome):
        raise TypeError(f"g must be a Genome, got {type(g).__name__}")
    inputs = [n for n in g.neurons if n.kind == "input"]
    body = [n for n in g.neurons if n.kind == "output"] + [n for n in g.neurons if n.kind == "hidden"]
    in_index = {n.id: i for i, n in enumerate(inputs)}
    index = {n.id: i for i, n in enumerate(body)}
    syn = [s for s in g.synapses if s.enabled]
    ins = [s for s in syn if s.pre in in_index]
    recs = [s for s in syn if s.pre in index]

    def t(vals: list, dt: torch.dtype) -> Tensor:
        return torch.tensor(vals, dtype=dt)

    return EvolvedParams(
        len(inputs),
        torch.exp(-1.0 / t([n.tau for n in body], dtype)),
        t([n.threshold for n in body], dtype),
        t([in_index[s.pre] for s in ins], torch.long),
        t([index[s.post] for s in ins], torch.long),
        t([s.weight for s in ins], dtype),
        t([index[s.pre] for s in recs], torch.long),
        t([index[s.post] for s in recs], torch.long),
        t([s.weight for s in recs], dtype),
        g.n_outputs,
        tuple(n.id for n in body),
    )


def evolved_step(x: Tensor, state: EvolvedState, params: EvolvedParams) -> tuple[Tensor, EvolvedState]:
    """One step; ``x``: input spikes ``[B, n_inputs]``. Returns ``(spikes [B, n], state)``.

    >>> import numpy as np
    >>> from neuromorph.evolution.genome import Genome, NeuronGene, SynapseGene, minimal_genome
    >>> neurons = (NeuronGene(0, "input"), NeuronGene(1, "output", tau=5.0, threshold=1.0))
    >>> p = compile_genome(Genome(1, 1, neurons, (SynapseGene(0, 1, 1.5),), next_id=2))
    >>> spikes, state = evolved_step(torch.ones(1, 1), EvolvedState(torch.zeros(1, 1), torch.zeros(1, 1)), p)
    >>> spikes.tolist()
    [[1.0]]
    """
    current = torch.zeros_like(state.v)
    if params.in_w.numel():
        current.index_add_(1, params.in_dst, x[:, params.in_src] * params.in_w)
    if params.rec_w.numel():
        current.index_add_(1, params.rec_dst, state.spikes[:, params.rec_src] * params.rec_w)
    spikes, lif = lif_step(current, LIFState(state.v), LIFParams(params.beta, params.threshold, "zero"), _STEP)
    return spikes, EvolvedState(lif.v, spikes)


@torch.no_grad()
def run_evolved(params: EvolvedParams, x_seq: Tensor) -> tuple[Tensor, Tensor]:
    """Run ``x_seq [T, B, n_inputs]``. Returns ``(scores [B, n_outputs], spike counts [B, n])``.

    >>> import numpy as np
    >>> from neuromorph.evolution.genome import Genome, NeuronGene, SynapseGene, minimal_genome
    >>> neurons = (NeuronGene(0, "input"), NeuronGene(1, "output", tau=5.0, threshold=1.0))
    >>> p = compile_genome(Genome(1, 1, neurons, (SynapseGene(0, 1, 1.5),), next_id=2))
    >>> scores, counts = run_evolved(p, torch.ones(3, 2, 1))
    >>> scores.shape, counts.tolist()
    (torch.Size([2, 1]), [[3.0], [3.0]])
    """
    check_tensor("x_seq", x_seq, ndim=3, floating=True)
    if x_seq.shape[-1] != params.n_inputs:
        raise ValueError(f"x_seq must have shape [T, B, {params.n_inputs}], got {tuple(x_seq.shape)}")
    B, n = x_seq.shape[1], params.beta.numel()
    z = torch.zeros(B, n, dtype=x_seq.dtype)
    st = EvolvedState(z, z)
    counts = torch.zeros(B, n, dtype=x_seq.dtype)
    for t in range(x_seq.shape[0]):
        s, st = evolved_step(x_seq[t], st, params)
        counts += s
    k = params.n_outputs
    scores = counts[:, :k] + (st.v[:, :k] / params.threshold[:k]).clamp(0.0, 1.0)
    return scores, counts


class EvolvedSNN(nn.Module):
    """Thin module around a compiled genome: ``forward(x_seq [T, B, n_in]) -> scores [B, n_out]``.

    >>> import numpy as np
    >>> from neuromorph.evolution.genome import Genome, NeuronGene, SynapseGene, minimal_genome
    >>> net = EvolvedSNN(minimal_genome(2, 3, np.random.default_rng(0), connect_prob=1.0))
    >>> net(torch.ones(4, 5, 2)).shape
    torch.Size([5, 3])
    """

    def __init__(self, genome: Genome) -> None:
        super().__init__()
        self.genome = genome
        self.compiled = compile_genome(genome)

    def forward(self, x_seq: Tensor) -> Tensor:
        return run_evolved(self.compiled, x_seq)[0]

    def predict(self, x_seq: Tensor) -> Tensor:
        return self(x_seq).argmax(1)
