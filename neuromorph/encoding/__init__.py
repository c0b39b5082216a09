"""Spike encoders and decoders: rate, latency, delta and population codes."""

from neuromorph.encoding.direct import direct_encode
from neuromorph.encoding.delta import DeltaEncoder, delta_decode, delta_encode
from neuromorph.encoding.latency import (
    LatencyDecoder,
    LatencyEncoder,
    first_spike_time,
    latency_decode,
    latency_encode,
    spike_times,
)
from neuromorph.encoding.population import (
    CircularPopulationEncoder,
    PopulationEncoder,
    centre_of_mass,
    gaussian_rates,
    population_vector_decode,
    reconstruction_error,
)
from neuromorph.encoding.rate import RateDecoder, RateEncoder, rate_decode, rate_encode, rate_probability

__all__ = [
    "direct_encode",
    "DeltaEncoder",
    "delta_decode",
    "delta_encode",
    "LatencyDecoder",
    "LatencyEncoder",
    "first_spike_time",
    "latency_decode",
    "latency_encode",
    "spike_times",
    "CircularPopulationEncoder",
    "PopulationEncoder",
    "centre_of_mass",
    "gaussian_rates",
    "population_vector_decode",
    "reconstruction_error",
    "RateDecoder",
    "RateEncoder",
    "rate_decode",
    "rate_encode",
    "rate_probability",
]
