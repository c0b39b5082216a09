import numpy as np
import pytest
import torch

from neuromorph.compress.matryoshka import MatryoshkaBinary, matryoshka_loss, ste_sign


def _clustered(n=600, dim=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(12, dim, generator=gen)
    x = centres[torch.randint(0, 12, (n,), generator=gen)] + 0.3 * torch.randn(n, dim, generator=gen)
    return x / x.norm(dim=1, keepdim=True)


def test_ste_sign_forward_and_gradient():
    f = torch.tensor([-2.0, -0.1, 0.0, 0.5], requires_grad=True)
    s = ste_sign(f)
    assert s.tolist() == [-1.0, -1.0, 1.0, 1.0]
    s.sum().backward()
    torch.testing.assert_close(f.grad, 1 - torch.tanh(f.detach()) ** 2)


def test_loss_zero_for_matching_signs_and_positive_otherwise():
    # orthonormal inputs: every off-diagonal target T_ij = 1 - 2 arccos(0) / pi = 0; the rows of a 4x4
    # Hadamard matrix are orthogonal sign vectors, so S^4 = I = T and both the MSE and the KL term vanish
    x = torch.eye(4)
    hadamard = torch.tensor([[1.0, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    assert float(matryoshka_loss(x, hadamard, prefixes=(4,), weights=(1.0,))) == pytest.approx(0.0, abs=1e-6)
    mismatched = hadamard.clone()
    mismatched[1] = mismatched[0]                       # rows 0 and 1 collide: S_01 = 1 but T_01 = 0
    assert float(matryoshka_loss(x, mismatched, prefixes=(4,), weights=(1.0,))) > 0.1


@pytest.fixture(scope="module")
def trained():
    x = _clustered(n=400)
    q = MatryoshkaBinary(prefixes=(8, 16, 32), steps=60, batch_size=400, lr=1e-2, seed=0).fit(x)
    return q, x


def test_training_lowers_the_loss(trained):
    q, x = trained
    untrained = MatryoshkaBinary(prefixes=(8, 16, 32), steps=1, lr=1e-9, seed=0).fit(x)
    assert q.loss(x) < untrained.loss(x)


def test_prefixes_are_nested_and_usable(trained):
    q, x = trained
    full = q.encode(x)
    assert full.shape == (400, 32) and q.bytes_per_vector == 4
    packed = q.pack(full)
    for m in (8, 16, 32):
        p = q.prefix(m)
        codes = p.encode(x)
        assert torch.equal(codes, full[:, :m])
        np.testing.assert_array_equal(p.pack(codes), packed[:, : m // 8])
        assert p.num_bits == m and p.name == f"matryoshka{m}"
    # a longer prefix ranks neighbours at least as well as a shorter one (agreement with float cosine)
    sims = x @ x.T
    agree = []
    for m in (8, 32):
        s = q.prefix(m).decode(full[:, :m])
        agree.append(float(torch.corrcoef(torch.stack([(s @ s.T).flatten(), sims.flatten()]))[0, 1]))
    assert agree[1] > agree[0] > 0.3


def test_errors(trained):
    q, x = trained
    with pytest.raises(ValueError, match="strictly increasing"):
        MatryoshkaBinary(prefixes=(64, 32))
    with pytest.raises(ValueError, match="num_bits must be in"):
        q.prefix(33)
    with pytest.raises(ValueError, match="15 dimensions but the quantiser was fitted on 16"):
        q.encode(x[:, :15])
    with pytest.raises(RuntimeError, match="fitted"):
        MatryoshkaBinary(prefixes=(8,)).prefix(8)
