"""Spikformer: shapes, attention equations against a loop reference, time shifts, masking, training signal."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from neuromorph.models.spikformer import (FlatBatchNorm, Spikformer, SpikformerBlock, SpikingSelfAttention,
                                          image_to_patches, shift_time)
from neuromorph.neurons.base import reset

torch.set_num_threads(1)


def _binary(t: torch.Tensor) -> bool:
    return bool(((t == 0) | (t == 1)).all())


def reference_ssa(attn: SpikingSelfAttention, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Loop-over-(t, h) reference of the docstring equations, reusing the layer's own sublayers."""
    reset(attn)
    T, B, N, D = x.shape
    H, d = attn.num_heads, attn.head_dim
    q, k, v = attn.q(x), attn.k(x), attn.v(x)
    if mask is not None:
        k = k * mask[None, :, :, None]
        v = v * mask[None, :, :, None]
    shifts = attn.time_shifts or (0,) * H
    pre = torch.zeros(T, B, N, D)
    assert H * d == D
    for t in range(T):
        for h in range(H):
            sl = slice(h * d, (h + 1) * d)
            ts = t - shifts[h]
            if ts < 0:
                continue  # K~, V~ are zero before the delay
            qh, kh, vh = q[t, :, :, sl], k[ts, :, :, sl], v[ts, :, :, sl]
            pre[t, :, :, sl] = torch.bmm(torch.bmm(qh, kh.transpose(1, 2)), vh) * attn.scale
    return attn.proj(attn.attn_lif(pre))


@pytest.mark.parametrize("n_tokens", [6, 20])  # N <= d uses (QK^T)V, N > d uses Q(K^TV)
@pytest.mark.parametrize("shifts", [None, (0, 1, 2, 3)])
def test_attention_matches_loop_reference(n_tokens, shifts):
    torch.manual_seed(0)
    attn = SpikingSelfAttention(32, num_heads=4, scale=0.5, time_shifts=shifts)  # head_dim 8
    x = torch.randn(4, 3, n_tokens, 32) * 2
    reset(attn)
    out = attn(x)
    ref = reference_ssa(attn, x)
    assert out.shape == (4, 3, n_tokens, 32)
    assert _binary(out)
    assert 0.0 < float(out.detach().mean()) < 1.0
    assert torch.equal(out, ref)


def test_attention_product_is_zero_before_head_delay():
    torch.manual_seed(1)
    attn = SpikingSelfAttention(8, num_heads=2, time_shifts=(0, 2))
    seen = {}
    attn.attn_lif.register_forward_pre_hook(lambda mod, args: seen.setdefault("pre", args[0].detach().clone()))
    attn(torch.randn(4, 2, 5, 8) * 3)
    pre = seen["pre"]  # [T, B, N, D]; head 1 = features 4..7, delay 2
    assert torch.count_nonzero(pre[:2, :, :, 4:]) == 0
    assert torch.count_nonzero(pre[2:, :, :, 4:]) > 0
    assert torch.count_nonzero(pre[:, :, :, :4]) > 0


def test_shift_time_definition():
    x = torch.arange(1.0, 5.0).reshape(4, 1, 1).expand(4, 3, 1).clone()  # [T=4, H=3, 1], value = t + 1
    out = shift_time(x, (0, 1, 3), head_dim=1)
    assert out[:, 0, 0].tolist() == [1, 2, 3, 4]
    assert out[:, 1, 0].tolist() == [0, 1, 2, 3]
    assert out[:, 2, 0].tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="shifts"):
        shift_time(x, (0, 1), head_dim=1)


def test_masked_positions_do_not_influence_kept_ones():
    torch.manual_seed(2)
    attn = SpikingSelfAttention(8, num_heads=2).eval()  # eval: BN uses running stats, no batch coupling
    for bn in (m for m in attn.modules() if isinstance(m, FlatBatchNorm)):
        bn.running_var.fill_(0.25)
    x = torch.randn(4, 2, 6, 8) * 2
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    reset(attn)
    a = attn(x, mask)
    x2 = x.clone()
    x2[:, 0, 4:] = torch.randn(4, 2, 8) * 5
    reset(attn)
    b = attn(x2, mask)
    assert torch.equal(a[:, 0, :4], b[:, 0, :4])
    assert torch.equal(a[:, 1], b[:, 1])


def test_flat_batchnorm_equals_batchnorm_on_flattened_input():
    torch.manual_seed(3)
    x = torch.randn(2, 3, 5, 6)
    bn, ref = FlatBatchNorm(6), nn.BatchNorm1d(6)
    assert torch.allclose(bn(x), ref(x.reshape(-1, 6)).reshape(x.shape))


def test_classifier_shapes_patches_and_tokens():
    torch.manual_seed(4)
    img = Spikformer(10, in_features=4, num_patches=16, dim=16, depth=2, num_heads=2, T=3)
    assert img(torch.rand(5, 16, 4)).shape == (5, 10)
    assert img(torch.rand(3, 5, 16, 4)).shape == (5, 10)  # time-resolved input
    assert img(torch.rand(2, 16, 4)).shape == (2, 10)     # new batch size: state reset inside forward
    txt = Spikformer(3, vocab_size=50, max_len=7, dim=16, depth=1, num_heads=4, time_shifts=(0, 1, 0, 2))
    ids = torch.randint(1, 50, (4, 7))
    ids[:, 5:] = 0
    assert txt(ids).shape == (4, 3)


def test_block_residual_and_gradients():
    torch.manual_seed(5)
    block = SpikformerBlock(16, num_heads=4, mlp_ratio=2.0)
    x = (torch.rand(4, 2, 6, 16) < 0.3).float()
    out = block(x)
    assert out.shape == x.shape
    assert torch.all(out >= x)  # residual adds non-negative spikes
    out.sum().backward()
    grads = [p.grad for p in block.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_image_to_patches_layout():
    img = torch.arange(16.0).reshape(1, 4, 4)
    p = image_to_patches(img, 2)
    assert p.shape == (1, 4, 4)
    assert p[0, 0].tolist() == [0, 1, 4, 5]
    assert p[0, 3].tolist() == [10, 11, 14, 15]
    with pytest.raises(ValueError, match="patch_size"):
        image_to_patches(img, 3)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_heads"):
        SpikingSelfAttention(10, num_heads=3)
    with pytest.raises(ValueError, match="time_shifts"):
        SpikingSelfAttention(8, num_heads=2, time_shifts=(0, -1))
    with pytest.raises(ValueError, match="either"):
        Spikformer(2, in_features=4, num_patches=3, vocab_size=10, max_len=3)
    with pytest.raises(ValueError, match="time_shifts"):
        Spikformer(2, in_features=4, num_patches=3, dim=8, num_heads=2, T=2, time_shifts=(0, 2))
    model = Spikformer(2, vocab_size=10, max_len=3, dim=8, num_heads=2)
    with pytest.raises(ValueError, match="token ids"):
        model(torch.rand(2, 3))
    attn = SpikingSelfAttention(8, num_heads=2)
    with pytest.raises(ValueError, match="mask"):
        attn(torch.rand(2, 1, 3, 8), torch.ones(1, 3))


def test_overfits_a_small_batch():
    torch.manual_seed(6)
    model = Spikformer(4, in_features=4, num_patches=9, dim=16, depth=1, num_heads=2, T=2)
    x, y = torch.rand(32, 9, 4), torch.arange(32) % 4
    x = x + y[:, None, None] * 0.5  # class-dependent brightness
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bf16_autocast_runs():
    model = Spikformer(3, in_features=4, num_patches=4, dim=8, depth=1, num_heads=2, T=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.rand(4, 4, 4))
    out.float().sum().backward()
    assert torch.isfinite(model.head.weight.grad).all()


@pytest.mark.slow
def test_digits_accuracy_after_ten_epochs():
    from neuromorph.training import TrainConfig, train

    result = train(TrainConfig(model="spikformer", dataset="digits", epochs=10, lr=3e-3, device="cpu",
                               show_progress=False), log=None)
    assert result.final_test_accuracy >= 0.90
