import pytest
import torch

from neuromorph.compress.population_code import PopulationCodeQuantizer, SpikeCountQuantizer


def test_spike_counts_decode_exactly_like_the_raster_and_take_fewer_bits():
    x = torch.nn.functional.normalize(torch.randn(64, 10, generator=torch.Generator().manual_seed(0)), dim=1)
    raster = PopulationCodeQuantizer(6, 7, seed=1).fit(x)
    counts = SpikeCountQuantizer(6, 7, seed=1).fit(x)
    torch.testing.assert_close(counts.decode(counts.encode(x)), raster.decode(raster.encode(x)))
    assert raster.num_bits == 10 * 6 * 7 and counts.num_bits == 10 * 6 * 3       # counts 0..7 need 3 bits
    c = counts.encode(x)
    assert int(c.min()) >= 0 and int(c.max()) <= 7
    assert torch.equal(counts.unpack(counts.pack(c)), c)


def test_single_step_count_code_is_the_raster():
    x = torch.randn(20, 4)
    counts, raster = SpikeCountQuantizer(3, 1).fit(x), PopulationCodeQuantizer(3, 1).fit(x)
    assert counts.num_bits == raster.num_bits == 12
    assert torch.equal(counts.encode(x), raster.encode(x).to(torch.int64))


def test_spike_count_errors():
    with pytest.raises(ValueError, match="num_steps must be a positive int"):
        SpikeCountQuantizer(4, 0)
