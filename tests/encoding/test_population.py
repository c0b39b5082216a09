import math

import pytest
import torch

from neuromorph.encoding import (CircularPopulationEncoder, PopulationEncoder, population_vector_decode,
                                 reconstruction_error)


def unit_vectors(n: int, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    return x / x.norm(dim=-1, keepdim=True)


def test_preferred_and_rates_follow_the_formula():
    enc = PopulationEncoder(5, -1.0, 1.0, sigma=0.3, r_max=0.8)
    assert torch.allclose(enc.preferred, torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    x = torch.tensor([[0.2, -0.7]])
    r = enc.rates(x)
    assert r.shape == (1, 2, 5)
    expected = 0.8 * torch.exp(-(0.2 - enc.preferred) ** 2 / (2 * 0.3 ** 2))
    assert torch.allclose(r[0, 0], expected)
    assert PopulationEncoder(11, 0.0, 1.0).sigma == pytest.approx(0.1)  # default sigma = spacing


def test_unit_vectors_round_trip_at_2500_neurons_deterministic():
    x = unit_vectors(64, 50)
    enc = PopulationEncoder(2500, -1.0, 1.0)
    err = reconstruction_error(x, enc.decode(enc.rates(x)))
    assert err["cosine"] >= 0.999
    assert err["max_abs"] < 1e-3


def test_unit_vectors_round_trip_from_spikes_at_large_t():
    x = unit_vectors(2, 16, seed=1).float()
    enc = PopulationEncoder(2500, -1.0, 1.0)
    spikes = enc.encode(x, num_steps=64, generator=torch.Generator().manual_seed(0))
    assert spikes.shape == (64, 2, 16, 2500)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    x_hat = enc.decode(spikes.sum(0))
    assert reconstruction_error(x, x_hat)["cosine"] >= 0.999


def test_fidelity_grows_with_neurons_and_narrow_tuning_quantises():
    x = unit_vectors(200, 50, seed=2)
    # narrow tuning (sigma << spacing) is nearest-level quantisation: ~0.90 cosine at N=10, ~0.82 at N=4
    cos = {}
    for n in (4, 10, 2500):
        enc = PopulationEncoder(n, -1.0, 1.0, sigma=0.05 * 2.0 / (n - 1))
        cos[n] = reconstruction_error(x, enc.decode(enc.rates(x)))["cosine"]
    assert 0.78 <= cos[4] <= 0.86
    assert 0.88 <= cos[10] <= 0.94
    assert cos[2500] >= 0.999
    # the default width (sigma = spacing) interpolates between neurons and is far better at N=10
    enc = PopulationEncoder(10, -1.0, 1.0)
    assert reconstruction_error(x, enc.decode(enc.rates(x)))["cosine"] > 0.999


def test_decode_of_silent_population_is_mid_range():
    enc = PopulationEncoder(8, 0.0, 2.0)
    assert torch.allclose(enc.decode(torch.zeros(3, 8)), torch.ones(3))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_neurons"):
        PopulationEncoder(1, 0.0, 1.0)
    with pytest.raises(ValueError, match="low"):
        PopulationEncoder(4, 1.0, 0.0)
    with pytest.raises(ValueError, match="sigma"):
        PopulationEncoder(4, 0.0, 1.0, sigma=0.0)
    with pytest.raises(ValueError, match="r_max"):
        PopulationEncoder(4, 0.0, 1.0, r_max=1.5)
    enc = PopulationEncoder(4, 0.0, 1.0)
    with pytest.raises(ValueError, match="counts_or_rates"):
        enc.decode(torch.zeros(2, 5))
    with pytest.raises(TypeError, match="x"):
        enc.rates([0.1, 0.2])
    with pytest.raises(ValueError, match="num_steps"):
        enc.encode(torch.zeros(2), 0)
    with pytest.raises(ValueError, match="x_hat"):
        reconstruction_error(torch.zeros(2, 3), torch.zeros(3, 2))


def test_circular_population_vector_recovers_angles():
    enc = CircularPopulationEncoder(16, kappa=3.0)
    theta = torch.linspace(-3.0, 3.0, 25)
    assert torch.allclose(enc.decode(enc.rates(theta)), theta, atol=1e-5)
    spikes = enc.encode(theta, 400, generator=torch.Generator().manual_seed(0))
    err = torch.remainder(enc.decode(spikes.sum(0)) - theta + math.pi, 2 * math.pi) - math.pi
    assert err.abs().max() < 0.15


def test_population_vector_decode_of_vectors():
    dirs = torch.eye(3)
    v = population_vector_decode(torch.tensor([[3.0, 4.0, 0.0]]), dirs)
    assert torch.allclose(v, torch.tensor([[0.6, 0.8, 0.0]]))
    with pytest.raises(ValueError, match="directions"):
        population_vector_decode(torch.ones(1, 4), dirs)
