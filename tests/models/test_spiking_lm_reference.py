"""SpikingCharLM against a plain per-step reference of its equations (module docstring of
neuromorph.models.spiking_lm): every SN is a loop over time of ``lif_step`` (plain autograd), every BN a
``F.batch_norm`` of its own, every projection its own ``F.linear``, the attention a loop over the time steps.
The model's fast paths (fused q/k/v projection, one batch norm and one LIF call for the three branches, the
compiled multi-step LIF, cached masks) must give the same logits, gradients and running statistics, for both
residual streams (spikes, and the membrane shortcut, where the embedding and each branch's last batch norm are
added without a LIF) and both attentions (the row average of the spike-count scores, and their causal softmax)."""

import math

import copy
from functools import lru_cache

import pytest
import torch
import torch.nn.functional as F

from neuromorph.models.lm import head_window_mask
from neuromorph.models.spiking_lm import SpikingCharLM
from neuromorph.neurons.base import reset
from neuromorph.neurons.lif import LIFState, lif_step

V, N = 13, 10


def _sn(lif, drive):
    """The LIF layer ``lif`` run step by step on ``drive`` ``[T, ...]`` from rest (plain autograd)."""
    params, state, out = lif.params(), LIFState(torch.zeros_like(drive[0])), []
    for t in range(drive.shape[0]):
        spikes, state = lif_step(drive[t], state, params, lif.surrogate)
        out.append(spikes)
    return torch.stack(out)


def _bn(bn, x, stats):
    """Batch norm ``bn`` over the features of ``x`` ``[..., D]``, updating the copies of its running statistics in
    ``stats`` (keyed by the module) as the module itself would."""
    mean, var = stats.setdefault(id(bn), (bn.running_mean.clone(), bn.running_var.clone()))
    flat = F.batch_norm(x.reshape(-1, x.shape[-1]), mean, var, bn.weight, bn.bias, bn.training, bn.momentum, bn.eps)
    return flat.reshape(x.shape)


def _branch(branch, x, stats, spiking=True):  # SN(BN(x W + b)), or BN(x W + b) with spiking=False
    drive = _bn(branch.bn, F.linear(x, branch.linear.weight, branch.linear.bias), stats)
    return _sn(branch.lif, drive) if spiking else drive


def _attention(attn, s, stats, spiking_output):
    t, b, n, d = s.shape
    h, hd = attn.num_heads, attn.head_dim
    q, k, v = (_branch(br, s, stats).reshape(t, b, n, h, hd).transpose(2, 3) for br in (attn.q, attn.k, attn.v))
    windows = attn.head_windows or (0,) * h
    visible = head_window_mask(n, windows).to(s.dtype)  # [H, N, N]
    out = []
    for step in range(t):
        counts = q[step] @ k[step].transpose(-2, -1)  # shared spikes of every query and key
        if attn.attention == "softmax":
            weights = torch.exp(counts / math.sqrt(hd)) * visible
            out.append(attn.scale * (weights / weights.sum(-1, keepdim=True)) @ v[step])
        else:
            out.append(((counts * visible) @ v[step]) * (attn.scale / visible.sum(-1))[..., None])
    drive = torch.stack(out).transpose(2, 3).reshape(t, b, n, d)
    return _branch(attn.proj, _sn(attn.attn_lif, drive), stats, spiking_output)


def reference_forward(lm, x):
    """Logits of ``lm`` for ids ``x`` and the running statistics its batch norms would hold afterwards."""
    stats, spikes = {}, lm.residual == "spikes"
    e = lm.embed.weight[x] + lm.pos[: x.shape[1]]
    h = _bn(lm.embed_bn, e.unsqueeze(0).expand(lm.T, -1, -1, -1), stats)
    if spikes:
        h = _sn(lm.embed_lif, h)
    for block in lm.blocks:
        h = h + _attention(block.attn, _sn(block.attn_in, h), stats, spikes)
        mlp = block.mlp
        h = h + _branch(mlp.fc2, _branch(mlp.fc1, _sn(block.mlp_in, h), stats), stats, spikes)
    return F.linear(h.mean(0), lm.head.weight, lm.head.bias), stats


@lru_cache(maxsize=None)
def _trained(windows, dtype, residual, attention):
    """A model after a few optimiser steps (so that its batch norms have moved and many neurons spike)."""
    torch.manual_seed(0)
    lm = SpikingCharLM(
        V, N, dim=16, depth=2, num_heads=4, T=2, head_windows=windows, residual=residual, attention=attention
    ).to(dtype)
    opt = torch.optim.Adam(lm.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    for _ in range(30):  # enough for the running statistics to let the attention spike in eval mode too
        ids = torch.randint(0, V, (6, N + 1), generator=gen)
        loss = F.cross_entropy(lm(ids[:, :-1]).reshape(-1, V), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    reset(lm)  # no graph tensors in the LIF states: the cached model is deep-copied per test
    return lm


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 1e-5)])
@pytest.mark.parametrize("windows", [None, (2, 4, 1, 0)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("residual", ["spikes", "membrane"])
@pytest.mark.parametrize("attention", ["average", "softmax"])
def test_forward_backward_and_running_stats_equal_the_plain_reference(
    windows, dtype, tol, training, residual, attention, one_thread
):
    lm = copy.deepcopy(_trained(windows, dtype, residual, attention)).train(training)
    ids = torch.randint(0, V, (5, N), generator=torch.Generator().manual_seed(2))
    target = torch.randint(0, V, (5, N), generator=torch.Generator().manual_seed(3))
    params = [p for p in lm.parameters()]

    ref_logits, ref_stats = reference_forward(lm, ids)
    ref_grads = torch.autograd.grad(F.cross_entropy(ref_logits.reshape(-1, V), target.reshape(-1)), params)
    reset(lm)
    logits = lm(ids)
    grads = torch.autograd.grad(F.cross_entropy(logits.reshape(-1, V), target.reshape(-1)), params)

    assert logits.dtype == dtype
    torch.testing.assert_close(logits, ref_logits, rtol=tol, atol=tol)
    for (name, _), g, ref in zip(lm.named_parameters(), grads, ref_grads):
        torch.testing.assert_close(g, ref, rtol=tol, atol=tol, msg=lambda m, n=name: f"gradient of {n}: {m}")
    bns = {id(m): (name, m) for name, m in lm.named_modules() if isinstance(m, torch.nn.BatchNorm1d)}
    assert set(ref_stats) == set(bns)
    for key, (mean, var) in ref_stats.items():
        name, bn = bns[key]
        torch.testing.assert_close(bn.running_mean, mean, rtol=tol, atol=tol, msg=lambda m, n=name: f"{n} mean: {m}")
        torch.testing.assert_close(bn.running_var, var, rtol=tol, atol=tol, msg=lambda m, n=name: f"{n} var: {m}")
    named = dict(zip([name for name, _ in lm.named_parameters()], grads))
    for block in range(2):  # the comparison is not vacuous: gradients reach every attention projection
        for branch in "qkv":
            assert float(named[f"blocks.{block}.attn.{branch}.linear.weight"].abs().max()) > 1e-4
