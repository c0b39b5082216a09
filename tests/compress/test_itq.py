import pytest
import torch

from neuromorph.compress.itq import ITQQuantizer, itq_rotation, pca_basis, random_orthogonal


def _anisotropic(n=2000, dim=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    scales = torch.linspace(3.0, 0.2, dim)
    return torch.randn(n, dim, generator=gen) * scales


def test_random_orthogonal_is_orthogonal():
    q = random_orthogonal(12, torch.Generator().manual_seed(1))
    torch.testing.assert_close(q @ q.T, torch.eye(12, dtype=torch.float64))


def test_pca_basis_orders_by_variance_and_matches_covariance_eigenvectors():
    x = _anisotropic()
    mu, w = pca_basis(x, 3)
    torch.testing.assert_close(mu, x.double().mean(0))
    var = ((x.double() - mu) @ w).var(0)
    assert var[0] > var[1] > var[2]
    # the anisotropic scales are axis-aligned: the top direction is the first axis (up to sign)
    assert abs(float(w[0, 0])) > 0.97


def test_itq_loss_never_increases_and_recovers_a_hidden_rotation():
    # data = random corners of the cube, rotated by a hidden Q, plus noise: ITQ should undo Q
    gen = torch.Generator().manual_seed(3)
    corners = torch.randint(0, 2, (3000, 8), generator=gen).double() * 2 - 1
    hidden = random_orthogonal(8, gen)
    v = corners @ hidden + 0.2 * torch.randn(3000, 8, generator=gen, dtype=torch.float64)
    rot, history = itq_rotation(v, iterations=60, seed=0)
    assert all(b <= a + 1e-9 for a, b in zip(history, history[1:]))
    assert history[-1] < 0.5 * history[0]
    torch.testing.assert_close(rot @ rot.T, torch.eye(8, dtype=torch.float64))
    recovered = torch.where(v @ rot >= 0, 1.0, -1.0).double()
    # the corners come back up to a signed permutation of the axes: each code bit matches one corner bit
    agreement = (recovered.T @ corners / 3000).abs().amax(1)
    assert float(agreement.min()) > 0.95


def test_itq_quantizer_codes_and_errors():
    x = torch.nn.functional.normalize(_anisotropic(), dim=1)
    q = ITQQuantizer(12, iterations=10).fit(x[:1000])
    codes = q.encode(x[1000:1010])
    assert codes.shape == (10, 12) and q.bytes_per_vector == 2 and set(codes.unique().tolist()) <= {0, 1}
    # ITQ codes of nearby points agree more than codes of random pairs
    near = q.encode(torch.nn.functional.normalize(x[1000:1100] + 0.01 * torch.randn(100, 16), dim=1))
    far = q.encode(x[1100:1200])
    base = q.encode(x[1000:1100])
    assert (near != base).float().mean() < 0.5 * (far != base).float().mean()
    with pytest.raises(ValueError, match="at most D=16 bits"):
        ITQQuantizer(17).fit(x)
    with pytest.raises(ValueError, match="num_bits must be a positive int"):
        ITQQuantizer(0)
