"""Neuron models: pure step kernels, fused multi-step kernels and stateful layers."""
from neuromorph.neurons.adaptive import ALIF, ALIFParams, ALIFState, alif_sequence, alif_step
from neuromorph.neurons.base import SpikingModule, detach, reset, set_step_mode
from neuromorph.neurons.integrator import IntegratorState, LeakyIntegrator, leaky_filter
from neuromorph.neurons.lif import LIF, LIFParams, LIFState, lif_sequence, lif_step
from neuromorph.neurons.parametrize import Decay, Positive, decay_from_tau
from neuromorph.neurons.recompute import run_sequence
from neuromorph.neurons.synaptic import (SynapticLIF, SynapticParams, SynapticState, synaptic_sequence,
                                         synaptic_step)

__all__ = [
    "ALIF", "ALIFParams", "ALIFState", "alif_sequence", "alif_step",
    "SpikingModule", "detach", "reset", "set_step_mode",
    "IntegratorState", "LeakyIntegrator", "leaky_filter",
    "LIF", "LIFParams", "LIFState", "lif_sequence", "lif_step",
    "Decay", "Positive", "decay_from_tau", "run_sequence",
    "SynapticLIF", "SynapticParams", "SynapticState", "synaptic_sequence", "synaptic_step",
]
