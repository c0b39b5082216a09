import math
from fractions import Fraction

import pytest
import torch

from neuromorph.compress.quantize import SimHashQuantizer
from neuromorph.compress.sigma_delta import (TAPS, SigmaDeltaQuantizer, condensation_weights, condense,
                                             filter_coefficients, sigma_delta_quantize, sigma_delta_step,
                                             sign_distance_estimate, stability_bound)


def test_published_coefficients():
    assert filter_coefficients((1,)) == pytest.approx((1.0,))
    assert filter_coefficients((1, 7)) == pytest.approx((7 / 6, -1 / 6))
    assert filter_coefficients((1, 7, 25)) == pytest.approx((175 / 144, -25 / 108, 7 / 432))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_coefficient_identities_exact(order):
    taps = TAPS[order]
    c = [math.prod(Fraction(nl, nl - nj) for nl in taps if nl != nj) for nj in taps]
    for power in range(order):       # sum c = 1, sum c n = 0, sum c n^2 = 0 (as far as the order goes)
        assert sum(cj * Fraction(n) ** power for cj, n in zip(c, taps)) == (1 if power == 0 else 0)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_stability_state_bounded_at_the_bound(order):
    bound = stability_bound(order)
    gen = torch.Generator().manual_seed(order)
    y = (torch.rand(64, 600, generator=gen, dtype=torch.float64) * 2 - 1) * bound
    y[:, ::7] = bound                                   # include inputs exactly at the bound
    q, v = sigma_delta_quantize(y, order)
    assert set(q.unique().tolist()) <= {-1.0, 1.0}
    assert float(v.abs().max()) <= 1.0 + 1e-12
    # the recursion itself: v_i = sum_j c_j v_{i-n_j} + y_i - q_i
    c = filter_coefficients(TAPS[order])
    i = 100
    u = sum(cj * v[:, i - t] for cj, t in zip(c, TAPS[order]))
    torch.testing.assert_close(v[:, i], u + y[:, i] - q[:, i])


def test_sequence_equals_repeated_steps():
    y = (torch.rand(5, 80, dtype=torch.float64) - 0.5)
    q, v = sigma_delta_quantize(y, 3)
    hist = torch.zeros(5, 25, dtype=torch.float64)
    for i in range(80):
        qi, hist = sigma_delta_step(y[:, i], hist, 3)
        assert torch.equal(qi, q[:, i])
        torch.testing.assert_close(hist[:, 0], v[:, i])


def test_condensation_weights():
    assert condensation_weights(1, 4).tolist() == [1, 1, 1, 1]
    assert condensation_weights(2, 5).tolist() == [1, 2, 3, 2, 1]
    assert condensation_weights(3, 4).tolist() == [1, 3, 3, 1]
    assert condensation_weights(2, 6).tolist() == [1, 2, 3, 2, 1, 0]   # zero-padded
    w = condensation_weights(1, 3)
    q = torch.ones(2, 6, dtype=torch.float64)
    torch.testing.assert_close(condense(q, w), torch.full((2, 2), math.sqrt(math.pi / 2) * 3 / (2 * math.sqrt(3)),
                                                             dtype=torch.float64))


def _pairs(n, dim, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    return x / x.norm(dim=1, keepdim=True)


def _rel_err(q, x):
    dec = q.decode(q.encode(x)).double()
    d = (x[0::2] - x[1::2]).norm(dim=1)
    p = 1 if q.metric == "l1" else 2
    est = torch.linalg.vector_norm(dec[0::2] - dec[1::2], ord=p, dim=1)
    return float(((est - d).abs() / d).mean())


def test_gaussian_frame_l1_estimator_is_consistent_for_long_blocks():
    # p = 256 condensed Gaussian measurements: JL error ~ 0.76 / sqrt(p) ~ 5 %; higher order, less noise
    x = _pairs(200, 16)
    err1 = _rel_err(SigmaDeltaQuantizer(1, 64 * 256, block=64, frame="gaussian", clip_quantile=0.999).fit(x), x)
    err2 = _rel_err(SigmaDeltaQuantizer(2, 63 * 256, block=63, frame="gaussian", clip_quantile=0.999).fit(x), x)
    assert err2 < err1 and err2 < 0.07


def test_repeat_frame_error_shrinks_with_bits_and_third_order_beats_sign_at_high_bits():
    x = _pairs(400, 16)
    errs = [_rel_err(SigmaDeltaQuantizer(3, 16 * lam, frame="repeat", clip_quantile=0.99).fit(x), x)
            for lam in (8, 32, 64)]
    assert errs[0] > errs[1] > errs[2]
    s = SimHashQuantizer(16 * 64, seed=0).fit(x)
    b = s.encode(x)
    sign_err = float(((sign_distance_estimate(b[0::2], b[1::2]) - (x[0::2] - x[1::2]).norm(dim=1)).abs()
                      / (x[0::2] - x[1::2]).norm(dim=1)).mean())
    assert errs[2] < sign_err


def test_repeat_frame_decode_reconstructs_and_packs():
    x = _pairs(50, 10)
    q = SigmaDeltaQuantizer(2, 16 * 32, frame="repeat").fit(x)
    codes = q.encode(x)
    cos = torch.nn.functional.cosine_similarity(q.decode(codes).double(), x, dim=1)
    assert float(cos.min()) > 0.97
    assert torch.equal(q.unpack(q.pack(codes)), codes)
    assert q.bytes_per_vector == 64 and not q.hamming


def test_errors():
    with pytest.raises(ValueError, match="order must be 1, 2 or 3"):
        sigma_delta_quantize(torch.zeros(2, 3), 4)
    with pytest.raises(ValueError, match="NaN"):
        sigma_delta_quantize(torch.tensor([[float("inf"), 0.0]]), 1)
    with pytest.raises(ValueError, match="multiple of block"):
        SigmaDeltaQuantizer(1, 250, block=16)
    with pytest.raises(ValueError, match="multiple of 16"):
        SigmaDeltaQuantizer(3, 100, frame="repeat").fit(torch.randn(4, 10))
    with pytest.raises(ValueError, match="frame"):
        SigmaDeltaQuantizer(1, 64, block=4, frame="circulant")
