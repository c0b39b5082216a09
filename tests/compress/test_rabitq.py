import numpy as np
import pytest
import torch

from neuromorph.compress import native, rabitq
from neuromorph.compress.rabitq import AsymmetricIndex, RaBitQQuantizer


def _unit(n, dim, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, dim, generator=gen, dtype=torch.float64), dim=1)


@pytest.fixture(scope="module")
def data():
    return _unit(600, 24, 0), _unit(1500, 24, 1), _unit(40, 24, 2)   # fit, database, queries


@pytest.mark.parametrize("factor_bits", [16, 8])
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_pack_unpack_round_trip_and_bytes(data, bits, factor_bits):
    fit, db, _ = data
    q = RaBitQQuantizer(bits, num_dims=20, factor_bits=factor_bits).fit(fit)
    codes = q.encode(db[:50])
    packed = q.pack(codes)
    assert packed.shape == (50, -(-20 * bits // 8) + factor_bits // 8) and q.bytes_per_vector == packed.shape[1]
    assert torch.equal(q.unpack(packed), codes)
    torch.testing.assert_close(q.packed_factors(packed), q.split(codes)[1])


def test_one_byte_factor_is_within_half_a_log_step_of_the_exact_factor(data):
    fit, db, _ = data
    q8 = RaBitQQuantizer(1, factor_bits=8).fit(fit)
    exact = q8._factors(db)[1]
    stored = q8.split(q8.encode(db))[1].double()
    lo, hi = q8.log_range
    inside = (exact.log() > lo) & (exact.log() < hi)
    assert inside.float().mean() > 0.99
    step = (hi - lo) / 255
    assert float((stored[inside].log() - exact[inside].log()).abs().max()) <= step / 2 + 1e-6


def test_estimate_error_shrinks_with_more_bits_and_is_exact_in_the_limit(data):
    fit, db, queries = data
    exact = queries @ db.T
    errors = []
    for bits in (1, 2, 4, 8):
        q = RaBitQQuantizer(bits).fit(fit)
        estimate = queries @ q.decode(q.encode(db)).double().T      # decode() realises the estimator
        errors.append(float((estimate - exact).abs().mean()))
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[3] < 0.01 and errors[0] < 0.2


def test_one_bit_estimate_is_nearly_unbiased(data):
    fit, db, queries = data
    q = RaBitQQuantizer(1).fit(fit)
    bias = float((queries @ q.decode(q.encode(db)).double().T - queries @ db.T).mean())
    assert abs(bias) < 0.01


@pytest.mark.parametrize("bits", [1, 2, 4])
@pytest.mark.parametrize("batch", [3, 40])          # lookup-table path and unpack-and-multiply path
def test_index_search_equals_brute_force_over_decoded_vectors(data, bits, batch):
    fit, db, queries = data
    q = RaBitQQuantizer(bits, num_dims=20, rotation="itq").fit(fit)
    index = AsymmetricIndex(q, chunk=512).add(db)
    decoded = q.decode(q.unpack(q.pack(q.encode(db)))).double()
    ref = (queries[:batch] @ decoded.T).topk(7)
    scores, ids = index.search(queries[:batch], 7)
    np.testing.assert_array_equal(ids, ref.indices.numpy())
    np.testing.assert_allclose(scores, ref.values.numpy(), atol=1e-4)


def test_compiled_and_torch_lut_scans_agree(data, monkeypatch):
    if native.load() is None:
        pytest.skip("no C++ compiler / ninja: the compiled scan is unavailable")
    fit, db, queries = data
    q = RaBitQQuantizer(2, num_dims=20).fit(fit)
    index = AsymmetricIndex(q).add(db)
    compiled = index.search(queries[:4], 10)
    monkeypatch.setattr(rabitq.native, "load", lambda: None)
    fallback = index.search(queries[:4], 10)
    np.testing.assert_array_equal(compiled[1], fallback[1])
    np.testing.assert_allclose(compiled[0], fallback[0], atol=1e-5)


def test_errors(data):
    fit, db, _ = data
    with pytest.raises(ValueError, match="bits_per_dim must be 1, 2, 4 or 8"):
        RaBitQQuantizer(3)
    with pytest.raises(ValueError, match="factor_bits must be 8 or 16"):
        RaBitQQuantizer(1, factor_bits=4)
    with pytest.raises(ValueError, match="rotation must be"):
        RaBitQQuantizer(1, rotation="pca")
    with pytest.raises(ValueError, match="num_dims=30 exceeds"):
        RaBitQQuantizer(1, num_dims=30).fit(fit)
    with pytest.raises(TypeError, match="fitted RaBitQQuantizer"):
        AsymmetricIndex(RaBitQQuantizer(1))
    index = AsymmetricIndex(RaBitQQuantizer(1).fit(fit)).add(db[:5])
    with pytest.raises(ValueError, match="k must be an int in"):
        index.search(db[:2], 6)
    bad = db[:2].clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="queries"):
        index.search(bad, 2)
