"""The input policy, as a table: every public entry point rejects bad input with a ValueError or TypeError that
names the argument and what was expected (nothing is silently coerced, non-finite values are caught)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch
from torch import nn

import neuromorph as nm
from neuromorph.encoding import (PopulationEncoder, delta_encode, direct_encode, gaussian_rates, latency_encode,
                                 rate_encode, rate_probability)
from neuromorph.learning.online import OnlineLearner, find_synapses
from neuromorph.learning.streaming import StreamingChain
from neuromorph.metrics import accuracy, evaluate, spike_rates
from neuromorph.models import FeedForwardMLP, SpikingCNN, SpikingMLP
from neuromorph.neurons import LIFParams, LIFState, get_neuron, lif_sequence, register_neuron
from neuromorph.training import Online, ThreeFactor, fit

NAN = float("nan")


def _compress() -> Any:
    return pytest.importorskip("neuromorph.compress")
X8, Y8 = torch.rand(8, 4), torch.randint(0, 2, (8,))


def _lif_seq(x: torch.Tensor, beta: float = 0.9, thr: float = 1.0, reset: str = "subtract") -> Any:
    return lif_sequence(x, LIFState(torch.zeros(x.shape[1:])), LIFParams(torch.tensor(beta), torch.tensor(thr), reset),
                        nm.ATan())


def _nan_mlp_input() -> Any:
    x = torch.rand(4, 3)
    x[1, 2] = NAN
    return SpikingMLP([3, 5, 2], num_steps=3)(x)


def _forgot_reset() -> Any:
    model = nn.Sequential(nn.Linear(3, 4), nm.LIF())
    x = torch.rand(5, 2, 3)
    model(x).sum().backward()
    return model(x)          # the state still holds the freed graph of the previous batch


def _forgot_shape() -> Any:
    layer = nm.LIF()
    layer(torch.rand(3, 2, 4))
    return layer(torch.rand(3, 5, 4))


CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # neurons and kernels
    ("LIF NaN input", lambda: nm.LIF()(torch.full((3, 2, 4), NAN)), ValueError, "NaN or infinite"),
    ("LIF inf input", lambda: nm.LIF()(torch.full((3, 2, 4), float("inf"))), ValueError, "NaN or infinite"),
    ("LIF T=0", lambda: nm.LIF()(torch.zeros(0, 2, 4)), ValueError, "T=0"),
    ("LIF int input", lambda: nm.LIF()(torch.ones(3, 2, 4, dtype=torch.int64)), TypeError, "floating point"),
    ("LIF list input", lambda: nm.LIF()([1.0]), TypeError, "torch.Tensor"),
    ("LIF too few dims", lambda: nm.LIF()(torch.ones(4)), ValueError, "at least 3 dims"),
    ("LIF bad reset", lambda: nm.LIF(reset="soft"), ValueError, "reset must be one of"),
    ("LIF beta > 1", lambda: nm.LIF(beta=1.5), ValueError, "beta must lie strictly between 0 and 1"),
    ("LIF threshold <= 0", lambda: nm.LIF(threshold=-1.0), ValueError, "threshold must be positive"),
    ("LIF negative penalty", lambda: nm.LIF(refractory_penalty=-1), ValueError, "refractory_penalty"),
    ("LIF bool num_neurons", lambda: nm.LIF(num_neurons=True), TypeError, "num_neurons"),
    ("batch shape change", _forgot_shape, ValueError, "call neuromorph.reset"),
    ("forgot reset after backward", _forgot_reset, RuntimeError, "neuromorph.reset\\(model\\)"),
    ("lif_sequence beta 1.5", lambda: _lif_seq(torch.zeros(3, 2), beta=1.5), ValueError, "beta must lie in"),
    ("lif_sequence threshold -1", lambda: _lif_seq(torch.zeros(3, 2), thr=-1.0), ValueError, "threshold must be"),
    ("lif_sequence int input", lambda: _lif_seq(torch.zeros(3, 2, dtype=torch.int64)), TypeError, "x_seq"),
    ("lif_sequence T=0", lambda: _lif_seq(torch.zeros(0, 2)), ValueError, "at least one time step"),
    ("lif_sequence bad reset", lambda: _lif_seq(torch.zeros(3, 2), reset="soft"), ValueError, "reset"),
    ("ALIF no-reset", lambda: nm.ALIF(reset="none"), ValueError, "reset must be one of"),
    ("SynapticLIF alpha 0", lambda: nm.SynapticLIF(alpha=0.0), ValueError, "alpha must lie"),
    ("unknown surrogate", lambda: nm.LIF(surrogate="relu"), ValueError, "surrogate"),
    ("unknown neuron", lambda: get_neuron("hh"), ValueError, "unknown neuron"),
    ("register non-neuron", lambda: register_neuron("relu", nn.ReLU), TypeError, "subclass"),
    ("set_step_mode", lambda: nm.set_step_mode(nn.Sequential(nm.LIF()), "both"), ValueError, "step_mode"),
    # encoders
    ("rate_encode out of range", lambda: rate_encode(torch.tensor([1.5]), 4), ValueError, "clip=True"),
    ("rate_encode NaN", lambda: rate_encode(torch.tensor([NAN]), 4), ValueError, "NaN"),
    ("rate_encode steps 0", lambda: rate_encode(torch.tensor([0.5]), 0), ValueError, "num_steps"),
    ("rate_probability method", lambda: rate_probability(torch.tensor([0.5]), method="gauss"), ValueError,
     "method"),
    ("direct_encode int", lambda: direct_encode(torch.ones(2, 3, dtype=torch.int64), 4), TypeError, "x"),
    ("direct_encode steps", lambda: direct_encode(torch.ones(2, 3), 0), ValueError, "num_steps"),
    ("latency_encode NaN", lambda: latency_encode(torch.tensor([NAN]), 4), ValueError, "NaN"),
    ("gaussian_rates NaN", lambda: gaussian_rates(torch.tensor([[NAN]]), torch.linspace(0, 1, 4), 0.2), ValueError,
     "NaN"),
    ("PopulationEncoder range", lambda: PopulationEncoder(8, 1.0, 0.0), ValueError, "low must be < high"),
    ("delta_encode NaN", lambda: delta_encode(torch.full((3, 2), NAN), 0.1), ValueError, "NaN"),
    # models
    ("SpikingMLP NaN input", _nan_mlp_input, ValueError, "NaN or infinite"),
    ("SpikingMLP wrong features", lambda: SpikingMLP([3, 2])(torch.rand(2, 4)), ValueError, "3 features"),
    ("SpikingMLP sizes", lambda: SpikingMLP([3]), ValueError, "sizes"),
    ("SpikingMLP output", lambda: SpikingMLP([3, 2], output="last"), ValueError, "output"),
    ("SpikingMLP neuron", lambda: SpikingMLP([3, 2], neuron=3), TypeError, "neuron"),
    ("SpikingCNN kernel", lambda: SpikingCNN(kernel_size=2), ValueError, "kernel_size"),
    ("FeedForwardMLP dropout", lambda: FeedForwardMLP([3, 2], dropout=1.0), ValueError, "dropout"),
    # training loop and strategies
    ("fit NaN data", lambda: fit(FeedForwardMLP([4, 2]), (torch.full((8, 4), NAN), Y8)), ValueError,
     "train x contains NaN"),
    ("fit float labels", lambda: fit(FeedForwardMLP([4, 2]), (X8, Y8.float())), TypeError, "integer class"),
    ("fit length mismatch", lambda: fit(FeedForwardMLP([4, 2]), (X8, Y8[:3])), ValueError, "same non-zero"),
    ("fit epochs 0", lambda: fit(FeedForwardMLP([4, 2]), (X8, Y8), epochs=0), ValueError, "epochs"),
    ("fit lr nan", lambda: fit(FeedForwardMLP([4, 2]), (X8, Y8), lr=NAN), ValueError, "lr"),
    ("fit strategy", lambda: fit(FeedForwardMLP([4, 2]), (X8, Y8), strategy="rtrl"), ValueError, "strategy"),
    ("fit schedule", lambda: fit(FeedForwardMLP([4, 2]), (X8, Y8), schedule="step"), ValueError, "schedule"),
    ("fit resume without dir", lambda: fit(FeedForwardMLP([4, 2]), (X8, Y8), resume=True), ValueError, "resume"),
    ("Online chunk 0", lambda: Online(chunk=0), ValueError, "chunk"),
    ("ThreeFactor baseline", lambda: ThreeFactor(baseline_decay=1.0), ValueError, "baseline_decay"),
    # online learning
    ("OnlineLearner wrong features",
     lambda: OnlineLearner(nn.Sequential(nn.Linear(4, 3), nm.LIF()), torch.rand(2, 1, 5)), ValueError,
     "sample must be one chunk"),
    ("OnlineLearner no sample", lambda: OnlineLearner(nn.Sequential(nn.Linear(4, 3), nm.LIF())), ValueError,
     "sample"),
    ("OnlineLearner no neuron", lambda: OnlineLearner(nn.Linear(4, 3), torch.rand(2, 1, 4)), ValueError,
     "at least one neuron"),
    ("find_synapses int sample", lambda: find_synapses(nn.Sequential(nn.Linear(4, 3), nm.LIF()),
                                                       torch.ones(2, 1, 4, dtype=torch.int64)), TypeError, "sample"),
    ("StreamingChain ALIF", lambda: StreamingChain(nn.Sequential(nn.Linear(4, 3), nm.ALIF())), ValueError, "ALIF"),
    # compression
    ("ternary_absmean NaN", lambda: _compress().ternary_absmean(torch.full((2, 4), NAN)), ValueError, "NaN"),
    ("SigmaDeltaQuantizer block", lambda: _compress().SigmaDeltaQuantizer(2, 241), ValueError, "block"),
    ("recall_at_k k=0", lambda: _compress().recall_at_k(np.zeros((3, 5), dtype=np.int64),
                                                        np.zeros((3, 5), dtype=np.int64), k=0), ValueError, "k must"),
    ("BinaryIndex array", lambda: _compress().BinaryIndex(np.zeros((4, 2), dtype=np.uint8)), TypeError,
     "num_bits must be an int"),
    # metrics
    ("accuracy rows", lambda: accuracy(torch.rand(3, 2), torch.tensor([0, 1])), ValueError, "rows"),
    ("evaluate empty", lambda: evaluate(FeedForwardMLP([4, 2]), torch.rand(0, 4), torch.zeros(0).long()),
     ValueError, "non-zero"),
    ("evaluate batch 0", lambda: evaluate(FeedForwardMLP([4, 2]), X8, Y8, batch_size=0), ValueError, "batch_size"),
    ("spike_rates no neurons", lambda: spike_rates(nn.Linear(4, 2), X8), ValueError, "no spiking neuron"),
]


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name, call, error, pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_clear_error(name: str, call: Callable[[], Any], error: type[Exception], pattern: str
                                      ) -> None:
    with pytest.raises(error, match=pattern):
        call()
