"""The non-spiking twin of the Spikformer: same parameter count, shapes, attention against a plain reference,
padding handling; the Spikformer's text options (frozen pre-trained vectors, LayerNorm, dropout)."""
from __future__ import annotations

import math

import pytest
import torch

from neuromorph.models.spikformer import SequenceEmbedding, Spikformer, masked_mean
from neuromorph.models.transformer import SelfAttention, TransformerClassifier, parameter_count

torch.set_num_threads(1)


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
@pytest.mark.parametrize("inputs", ["tokens", "glove", "patches"])
def test_twin_has_the_same_parameter_count(norm, inputs):
    kwargs = {"tokens": dict(vocab_size=40, max_len=9), "glove": dict(embeddings=torch.randn(40, 7), max_len=9),
              "patches": dict(in_features=6, num_patches=5)}[inputs]
    common = dict(dim=24, depth=2, num_heads=3, mlp_ratio=2.0, norm=norm, **kwargs)
    snn, twin = Spikformer(4, T=3, time_shifts=(0, 1, 2), **common), TransformerClassifier(4, **common)
    assert parameter_count(snn) == parameter_count(twin)
    shapes = sorted(tuple(p.shape) for p in snn.parameters())
    assert shapes == sorted(tuple(p.shape) for p in twin.parameters())


def test_frozen_pretrained_vectors_are_a_buffer_not_a_parameter():
    table = torch.randn(30, 5)
    model = Spikformer(2, embeddings=table, max_len=6, dim=8, depth=1, num_heads=2, T=2, norm="layer", dropout=0.2)
    assert torch.equal(model.embedding.table, table)
    assert all(p.data_ptr() != model.embedding.table.data_ptr() for p in model.parameters())
    ids = torch.tensor([[3, 4, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0]])
    model(ids).sum().backward()
    assert model.embedding.embed.weight.grad is not None
    table[0, 0] = 99.0
    assert model.embedding.table[0, 0] != 99.0  # a copy


def test_twin_shapes_and_padding_does_not_leak():
    torch.manual_seed(0)
    twin = TransformerClassifier(3, vocab_size=20, max_len=6, dim=16, depth=2, num_heads=2, norm="layer")
    twin.eval()
    a = torch.tensor([[5, 6, 7, 0, 0, 0]])
    out = twin(a)
    assert out.shape == (1, 3)
    # the same three tokens in a model with room for 6: padding neither attended nor pooled, so the logits
    # equal those of the unpadded input run through the same layers (positions 0..2 shared)
    h, mask = twin.embedding(a)
    h = twin.embed_act(twin.embed_norm(h)) * mask[..., None]
    short = h[:, :3]
    for block in twin.blocks:
        short = block(short)
    ref = twin.head(short.mean(dim=1))
    assert torch.allclose(out, ref, atol=1e-5)
    # all-padding rows do not produce NaN
    assert torch.isfinite(twin(torch.zeros(2, 6, dtype=torch.long))).all()


def test_self_attention_matches_a_plain_softmax_reference():
    torch.manual_seed(1)
    attn = SelfAttention(12, num_heads=3, norm="layer")
    x = torch.randn(2, 5, 12)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    out = attn(x, mask)
    q, k, v = attn.q(x), attn.k(x), attn.v(x)
    ref = torch.zeros(2, 5, 12)
    for b in range(2):
        for h in range(3):
            sl = slice(4 * h, 4 * h + 4)
            s = q[b, :, sl] @ k[b, :, sl].T / math.sqrt(4)
            s[:, ~mask[b]] = float("-inf")
            ref[b, :, sl] = torch.softmax(s, dim=-1) @ v[b, :, sl]
    assert torch.allclose(out, attn.proj(ref), atol=1e-5)


def test_spikformer_text_options_and_bad_arguments():
    model = Spikformer(2, vocab_size=20, max_len=5, dim=8, depth=1, num_heads=2, T=2, norm="layer")
    assert isinstance(model.embed_bn, torch.nn.LayerNorm)
    assert model(torch.randint(1, 20, (3, 5))).shape == (3, 2)
    with pytest.raises(ValueError, match="norm"):
        Spikformer(2, vocab_size=20, max_len=5, norm="group")
    with pytest.raises(ValueError, match="dropout"):
        Spikformer(2, vocab_size=20, max_len=5, dropout=1.0)
    with pytest.raises(ValueError, match="vocab_size"):
        SequenceEmbedding(8, vocab_size=10, max_len=4, embeddings=torch.randn(11, 3))
    with pytest.raises(ValueError, match="finite"):
        SequenceEmbedding(8, max_len=4, embeddings=torch.full((5, 3), float("nan")))
    with pytest.raises(ValueError, match="activation"):
        TransformerClassifier(2, vocab_size=20, max_len=5, activation="tanh")
    with pytest.raises(ValueError, match="num_heads"):
        SelfAttention(10, num_heads=3)
    with pytest.raises(ValueError, match="token ids"):
        TransformerClassifier(2, vocab_size=20, max_len=5)(torch.rand(2, 5))
    with pytest.raises(TypeError, match="model"):
        parameter_count("not a model")


def test_masked_mean_ignores_padding_on_time_major_tensors():
    x = torch.arange(2 * 1 * 3 * 2, dtype=torch.float32).reshape(2, 1, 3, 2)   # [T, B, N, D]
    mask = torch.tensor([[True, False, True]])
    assert torch.allclose(masked_mean(x, mask, dim=2), x[:, :, [0, 2]].mean(dim=2))
