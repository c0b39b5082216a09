"""The non-spiking twin of :class:`~neuromorph.models.spiking_lm.SpikingCharLM`: same width, depth, heads, MLP
ratio and weight shapes, and exactly the same number of parameters, with the spikes taken out.

Each ``SN(BN(.))`` of the spiking model becomes a layer norm ``LN(.)`` (``LN`` has the same ``2 * width`` parameters
as the affine batch norm it replaces), the branch-input LIFs become the identity, the hidden MLP LIF a GELU, and the
spike-product attention ordinary causal softmax attention::

    Q = LN_q(X W_q),  K = LN_k(X W_k),  V = LN_v(X W_v)
    A_h = softmax(Q_h K_h^T / sqrt(d) + log M_h) V_h      (M_h: causal mask, optionally windowed; log 0 = -inf)
    X <- X + LN_o(Concat_h(A_h) W_o + b_o)
    X <- X + LN_2(GELU(LN_1(X W_1 + b_1)) W_2 + b_2)

Input ``X_0 = LN_e(E[x] + P)``; readout ``logits = W_c X + b_c``. The layer norms sit where the spiking model
normalises (on every branch output, "sandwich" style), so the residual stream itself is never normalised, as in the
spiking model.

>>> import torch
>>> from neuromorph.models.spiking_lm import SpikingCharLM
>>> twin = TransformerCharLM(vocab_size=10, context=8, dim=16, depth=1, num_heads=2)
>>> spiking = SpikingCharLM(vocab_size=10, context=8, dim=16, depth=1, num_heads=2)
>>> sum(p.numel() for p in twin.parameters()) == sum(p.numel() for p in spiking.parameters())
True
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from typing import Sequence

from neuromorph.models.lm import CharLMBase, check_head_windows, head_window_mask, position_embedding
from neuromorph.utils import check_positive_int


class CausalSelfAttention(nn.Module):
    """Causal softmax attention with a layer norm after each of the ``q, k, v, o`` projections, ``[B, N, D]``.

    >>> import torch
    >>> attn = CausalSelfAttention(dim=8, num_heads=2)
    >>> x = torch.randn(1, 5, 8, generator=torch.Generator().manual_seed(0))
    >>> changed = x.clone(); changed[:, 3:] += 1.0
    >>> out = attn(x)
    >>> out.shape, torch.allclose(out[:, :3], attn(changed)[:, :3], atol=1e-6)
    (torch.Size([1, 5, 8]), True)
    """

    attention = "softmax"  # how a head weighs its keys (as CausalSpikingSelfAttention.attention)

    def __init__(self, dim: int, num_heads: int = 4, head_windows: Sequence[int] | None = None) -> None:
        super().__init__()
        check_positive_int("dim", dim)
        if not isinstance(num_heads, int) or isinstance(num_heads, bool) or num_heads < 1 or dim % num_heads:
            raise ValueError(f"num_heads must be a positive int dividing dim={dim}, got {num_heads!r}")
        self.head_windows = check_head_windows(head_windows, num_heads)
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.q, self.k, self.v = (nn.Linear(dim, dim, bias=False) for _ in range(3))
        self.q_norm, self.k_norm, self.v_norm = (nn.LayerNorm(dim) for _ in range(3))
        self.proj = nn.Linear(dim, dim)
        self.proj_norm = nn.LayerNorm(dim)

    def _heads(self, x: Tensor) -> Tensor:  # [B, N, D] -> [B, H, N, d]
        b, n, _ = x.shape
        return x.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        q = self._heads(self.q_norm(self.q(x)))
        k = self._heads(self.k_norm(self.k(x)))
        v = self._heads(self.v_norm(self.v(x)))
        if self.head_windows is None:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            mask = head_window_mask(n, self.head_windows, x.device)  # [H, N, N], True = see
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj_norm(self.proj(out.transpose(1, 2).reshape(b, n, self.dim)))


class TransformerLMBlock(nn.Module):
    """``X <- X + Attn(X); X <- X + LN_2(W_2 GELU(LN_1(W_1 X + b_1)) + b_2)`` on ``[B, N, D]``.

    With every head window 1, each position sees only itself, so it equals the block run on that position alone:

    >>> import torch
    >>> block = TransformerLMBlock(dim=8, num_heads=2, head_windows=[1, 1])
    >>> x = torch.randn(1, 4, 8, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(block(x)[:, 2], block(x[:, 2:3])[:, 0], atol=1e-6)
    True
    """

    def __init__(
        self, dim: int, num_heads: int = 4, mlp_ratio: float = 4.0, head_windows: Sequence[int] | None = None
    ) -> None:
        super().__init__()
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)) or not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be a number > 0, got {mlp_ratio!r}")
        hidden = max(1, int(round(dim * mlp_ratio)))
        self.attn = CausalSelfAttention(dim, num_heads, head_windows)
        self.fc1, self.fc1_norm = nn.Linear(dim, hidden), nn.LayerNorm(hidden)
        self.fc2, self.fc2_norm = nn.Linear(hidden, dim), nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(x)
        return x + self.fc2_norm(self.fc2(F.gelu(self.fc1_norm(self.fc1(x)))))


class TransformerCharLM(CharLMBase):
    """Non-spiking causal transformer next-token model: ids ``[B, N]`` -> logits ``[B, N, vocab_size]``.

    Arguments as :class:`~neuromorph.models.spiking_lm.SpikingCharLM` without the spiking ones (``T``, ``scale``,
    ``lif_kwargs``); ``head_windows`` limits head ``h`` to the last ``w_h`` positions (0 = unlimited).

    >>> import torch
    >>> lm = TransformerCharLM(vocab_size=10, context=6, dim=16, depth=1, num_heads=2)
    >>> x = torch.randint(0, 10, (2, 6), generator=torch.Generator().manual_seed(0))
    >>> y = x.clone(); y[:, 4:] = (y[:, 4:] + 1) % 10
    >>> lm(x).shape, torch.allclose(lm(x)[:, :4], lm(y)[:, :4], atol=1e-6)
    (torch.Size([2, 6, 10]), True)
    """

    def __init__(
        self,
        vocab_size: int,
        context: int,
        *,
        dim: int = 128,
        depth: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        head_windows: Sequence[int] | None = None,
    ) -> None:
        super().__init__(vocab_size, context)
        check_positive_int("dim", dim)
        check_positive_int("depth", depth)
        self.embed = nn.Embedding(vocab_size, dim)
        self.pos = position_embedding(context, dim)
        self.embed_norm = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList(TransformerLMBlock(dim, num_heads, mlp_ratio, head_windows) for _ in range(depth))
        self.head = nn.Linear(dim, vocab_size)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, N, vocab_size]`` for ids ``x`` ``[B, N]``."""
        x = self.check_ids(x)
        h = self.embed_norm(self.embed(x) + self.pos[: x.shape[1]])
        for block in self.blocks:
            h = block(h)
        return self.head(h)


__all__ = ["CausalSelfAttention", "TransformerCharLM", "TransformerLMBlock"]
