"""The non-spiking twin of :class:`~neuromorph.models.spikformer.Spikformer`: the same layers and parameter count,
with every spiking neuron ``SN`` replaced by an activation ``f`` (GELU by default), softmax attention instead of
the spike product, and no time axis.

With ``NORM`` the normalisation of the Spikformer (``"batch"``, ``"layer"`` or ``"none"``, see
:func:`~neuromorph.models.spikformer.make_norm`) and heads of size ``d``::

    Q = NORM(X W_q),  K = NORM(X W_k),  V = NORM(X W_v)                 (no activation: real-valued)
    A_h = softmax(Q_h K_h^T / sqrt(d) + M) V_h                          (M = -inf on padding keys)
    Attn(X) = f(NORM(Concat_h(A_h) W_o + b_o))
    Block:  X <- X + Attn(X);  X <- X + f(NORM(f(NORM(X W_1 + b_1)) W_2 + b_2))
    logits = W_c dropout(mean_n X[:, n]) + b_c                           (mean over unmasked positions)

The input is :class:`~neuromorph.models.spikformer.SequenceEmbedding` followed by ``f(NORM(.))``, as in the
Spikformer. Every weight matrix, bias and normalisation parameter has the same shape as in the Spikformer built
with the same arguments (its neurons and the attention product have no parameters), so the two count the same
parameters.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuromorph.models.spikformer import SequenceEmbedding, make_norm, masked_mean, mlp_hidden
from neuromorph.utils import check_positive_int

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU}


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


class _LinearNorm(nn.Module):
    """``f(NORM(x W + b))`` (``f`` = identity when ``activation`` is None)."""

    def __init__(self, d_in: int, d_out: int, norm: str, activation: str | None, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out, bias=bias or norm == "none")
        self.norm = make_norm(norm, d_out)
        self.act = _activation(activation) if activation is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.norm(self.linear(x)))


class SelfAttention(nn.Module):
    """Softmax self-attention with normalised projections (module docstring); input and output ``[B, N, D]``.

    >>> SelfAttention(16, num_heads=2)(torch.randn(3, 5, 16)).shape
    torch.Size([3, 5, 16])
    """

    def __init__(self, dim: int, num_heads: int = 4, norm: str = "batch", activation: str = "gelu") -> None:
        super().__init__()
        check_positive_int("dim", dim)
        if not isinstance(num_heads, int) or isinstance(num_heads, bool) or num_heads < 1 or dim % num_heads:
            raise ValueError(f"num_heads must be a positive int dividing dim={dim}, got {num_heads!r}")
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.q = _LinearNorm(dim, dim, norm, None, bias=False)
        self.k = _LinearNorm(dim, dim, norm, None, bias=False)
        self.v = _LinearNorm(dim, dim, norm, None, bias=False)
        self.proj = _LinearNorm(dim, dim, norm, activation)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``x``: ``[B, N, D]``; ``mask``: optional bool ``[B, N]`` (True = a real position)."""
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"x must be [B, N, {self.dim}], got shape {tuple(x.shape)}")
        b, n, _ = x.shape

        def heads(t: Tensor) -> Tensor:
            return t.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        attn_mask = None
        if mask is not None:
            if mask.shape != (b, n) or mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor of shape {(b, n)}, got {mask.dtype} {tuple(mask.shape)}")
            attn_mask = (mask | ~mask.any(dim=1, keepdim=True))[:, None, None, :]  # an all-padding row sees all
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=1.0 / math.sqrt(self.head_dim))
        return self.proj(out.transpose(1, 2).reshape(b, n, self.dim))


class TransformerBlock(nn.Module):
    """``X <- X + Attn(X); X <- X + f(NORM(f(NORM(X W_1 + b_1)) W_2 + b_2))`` on ``[B, N, D]``.

    >>> TransformerBlock(8, num_heads=2, norm="layer")(torch.randn(2, 3, 8)).shape
    torch.Size([2, 3, 8])
    """

    def __init__(
        self, dim: int, num_heads: int = 4, mlp_ratio: float = 4.0, norm: str = "batch", activation: str = "gelu"
    ) -> None:
        super().__init__()
        hidden = mlp_hidden(dim, mlp_ratio)
        self.attn = SelfAttention(dim, num_heads, norm, activation)
        self.mlp = nn.Sequential(_LinearNorm(dim, hidden, norm, activation), _LinearNorm(hidden, dim, norm, activation))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(x, mask)
        return x + self.mlp(x)


class TransformerClassifier(nn.Module):
    """Non-spiking transformer classifier with the layers of :class:`~neuromorph.models.spikformer.Spikformer`.

    Takes the Spikformer's arguments except the spiking ones (``T``, ``scale``, ``time_shifts``, ``lif_kwargs``),
    plus ``activation`` (``"gelu"`` or ``"relu"``).

    >>> from neuromorph.models.spikformer import Spikformer
    >>> kwargs = dict(vocab_size=30, max_len=6, dim=16, depth=2, num_heads=2)
    >>> twin, snn = TransformerClassifier(3, **kwargs), Spikformer(3, **kwargs)
    >>> sum(p.numel() for p in twin.parameters()) == sum(p.numel() for p in snn.parameters())
    True
    >>> twin(torch.tensor([[4, 5, 0, 0, 0, 0]])).shape
    torch.Size([1, 3])
    """

    def __init__(
        self,
        num_classes: int,
        *,
        in_features: int | None = None,
        num_patches: int | None = None,
        vocab_size: int | None = None,
        max_len: int | None = None,
        dim: int = 64,
        depth: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        embeddings: Tensor | None = None,
        norm: str = "batch",
        dropout: float = 0.0,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_positive_int("depth", depth)
        self.embedding = SequenceEmbedding(
            dim,
            in_features=in_features,
            num_patches=num_patches,
            vocab_size=vocab_size,
            max_len=max_len,
            embeddings=embeddings,
            dropout=dropout,
        )
        self.num_classes = num_classes
        self.embed_norm = make_norm(norm, dim)
        self.embed_act = _activation(activation)
        self.blocks = nn.ModuleList(TransformerBlock(dim, num_heads, mlp_ratio, norm, activation) for _ in range(depth))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, num_classes]`` for token ids ``[B, N]`` or patches ``[B, N, P]``."""
        e, mask = self.embedding(x)
        h = self.embed_act(self.embed_norm(e))
        if mask is not None:
            h = h * mask[..., None].to(h.dtype)
        for block in self.blocks:
            h = block(h, mask)
        return self.head(self.dropout(masked_mean(h, mask, dim=1)))


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters (frozen buffers such as pre-trained embedding tables are not counted).

    >>> parameter_count(nn.Linear(3, 2))
    8
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["ACTIVATIONS", "SelfAttention", "TransformerBlock", "TransformerClassifier", "parameter_count"]
