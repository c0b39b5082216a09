"""Neuron models: the neuron protocol, pure step kernels, fused multi-step kernels and stateful layers."""

from neuromorph.neurons.adaptive import ALIF, ALIFParams, ALIFState, alif_online_step, alif_sequence, alif_step
from neuromorph.neurons.base import SpikingModule, detach, reset, set_step_mode
from neuromorph.neurons.integrator import (
    IntegratorParams,
    IntegratorState,
    LeakyIntegrator,
    integrator_online_step,
    integrator_sequence,
    integrator_step,
    leaky_filter,
)
from neuromorph.neurons.lif import LIF, LIFParams, LIFState, lif_online_step, lif_sequence, lif_step
from neuromorph.neurons.parametrize import Decay, Positive, decay_from_tau
from neuromorph.neurons.protocol import Neuron, OnlineStep
from neuromorph.neurons.recompute import run_sequence
from neuromorph.neurons.registry import NEURONS, get_neuron, register_neuron
from neuromorph.neurons.synaptic import (
    SynapticLIF,
    SynapticParams,
    SynapticState,
    synaptic_online_step,
    synaptic_sequence,
    synaptic_step,
)

__all__ = [
    "ALIF",
    "ALIFParams",
    "ALIFState",
    "alif_online_step",
    "alif_sequence",
    "alif_step",
    "SpikingModule",
    "detach",
    "reset",
    "set_step_mode",
    "IntegratorParams",
    "IntegratorState",
    "LeakyIntegrator",
    "integrator_online_step",
    "integrator_sequence",
    "integrator_step",
    "leaky_filter",
    "LIF",
    "LIFParams",
    "LIFState",
    "lif_online_step",
    "lif_sequence",
    "lif_step",
    "Decay",
    "Positive",
    "decay_from_tau",
    "Neuron",
    "OnlineStep",
    "run_sequence",
    "NEURONS",
    "get_neuron",
    "register_neuron",
    "SynapticLIF",
    "SynapticParams",
    "SynapticState",
    "synaptic_online_step",
    "synaptic_sequence",
    "synaptic_step",
]
