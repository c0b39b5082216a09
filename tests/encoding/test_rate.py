import pytest
import torch

from neuromorph.encoding import RateDecoder, RateEncoder, rate_decode, rate_encode, rate_probability


def test_bernoulli_rate_round_trip():
    x = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
    s = rate_encode(x, 4000, generator=torch.Generator().manual_seed(0))
    assert s.shape == (4000, 5) and set(s.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(rate_decode(s), x, atol=0.03)
    assert rate_decode(s)[0] == 0 and rate_decode(s)[-1] == 1


def test_out_of_range_raises_unless_clipped_and_poisson_probability():
    x = torch.tensor([0.2, 0.8])
    with pytest.raises(ValueError, match="gain \\* x must lie in \\[0, 1\\].*clip=True"):
        rate_probability(x, gain=2.0)
    with pytest.raises(ValueError, match=">= 0"):
        rate_encode(-x, 3, method="poisson")
    assert torch.allclose(rate_probability(x, gain=2.0, clip=True), torch.tensor([0.4, 1.0]))
    p = rate_probability(x, gain=2.0, method="poisson", dt=0.5)
    assert torch.allclose(p, 1 - torch.exp(-2.0 * x * 0.5))
    s = rate_encode(x, 3000, gain=2.0, method="poisson", dt=0.5, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(s.mean(0), p, atol=0.03)


def test_seeded_generator_is_reproducible_and_module_form():
    enc = RateEncoder(10, gain=1.0)
    x = torch.rand(3, 4)
    a = enc(x, generator=torch.Generator().manual_seed(5))
    b = enc(x, generator=torch.Generator().manual_seed(5))
    assert a.shape == (10, 3, 4) and torch.equal(a, b)


def test_rate_decoder_scores_and_predict():
    spikes = torch.zeros(10, 2, 3)
    spikes[:, 0, 2] = 1.0
    spikes[:3, 1, 0] = 1.0
    dec = RateDecoder()
    assert torch.allclose(dec(spikes), torch.tensor([[0, 0, 1.0], [0.3, 0, 0]]))
    assert dec.predict(spikes).tolist() == [2, 0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_steps"):
        rate_encode(torch.rand(3), 0)
    with pytest.raises(ValueError, match="method"):
        rate_encode(torch.rand(3), 5, method="gauss")
    with pytest.raises(ValueError, match="gain"):
        rate_encode(torch.rand(3), 5, gain=-1.0)
    with pytest.raises(TypeError, match="x"):
        rate_encode(torch.ones(3, dtype=torch.int64), 5)
    with pytest.raises(ValueError, match="spikes"):
        RateDecoder()(torch.zeros(3, 4))
