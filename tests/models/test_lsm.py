"""Liquid state machine: sparse kernels vs dense references, connectivity statistics, ridge readout, digits."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from neuromorph.models.lsm import LiquidStateMachine, RidgeReadout, digits_rows, ridge_fit, split_indices
from neuromorph.models.reservoir import (ReservoirParams, build_connectivity, default_lambda, grid_shape,
                                         init_state, make_synapses, propagate, reservoir_step)


pytestmark = pytest.mark.usefixtures("one_thread")


def _random_synapses(n: int = 60, m: int = 400, seed: int = 0, scale: float | None = None):
    g = torch.Generator().manual_seed(seed)
    pre = torch.randint(0, n, (m,), generator=g)
    post = torch.randint(0, n, (m,), generator=g)
    w = torch.randn(m, generator=g)
    if scale is not None:  # excitatory only
        w = w.abs() * scale
    dense = torch.zeros(n, n)
    dense.index_put_((pre, post), w, accumulate=True)
    return make_synapses(pre, post, w, n, n), dense


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("method", ["csr", "event", "auto"])
def test_propagate_matches_dense(batch, method):
    syn, dense = _random_synapses()
    g = torch.Generator().manual_seed(1)
    for rate in (0.0, 0.02, 0.3):
        s = (torch.rand(batch, 60, generator=g) < rate).float()
        torch.testing.assert_close(propagate(s, syn, method), s @ dense, atol=1e-5, rtol=1e-5)
    graded = torch.rand(batch, 60, generator=g) * (torch.rand(batch, 60, generator=g) < 0.2)
    for m in ("event", "csr"):
        torch.testing.assert_close(propagate(graded, syn, m, binary=False), graded @ dense, atol=1e-5, rtol=1e-5)


def test_propagate_bad_method():
    syn, _ = _random_synapses()
    with pytest.raises(ValueError, match="method"):
        propagate(torch.zeros(1, 60), syn, "dense")


def test_make_synapses_validates():
    with pytest.raises(ValueError, match="pre indices"):
        make_synapses(torch.tensor([0, 5]), torch.tensor([1, 1]), torch.ones(2), 5, 5)
    with pytest.raises(ValueError, match="equal length"):
        make_synapses(torch.tensor([0, 1]), torch.tensor([1]), torch.ones(2), 5, 5)
    with pytest.raises(TypeError, match="weight"):
        make_synapses(torch.tensor([0]), torch.tensor([1]), torch.ones(1, dtype=torch.long), 5, 5)


def _dense_reference(x_seq, dense, beta, thr, refractory, v_reset=0.0, decay=0.9):
    B, N = x_seq.shape[1:]
    v, s, r, a = torch.zeros(B, N), torch.zeros(B, N), torch.zeros(B, N, dtype=torch.long), torch.zeros(B, N)
    out = []
    for x in x_seq:
        v_pre = beta * v + s @ dense + x
        v_pre = torch.where(r > 0, torch.full_like(v_pre, v_reset), v_pre)
        s = (v_pre >= thr).float()
        v = torch.where(s > 0, torch.full_like(v_pre, v_reset), v_pre)
        r = torch.where(s > 0, torch.full_like(r, refractory), (r - 1).clamp(min=0))
        a = decay * a + s
        out.append(s)
    return torch.stack(out), v, a


@pytest.mark.parametrize("method", ["csr", "event"])
@pytest.mark.parametrize("refractory", [0, 2])
def test_reservoir_step_matches_dense_loop(method, refractory):
    syn, dense = _random_synapses(n=60, m=600, seed=3, scale=0.5)
    g = torch.Generator().manual_seed(4)
    beta = torch.rand(60, generator=g) * 0.5 + 0.45
    thr = torch.full((60,), 1.0)
    x_seq = torch.rand(30, 2, 60, generator=g) * 0.6
    ref_s, ref_v, ref_a = _dense_reference(x_seq, dense, beta, thr, refractory)
    p = ReservoirParams(beta, thr, syn, None, 0.0, refractory, 0.9, method)
    st = init_state(2, 60)
    spikes = []
    for x in x_seq:
        s, st = reservoir_step(x, st, p)
        spikes.append(s)
    assert ref_s.sum() > 20  # the check covers real spiking activity
    torch.testing.assert_close(torch.stack(spikes), ref_s)
    torch.testing.assert_close(st.v, ref_v, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(st.trace, ref_a, atol=1e-5, rtol=1e-5)
    if refractory:  # no neuron spikes twice within the refractory period
        for t in range(1, refractory + 1):
            assert not bool((ref_s[t:] * ref_s[:-t]).any())


def test_reservoir_step_shape_check():
    syn, _ = _random_synapses()
    p = ReservoirParams(torch.full((60,), 0.9), torch.ones(60), syn)
    with pytest.raises(ValueError, match="x must have"):
        reservoir_step(torch.zeros(2, 59), init_state(2, 60), p)


def test_grid_shape():
    for n in (1, 7, 1000, 10000, 100000, 360):
        shape = grid_shape(n)
        assert math.prod(shape) == n and list(shape) == sorted(shape)
    assert grid_shape(1000) == (10, 10, 10)
    with pytest.raises(ValueError, match="n must"):
        grid_shape(0)


def test_connectivity_statistics():
    n, k, side = 8000, 20, 20
    g = torch.Generator().manual_seed(0)
    pre, post, inh = build_connectivity(n, k, generator=g)
    assert pre.numel() == n * k
    assert torch.equal(torch.bincount(post, minlength=n), torch.full((n,), k))
    assert not bool((pre == post).any())
    assert torch.unique(post * n + pre).numel() == n * k  # distinct partners
    assert int(inh.sum()) == 1600
    # distance dependence: partners are much closer than random pairs; larger lambda -> farther partners

    def torus_dist(a, b):
        ca = torch.stack([a // side**2, (a // side) % side, a % side], 1)
        cb = torch.stack([b // side**2, (b // side) % side, b % side], 1)
        d = (ca - cb).abs()
        d = torch.minimum(d, side - d).float()
        return d.norm(dim=1)

    near = torus_dist(pre, post).mean()
    rand = torus_dist(torch.randint(0, n, (20000,), generator=g), torch.randint(0, n, (20000,), generator=g)).mean()
    pre2, post2, _ = build_connectivity(n, k, lam=2 * default_lambda(k), generator=torch.Generator().manual_seed(0))
    far = torus_dist(pre2, post2).mean()
    assert near < 0.5 * rand and near < 0.8 * far
    # Maass C table: I->E (0.4) is preferred over E->E (0.3): inhibitory share of inputs to E cells > 20 %
    share = inh[pre][~inh[post]].float().mean()
    assert 0.22 < float(share) < 0.35


def test_connectivity_validates():
    with pytest.raises(ValueError, match="k must"):
        build_connectivity(100, 0)
    with pytest.raises(ValueError, match="n must"):
        build_connectivity(10, 10)
    with pytest.raises(ValueError, match="grid"):
        build_connectivity(100, 5, grid=(3, 3, 3))


def test_lsm_dale_law_determinism_and_groups():
    a = LiquidStateMachine(4, n_neurons=200, k=20, seed=5)
    b = LiquidStateMachine(4, n_neurons=200, k=20, seed=5)
    assert torch.equal(a.synapses.val, b.synapses.val) and torch.equal(a.w_in, b.w_in)
    syn = a.synapses
    pre = torch.repeat_interleave(torch.arange(a.n_total), syn.crow[1:] - syn.crow[:-1])
    assert bool((syn.val[a.is_inhibitory[pre]] < 0).all()) and bool((syn.val[~a.is_inhibitory[pre]] > 0).all())
    c = LiquidStateMachine(4, n_neurons=200, k=20, seed=6)
    assert not torch.equal(a.synapses.val, c.synapses.val)

    grp = LiquidStateMachine(4, n_neurons=200, k=20, n_groups=2, group_size=100, group_k=10, ff_k=8, seed=0)
    assert grp.n_total == 400 and grp.central_offset == 200
    assert grp.w_in[:, 200:].abs().sum() == 0          # input reaches the centre only through the groups
    assert grp.w_in[0, 100:200].abs().sum() == 0       # split inputs: channel 0 -> group 0 only
    assert grp.w_in[1, :100].abs().sum() == 0
    syn = grp.synapses
    pre = torch.repeat_interleave(torch.arange(400), syn.crow[1:] - syn.crow[:-1])
    post = syn.col
    assert not bool(((pre >= 200) & (post < 200)).any())   # no feedback from the centre to the groups
    assert not bool(((pre < 100) & (post >= 100) & (post < 200)).any())  # groups are separate
    into_centre = (post >= 200) & (pre < 200)
    assert int(into_centre.sum()) == 200 * 8
    x = torch.rand(6, 3, 4)
    spikes = grp(x)
    assert spikes.shape == (6, 3, 400)
    assert grp.features(x, mode="both").shape == (3, 400)
    assert grp.features(x, mode="samples", sample_every=3, population="all").shape == (3, 800)


def test_lsm_validates_arguments():
    with pytest.raises(ValueError, match="n_neurons"):
        LiquidStateMachine(4, n_neurons=0)
    with pytest.raises(ValueError, match="weights"):
        LiquidStateMachine(4, n_neurons=100, k=10, weights=((0.1, -0.1), (0.1, 0.1)))
    lsm = LiquidStateMachine(4, n_neurons=100, k=10)
    with pytest.raises(ValueError, match=r"x_seq must have shape \[T, B, 4\]"):
        lsm(torch.zeros(5, 2, 3))
    with pytest.raises(TypeError, match="x_seq"):
        lsm(torch.zeros(5, 2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="mode"):
        lsm.features(torch.zeros(5, 2, 4), mode="max")


@pytest.mark.parametrize("shape", [(80, 5), (20, 50)])  # primal (F <= n) and dual (F > n)
def test_ridge_fit_matches_normal_equations(shape):
    n, f = shape
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, f, generator=g), torch.randn(n, 3, generator=g)
    w, b = ridge_fit(x, y, 0.7)
    xa = torch.cat([x, torch.ones(n, 1)], 1).double()
    reg = torch.eye(f + 1, dtype=torch.float64) * 0.7
    reg[f, f] = 0.0  # bias not penalised
    sol = torch.linalg.solve(xa.T @ xa + reg, xa.T @ y.double())
    torch.testing.assert_close(w.double(), sol[:f], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(b.double(), sol[f], atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="alpha"):
        ridge_fit(x, y, 0.0)


def test_ridge_readout_selects_alpha_and_validates():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(3, 10, generator=g) * 3
    labels = torch.randint(0, 3, (300,), generator=g)
    feats = centers[labels] + torch.randn(300, 10, generator=g)
    r = RidgeReadout(10, 3).fit(feats[:200], labels[:200], alphas=(1e-2, 1.0, 1e6))
    assert r.alpha in (1e-2, 1.0) and set(r.val_scores) == {1e-2, 1.0, 1e6}
    assert r.val_scores[1e6] < r.val_scores[r.alpha]
    assert r.accuracy(feats[200:], labels[200:]) > 0.9
    with pytest.raises(ValueError, match="labels"):
        r.fit(feats, torch.full((300,), 3))
    with pytest.raises(TypeError, match="labels"):
        r.fit(feats, labels.float())


def test_digits_rows_layout():
    x, y = digits_rows(hold=3, tail=2)
    assert x.shape == (26, 1797, 8) and y.shape == (1797,)
    from sklearn.datasets import load_digits
    img = load_digits().images[5] / 16.0
    np.testing.assert_allclose(x[3:6, 5].numpy(), np.repeat(img[1:2], 3, axis=0), atol=1e-6)
    assert float(x[24:].abs().sum()) == 0.0
    tr, te = split_indices(1797, 0.25, 0)
    assert len(te) == 450 and len(set(tr.tolist()) | set(te.tolist())) == 1797


def _digits_rows_accuracy(hold: int, n_neurons: int, k: int) -> float:
    """Test accuracy of a ridge readout on LSM states sampled at the end of every image row."""
    x, y = digits_rows(hold=hold)
    tr, te = split_indices(len(y), 0.25, 0)
    lsm = LiquidStateMachine(8, n_neurons=n_neurons, k=k, seed=0)
    feats = lsm.features(x, mode="samples", sample_every=hold)
    r = RidgeReadout(feats.shape[1], 10).fit(feats[tr], y[tr])
    return r.accuracy(feats[te], y[te])


def test_small_lsm_learns_digits():
    assert _digits_rows_accuracy(hold=2, n_neurons=300, k=30) > 0.92  # measured 0.956; raw-pixel ridge: 0.931


def test_cli_lsm_writes_pngs(tmp_path):
    out = subprocess.run([sys.executable, "-m", "neuromorph", "lsm", "--neurons", "200", "--k", "20", "--hold", "1",
                          "--groups", "2", "--group-size", "100", "--images", "400", "--threads", "1",
                          "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "test accuracy" in out.stdout
    for name in ("lsm_raster.png", "lsm_rates.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    res = json.loads((tmp_path / "lsm_results.json").read_text())
    assert res["neurons_total"] == 400 and 0.5 < res["test_accuracy"] <= 1.0

