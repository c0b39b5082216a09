"""neuromorph: spiking neural networks with fused multi-step kernels, online learning and embedding compression."""

from neuromorph.neurons import ALIF, LIF, LeakyIntegrator, SpikingModule, SynapticLIF, detach, reset, set_step_mode
from neuromorph.interop import from_nir, to_nir
from neuromorph.synapses import SpikeLinear
from neuromorph.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle, get_surrogate

__version__ = "0.1.0"

__all__ = [
    "ALIF",
    "LIF",
    "LeakyIntegrator",
    "SpikingModule",
    "SynapticLIF",
    "detach",
    "reset",
    "set_step_mode",
    "SpikeLinear",
    "from_nir",
    "to_nir",
    "ATan",
    "FastSigmoid",
    "Sigmoid",
    "Surrogate",
    "Triangle",
    "get_surrogate",
    "__version__",
]
