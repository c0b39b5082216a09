"""Synapse layers for spiking networks."""

from neuromorph.synapses.linear import SpikeLinear

__all__ = ["SpikeLinear"]
