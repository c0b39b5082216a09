import pytest
import torch

from neuromorph.compress.hadamard import RandomizedHadamard, fwht, hadamard_matrix, next_power_of_two


@pytest.mark.parametrize("n", [1, 2, 8, 64])
def test_fwht_equals_dense_matrix_and_is_orthonormal(n):
    x = torch.randn(5, n, dtype=torch.float64)
    h = hadamard_matrix(n)
    torch.testing.assert_close(fwht(x), x @ h)
    torch.testing.assert_close(h @ h, torch.eye(n, dtype=torch.float64))
    torch.testing.assert_close(fwht(fwht(x)), x)


def test_randomized_hadamard_pads_preserves_norm_and_inverts():
    rht = RandomizedHadamard(50, seed=3)
    assert rht.size == next_power_of_two(50) == 64
    x = torch.randn(7, 50, dtype=torch.float64)
    y = rht(x)
    torch.testing.assert_close(y.norm(dim=1), x.norm(dim=1))
    torch.testing.assert_close(rht.inverse(y), x)


def test_errors():
    with pytest.raises(ValueError, match="power-of-two"):
        fwht(torch.randn(2, 6))
    with pytest.raises(ValueError, match="last dimension 50"):
        RandomizedHadamard(50)(torch.randn(2, 49))
    with pytest.raises(TypeError, match="floating"):
        fwht(torch.ones(2, 4, dtype=torch.int64))
