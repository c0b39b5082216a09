import math

import numpy as np
import pytest
import torch

from neuromorph.compress.quantize import (ScalarQuantizer, SignQuantizer, SimHashQuantizer, TernaryQuantizer,
                                          ThermometerQuantizer, ternary_absmean)

torch.manual_seed(0)
X = torch.randn(200, 50)


def test_sign_formula():
    q = SignQuantizer(center=True).fit(X)
    bits = q.encode(X)
    np.testing.assert_array_equal(bits.numpy(), (X - X.mean(0) >= 0).numpy().astype(np.uint8))
    torch.testing.assert_close(q.decode(bits), bits.float() * 2 - 1)
    assert q.num_bits == 50 and q.bytes_per_vector == 7 and q.metric == "hamming" and q.hamming
    raw = SignQuantizer(center=False).fit(X)
    zero = torch.zeros(1, 50)
    assert raw.encode(zero).all()  # sign(0) = +1


def test_simhash_formula_and_angle_estimate():
    q = SimHashQuantizer(4096, seed=1).fit(X)
    bits = q.encode(X[:2].double())
    expected = ((X[:2].double() @ q.proj.T) >= 0).to(torch.uint8)
    assert torch.equal(bits, expected)
    ham = (bits[0] != bits[1]).float().mean().item()
    angle = math.acos(torch.nn.functional.cosine_similarity(X[0:1], X[1:2]).item())
    assert abs(ham - angle / math.pi) < 0.03


@pytest.mark.parametrize("bits", [4, 5, 8])
def test_scalar_formula(bits):
    q = ScalarQuantizer(bits).fit(X)
    lo, hi = X.min(0).values.double(), X.max(0).values.double()
    levels = 2 ** bits
    codes = q.encode(X)
    manual = torch.clamp(torch.round((X.double() - lo) / (hi - lo) * (levels - 1)), 0, levels - 1).long()
    assert torch.equal(codes, manual)
    err = (q.decode(codes).double() - X.double()).abs()
    assert float((err - (hi - lo) / (levels - 1) / 2).max()) < 1e-5   # within half a step
    assert q.num_bits == 50 * bits and q.bytes_per_vector == math.ceil(50 * bits / 8)


def test_scalar_clip_quantile_clips():
    q = ScalarQuantizer(5, clip_quantile=0.05).fit(X)
    codes = q.encode(X * 10)
    assert codes.min() == 0 and codes.max() == 31


def test_ternary_formula():
    x = torch.tensor([[0.9, -0.1, 0.3, -0.6]])
    t, gamma = ternary_absmean(x)
    assert gamma.item() == pytest.approx(0.475)
    assert t.tolist() == [[1, 0, 1, -1]]      # round(0.3 / 0.475) = round(0.63) = 1
    q = TernaryQuantizer().fit(X)
    assert q.bytes_per_vector == 10 and q.num_bits == math.ceil(50 * math.log2(3))


def test_thermometer_hamming_is_l1_of_codes():
    q = ThermometerQuantizer(4).fit(X)
    codes = q.encode(X[:20])
    assert codes.max() <= 3 and q.num_bits == 150
    from neuromorph.compress.packing import hamming_matrix
    packed = q.pack(codes)
    l1 = (codes[:, None, :] - codes[None, :, :]).abs().sum(-1).numpy()
    np.testing.assert_array_equal(hamming_matrix(packed, packed), l1)


@pytest.mark.parametrize("make", [lambda: SignQuantizer(), lambda: SimHashQuantizer(100), lambda: ScalarQuantizer(5),
                                  lambda: ScalarQuantizer(8), lambda: ThermometerQuantizer(5),
                                  lambda: TernaryQuantizer()])
def test_pack_round_trip_and_exact_bytes(make):
    q = make().fit(X)
    codes = q.encode(X)
    packed = q.pack(codes)
    assert packed.dtype == np.uint8 and packed.shape == (200, q.bytes_per_vector)
    assert torch.equal(q.unpack(packed).long(), codes.long())


def test_bad_input_errors():
    q = SignQuantizer()
    with pytest.raises(RuntimeError, match="fitted"):
        q.encode(X)
    with pytest.raises(TypeError, match="float32 or float64"):
        q.fit(X.to(torch.int64))
    with pytest.raises(TypeError, match="float32 or float64"):
        q.fit(X.half())
    with pytest.raises(TypeError, match="torch.Tensor"):
        q.fit(X.numpy())
    bad = X.clone()
    bad[3, 4] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        q.fit(bad)
    q.fit(X)
    with pytest.raises(ValueError, match="49 dimensions but the quantiser was fitted on 50"):
        q.encode(X[:, :49])
    with pytest.raises(ValueError, match="2 dimensions"):
        q.encode(X[0])
    with pytest.raises(TypeError, match="integer tensor"):
        q.decode(X)
    with pytest.raises(ValueError, match="bytes per vector"):
        q.unpack(np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="bits"):
        ScalarQuantizer(0)
