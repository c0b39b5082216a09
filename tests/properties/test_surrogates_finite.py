"""Property: for any finite input (including +-1e30 and the dtype's extremes) every surrogate's derivative, its
in-place variant and the backward of the spike function are finite and non-negative, and forward is 0/1."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from neuromorph.surrogate import SURROGATES

EXTREMES = [0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, 1e300, -1e300, 3.4e38, -3.4e38, 1.0, -1.0]
shape_params = st.sampled_from(sorted(SURROGATES))
# surrogate parameter over 8 decades (alpha, slope or width)
param = st.floats(1e-4, 1e4, allow_nan=False, allow_infinity=False)
finite64 = st.floats(allow_nan=False, allow_infinity=False)


def _finite_in(dtype: torch.dtype, values: list[float]) -> torch.Tensor:
    """``values`` as ``dtype``, dropping those outside its finite range (e.g. 1e300 for float32)."""
    limit = torch.finfo(dtype).max
    return torch.tensor([v for v in values if abs(v) <= limit], dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@given(name=shape_params, p=param, values=st.lists(finite64, min_size=1, max_size=40))
def test_surrogate_outputs_are_finite_for_finite_input(dtype, name, p, values):
    surrogate = SURROGATES[name](p)
    x = torch.cat([_finite_in(dtype, values + EXTREMES),
                   torch.tensor([torch.finfo(dtype).max, -torch.finfo(dtype).max, torch.finfo(dtype).tiny],
                                dtype=dtype)])
    assert torch.isfinite(x).all()
    d = surrogate.derivative(x)
    d_inplace = surrogate.derivative_(x.clone())
    for out in (d, d_inplace):
        assert out.dtype == dtype and torch.isfinite(out).all(), (name, p, x[~torch.isfinite(out)])
        assert (out >= 0).all()
    # the in-place chain rounds differently (e.g. Triangle's x * (-1/width) + 1 at |x| = width leaves ~1 ulp
    # instead of 0), so agreement is to a few ulps of the derivative's peak
    peak = max(p, 1 / p, 1.0)
    torch.testing.assert_close(d_inplace, d, rtol=1e-5, atol=16 * torch.finfo(dtype).eps * peak)
    leaf = x.clone().requires_grad_()
    spikes = surrogate(leaf)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    (grad,) = torch.autograd.grad(spikes, leaf, torch.ones_like(spikes))
    assert torch.isfinite(grad).all()
    # the peak of every built-in surrogate is at 0 and at most max(p, 1/p, 1) (scale of the derivative)
    assert float(d.max()) <= peak * (1 + 1e-6)
