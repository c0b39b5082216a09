"""The registry of neuron types: one line per neuron.

Everything that must handle every neuron (online learning, model factories, export, the conformance tests)
reads this registry and the :class:`~neuromorph.neurons.protocol.Neuron` protocol; nothing switches on
neuron types. To add a neuron, write its file (see ``docs/write_a_neuron.md``), export it from
:mod:`neuromorph.neurons` and add one line below (or call :func:`register_neuron` from your own package).

>>> sorted(NEURONS)
['alif', 'leaky_integrator', 'lif', 'synaptic_lif']
>>> get_neuron("lif").__name__
'LIF'
"""

from __future__ import annotations

from neuromorph.neurons.adaptive import ALIF
from neuromorph.neurons.integrator import LeakyIntegrator
from neuromorph.neurons.lif import LIF
from neuromorph.neurons.protocol import Neuron
from neuromorph.neurons.synaptic import SynapticLIF

NEURONS: dict[str, type[Neuron]] = {
    "lif": LIF,
    "alif": ALIF,
    "synaptic_lif": SynapticLIF,
    "leaky_integrator": LeakyIntegrator,
}

_REQUIRED = ("Params", "State", "step", "sequence", "online_step")


def register_neuron(name: str, cls: type[Neuron]) -> type[Neuron]:
    """Add ``cls`` under ``name``; checks that it implements the protocol. Returns ``cls``.

    >>> register_neuron("lif", LIF) is LIF   # re-registering the same class is allowed
    True
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier string, got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Neuron)):
        raise TypeError(f"cls must be a subclass of neuromorph.neurons.Neuron, got {cls!r}")
    missing = [attr for attr in _REQUIRED if not hasattr(cls, attr)]
    if missing:
        raise TypeError(f"{cls.__name__} does not implement the neuron protocol: missing {missing}")
    if name in NEURONS and NEURONS[name] is not cls:
        raise ValueError(f"a different neuron is already registered as {name!r}: {NEURONS[name].__name__}")
    NEURONS[name] = cls
    return cls


def get_neuron(name: str) -> type[Neuron]:
    """The neuron class registered as ``name``.

    >>> get_neuron("alif").__name__
    'ALIF'
    """
    if name not in NEURONS:
        raise ValueError(f"unknown neuron {name!r}; registered: {sorted(NEURONS)}")
    return NEURONS[name]
