"""A small causal spiking transformer language model (Spikformer attention without softmax, causally masked).

Shapes: ``T`` time steps, batch ``B``, ``N`` positions, width ``D``, ``H`` heads of size ``d = D / H``. ``SN`` is the
hard-reset LIF of :mod:`neuromorph.models.spikformer` (``beta = 0.5``, threshold 1, multi-step), ``BN`` a batch norm
over the features. ``M`` is the causal mask (``M[t, j] = 1`` for ``j <= t``, :func:`~neuromorph.models.lm.causal_mask`).

Causal spiking self-attention (:class:`CausalSpikingSelfAttention`)::

    Q = SN(BN(S W_q)),  K = SN(BN(S W_k)),  V = SN(BN(S W_v))                       # binary [T, B, N, D]
    A_h[t] = SN_attn( s / (n + 1) * ((Q_h[t] K_h[t]^T) * M) V_h[t] )   row n of the product divided by n + 1
    CSSA(S) = SN(BN(Concat_h(A_h) W_o + b_o))

No softmax: ``(Q K^T) * M`` counts, for query ``n``, the spikes it shares with every key ``j <= n``; dividing row
``n`` by the number of keys it sees, ``n + 1``, keeps the drive of early and late positions on one scale (this is
the only change to Spikformer's SSA besides the mask). ``SN_attn`` has threshold 0.5.

With ``attention="softmax"`` a head selects keys instead of averaging them: its weights are a causal softmax over
the same integer spike-count scores, and the LIF still turns the mix into spikes before ``W_o``::

    A_h[t] = SN_attn( s * softmax(Q_h[t] K_h[t]^T / sqrt(d) + log M)  V_h[t] )

``Q K^T`` stays a count of shared spikes and ``(.) V`` a sum of weights over the keys whose value spikes
(accumulates); the softmax adds one exponential per visible key and query (``neuromorph.tasks.char_lm.efficiency``
counts them), and every weight layer still reads spikes.

Optional per-head windows ``w_h`` (``head_windows``; 0 = unlimited): head ``h`` sees only the last ``w_h`` positions,
``M_h[n, j] = 1`` for ``n - w_h < j <= n``, and its row ``n`` is divided by ``min(n + 1, w_h)`` instead (with
``attention="softmax"``, ``M_h`` masks the softmax). Without a softmax the weights ``Q K^T`` are non-negative spike
counts, so a head cannot single out the previous characters among many; a short window gives it that locality by
construction.

Block (:class:`SpikingLMBlock`; every branch starts with its own LIF, as in the Spike-driven Transformer, Yao et
al. 2023): the residual stream ``X`` holds sums of spikes, and each weight layer inside a branch sees binary input
(accumulates, not multiply-accumulates)::

    X <- X + CSSA(SN(X));   X <- X + MLP(SN(X)),   MLP(S) = SN(BN(SN(BN(S W_1 + b_1)) W_2 + b_2))

Model (:class:`SpikingCharLM`): ``X_0 = SN(BN(E[x] + P))`` (token and learned position embeddings, the same at
every step: direct encoding), ``depth`` blocks, then the readout ``logits = W_c ((1/T) sum_t X[t]) + b_c`` (a
linear layer on the time mean of the residual stream, equal to the time mean of the per-step readouts and ``T``
times cheaper; its input is not binary, so it is counted as multiply-accumulates). Every forward pass starts from
rest.

With ``residual="membrane"`` the residual stream holds membrane drive instead of spikes, as in the Spike-driven
Transformer's membrane shortcut: the embedding and each branch's last batch norm are added without a LIF,
``X_0 = BN(E[x] + P)``, ``CSSA(S) = BN(Concat_h(A_h) W_o + b_o)`` and ``MLP(S) = BN(SN(BN(S W_1 + b_1)) W_2 + b_2)``.
Each branch still starts with its own LIF, so every weight layer inside the blocks still reads binary input; only
the stream (and the readout's input) is real-valued.

In eval mode the output at position ``t`` depends only on ``x[:, :t + 1]`` (tested by perturbation). In training
mode the batch norms take their statistics over all positions of the batch, as Spikformer does; that couples
positions through two numbers per feature only while training and is gone at inference (running statistics).

>>> import torch
>>> lm = SpikingCharLM(vocab_size=10, context=8, dim=16, depth=1, num_heads=2, T=2)
>>> lm(torch.randint(0, 10, (3, 8))).shape
torch.Size([3, 8, 10])
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from neuromorph.models.lm import CharLMBase, causal_mask, check_head_windows, head_window_mask, position_embedding
from neuromorph.models.spikformer import FlatBatchNorm, SpikingMLPBlock, SpikingSelfAttention, _lif
from neuromorph.neurons.base import reset as reset_states
from neuromorph.utils import check_choice, check_positive_int

RESIDUALS = ("spikes", "membrane")  # what the residual stream of SpikingCharLM adds up (module docstring)
ATTENTIONS = ("average", "softmax")  # how a causal spiking head weighs its visible keys (module docstring)


class CausalSpikingSelfAttention(SpikingSelfAttention):
    """Spikformer self-attention with a causal mask and a per-row ``1 / (n + 1)`` scale (module docstring).

    Same arguments as :class:`~neuromorph.models.spikformer.SpikingSelfAttention` (``time_shifts`` excepted);
    ``scale`` is ``s``; ``head_windows``: ``None`` or one window per head (0 = unlimited); ``spiking_output=False``
    returns ``BN(A W_o + b_o)`` (the membrane shortcut); ``attention``: ``"average"`` (``s / c_n`` times the
    masked spike-count scores) or ``"softmax"`` (``s`` times their causal softmax). Input and output are
    ``[T, B, N, D]``.

    In eval mode, changing the input at positions ``>= 3`` leaves the output at positions ``< 3`` unchanged (a low
    threshold makes the untrained layer spike):

    >>> _ = torch.manual_seed(0)
    >>> attn = CausalSpikingSelfAttention(dim=8, num_heads=2, lif_kwargs={"threshold": 0.1}).eval()
    >>> s = (torch.rand(2, 1, 5, 8, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    >>> changed = s.clone(); changed[:, :, 3:] = 1 - changed[:, :, 3:]
    >>> out = attn(s); reset_states(attn); out_changed = attn(changed)
    >>> out.shape, int(out[:, :, :3].sum()), torch.equal(out[:, :, :3], out_changed[:, :, :3])
    (torch.Size([2, 1, 5, 8]), 23, True)
    >>> torch.equal(out, out_changed)
    False
    >>> [round(v, 4) for v in attn.visibility(3)[1].flatten().tolist()]  # s / (n + 1) with s = 2
    [2.0, 1.0, 0.6667]
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 4,
        scale: float = 2.0,
        attn_threshold: float = 0.5,
        lif_kwargs: dict[str, Any] | None = None,
        head_windows: Sequence[int] | None = None,
        spiking_output: bool = True,
        attention: str = "average",
    ) -> None:
        super().__init__(dim, num_heads, scale, None, attn_threshold, lif_kwargs, spiking_output=spiking_output)
        self.head_windows = check_head_windows(head_windows, num_heads)
        self.attention = check_choice("attention", attention, ATTENTIONS)

    def visibility(self, n: int, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
        """``(mask, row_scale)``: float ``[H, n, n]`` (or ``[n, n]`` without windows) 0/1 visibility and the
        per-row factor ``s / (number of visible keys)`` shaped to broadcast over ``[..., H, n, d]``."""
        if self.head_windows is None:
            mask = causal_mask(n, device).float()
            return mask, (self.scale / torch.arange(1, n + 1, device=device, dtype=torch.float32))[:, None]
        mask = head_window_mask(n, self.head_windows, device).float()  # [H, n, n]
        return mask, (self.scale / mask.sum(-1))[..., None]

    def _visibility_cached(self, n: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """:meth:`visibility` in ``dtype``, built once per ``(n, device, dtype, windows)``."""
        key = (n, device, dtype, self.head_windows)
        cache = self.__dict__.setdefault("_visibility_cache", {})
        if key not in cache:
            mask, row_scale = self.visibility(n, device)
            cache[key] = (mask.to(dtype), row_scale.to(dtype))
        return cache[key]

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # type: ignore[override]
        if mask is not None:
            raise ValueError("CausalSpikingSelfAttention takes no padding mask (the causal mask is built in)")
        if x.dim() != 4 or x.shape[-1] != self.dim:
            raise ValueError(f"x must be [T, B, N, {self.dim}], got shape {tuple(x.shape)}")
        t, b, n, _ = x.shape
        q, k, v = self._heads(self.q(x)), self._heads(self.k(x)), self._heads(self.v(x))  # [T, B, H, N, d]
        visible, row_scale = self._visibility_cached(n, x.device, x.dtype)
        scores = q @ k.transpose(-2, -1)  # [T, B, H, N, N] spike counts
        if self.attention == "softmax":
            hidden = visible == 0
            weights = torch.softmax(scores.mul_(1.0 / math.sqrt(self.head_dim)).masked_fill_(hidden, -math.inf), -1)
            out = (weights @ v) * self.scale
        else:
            out = ((scores * visible) @ v) * row_scale
        out = out.transpose(2, 3).reshape(t, b, n, self.dim)
        return self.proj(self.attn_lif(out))


class SpikingLMBlock(nn.Module):
    """``X <- X + CSSA(SN(X)); X <- X + MLP(SN(X))`` on ``[T, B, N, D]`` (module docstring).

    Both branches add spikes, so an integer-valued residual stream stays integer-valued (with
    ``spiking_output=False`` they add their last batch norm's output instead: the membrane shortcut):

    >>> block = SpikingLMBlock(dim=8, num_heads=2, lif_kwargs={"threshold": 0.1}).eval()
    >>> x = torch.randint(0, 3, (2, 1, 4, 8), generator=torch.Generator().manual_seed(0)).float()
    >>> out = block(x)
    >>> out.shape, torch.equal(out, out.round()), bool((out >= x).all()), bool((out > x).any())
    (torch.Size([2, 1, 4, 8]), True, True, True)
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        scale: float = 2.0,
        lif_kwargs: dict[str, Any] | None = None,
        head_windows: Sequence[int] | None = None,
        spiking_output: bool = True,
        attention: str = "average",
    ) -> None:
        super().__init__()
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)) or not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be a number > 0, got {mlp_ratio!r}")
        self.attn_in = _lif(lif_kwargs)
        self.attn = CausalSpikingSelfAttention(
            dim,
            num_heads,
            scale,
            lif_kwargs=lif_kwargs,
            head_windows=head_windows,
            spiking_output=spiking_output,
            attention=attention,
        )
        self.mlp_in = _lif(lif_kwargs)
        self.mlp = SpikingMLPBlock(dim, max(1, int(round(dim * mlp_ratio))), lif_kwargs, spiking_output=spiking_output)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.attn_in(x))
        return x + self.mlp(self.mlp_in(x))


class SpikingCharLM(CharLMBase):
    """Causal spiking transformer next-token model: ids ``[B, N]`` -> logits ``[B, N, vocab_size]``.

    Args:
        vocab_size: number of token ids.
        context: longest input ``N`` (size of the learned position embedding).
        dim, depth, num_heads, mlp_ratio: width ``D``, number of blocks, heads, MLP hidden ratio.
        T: time steps each input is presented for.
        scale: attention scale ``s`` (after the ``1 / (n + 1)`` row normalisation).
        head_windows: ``None`` (every head sees all earlier positions) or one window per head, 0 = unlimited.
        lif_kwargs: overrides of the Spikformer LIF defaults (``neuromorph.models.spikformer.DEFAULT_LIF``).
        residual: ``"spikes"`` (the stream sums spikes) or ``"membrane"`` (the membrane shortcut: no LIF after the
            embedding and after each branch's last batch norm; module docstring).
        attention: ``"average"`` (Spikformer's softmax-free row average of the spike-count scores) or
            ``"softmax"`` (a causal softmax over them; module docstring).

    Causal in eval mode: the logits before a changed position do not move.

    >>> lm = SpikingCharLM(vocab_size=10, context=6, dim=16, depth=1, num_heads=2, T=2,
    ...                    lif_kwargs={"threshold": 0.1}).eval()
    >>> x = torch.randint(0, 10, (2, 6), generator=torch.Generator().manual_seed(0))
    >>> y = x.clone(); y[:, 4:] = (y[:, 4:] + 1) % 10
    >>> torch.equal(lm(x)[:, :4], lm(y)[:, :4]), torch.equal(lm(x)[:, 4:], lm(y)[:, 4:])
    (True, False)
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
        T: int = 2,
        scale: float = 2.0,
        lif_kwargs: dict[str, Any] | None = None,
        head_windows: Sequence[int] | None = None,
        residual: str = "spikes",
        attention: str = "average",
    ) -> None:
        super().__init__(vocab_size, context)
        check_positive_int("dim", dim)
        check_positive_int("depth", depth)
        self.T = check_positive_int("T", T)
        self.residual = check_choice("residual", residual, RESIDUALS)
        self.attention = check_choice("attention", attention, ATTENTIONS)
        spiking_stream = residual == "spikes"
        self.embed = nn.Embedding(vocab_size, dim)
        self.pos = position_embedding(context, dim)
        self.embed_bn = FlatBatchNorm(dim)
        self.embed_lif: nn.Module = _lif(lif_kwargs) if spiking_stream else nn.Identity()
        self.blocks = nn.ModuleList(
            SpikingLMBlock(dim, num_heads, mlp_ratio, scale, lif_kwargs, head_windows, spiking_stream, attention)
            for _ in range(depth)
        )
        self.head = nn.Linear(dim, vocab_size)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, N, vocab_size]`` for ids ``x`` ``[B, N]`` (time mean of the readout)."""
        x = self.check_ids(x)
        reset_states(self)
        n = x.shape[1]
        e = self.embed(x) + self.pos[:n]
        h = self.embed_lif(self.embed_bn(e.unsqueeze(0).expand(self.T, -1, -1, -1)))
        for block in self.blocks:
            h = block(h)
        return self.head(h.mean(dim=0))


__all__ = [
    "ATTENTIONS",
    "RESIDUALS",
    "CausalSpikingSelfAttention",
    "SpikingCharLM",
    "SpikingLMBlock",
]
