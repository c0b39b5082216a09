"""Spikformer-style spiking transformer (after Zhou et al. 2022), multi-step ``[T, B, N, D]``.

Notation: ``SN`` is a :class:`~neuromorph.neurons.lif.LIF` layer in ``step_mode="multi"`` (default here:
``beta=0.5, threshold=1.0, reset="zero", detach_reset=True``, i.e. the hard-reset LIF with tau = 2 used by
Spikformer), ``BN`` is ``BatchNorm1d`` over the feature dimension applied to the flattened ``[T*B*N, D]`` tensor.

Spiking self-attention (:class:`SpikingSelfAttention`) with ``H`` heads of size ``d = D / H``::

    Q = SN(BN(X W_q)),  K = SN(BN(X W_k)),  V = SN(BN(X W_v))            # binary, [T, B, N, D]
    A_h[t] = SN_attn( Q_h[t] K~_h[t]^T V~_h[t] * s )                     # no softmax, s = 0.125 by default
    SSA(X) = SN(BN(Concat_h(A_h) W_o + b_o))

``SN_attn`` has threshold 0.5 (as in Spikformer). Because Q, K, V are 0/1, ``(Q K^T) V == Q (K^T V)`` exactly in
floating point (all partial sums are small integers), so the cheaper order is chosen from ``N`` and ``d``.

Per-head time shift ("phase-shifted" attention, optional): head ``h`` has a delay ``d_h`` in ``{0, ..., T-1}``
and attends to keys/values emitted ``d_h`` steps earlier::

    K~_h[t] = K_h[t - d_h] if t >= d_h else 0,      V~_h[t] = V_h[t - d_h] if t >= d_h else 0

With all ``d_h = 0`` (the default) this is plain Spikformer SSA. A padding mask ``M`` (``[B, N]``, True = real token)
zeroes masked keys and values: ``K <- K * M``, ``V <- V * M``.

Block (:class:`SpikformerBlock`): ``X <- X + SSA(X)``, then ``X <- X + MLP(X)`` with
``MLP(X) = SN(BN(SN(BN(X W_1 + b_1)) W_2 + b_2))``.

Classifier (:class:`Spikformer`): an input embedding ``E`` (:class:`SequenceEmbedding`: patches ``Linear(P, D)``;
tokens ``Embedding`` with ``padding_idx=0``, or frozen pre-trained word vectors ``V`` followed by ``Linear(E, D)``)
plus a learned position embedding, repeated over the ``T`` steps (direct encoding), then ``SN(BN(.))``, ``depth``
blocks, mean over the (unmasked) positions, a linear head, and the mean of the logits over time:
``logits = (1/T) sum_t W_c mean_n X[t, :, n] + b_c``. ``dropout`` (training only) acts on the embedding and on the
pooled features.

Normalisation (``norm``): ``"batch"`` (``BN`` above, Spikformer), ``"layer"`` (``LayerNorm`` over the features of
each token and step; the same number of parameters, and no statistics shared across the batch) or ``"none"``
(``batch_norm=False`` in the layers means ``"none"``; online learning needs it).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn

from neuromorph.neurons.base import reset as reset_states
from neuromorph.neurons.lif import LIF
from neuromorph.utils import check_bool, check_per_head_ints, check_positive_int

DEFAULT_LIF: dict[str, Any] = {"beta": 0.5, "threshold": 1.0, "reset": "zero", "detach_reset": True}


def _lif(lif_kwargs: dict[str, Any] | None, **override: Any) -> LIF:
    kwargs = {**DEFAULT_LIF, **(lif_kwargs or {}), **override}
    kwargs["step_mode"] = "multi"
    return LIF(**kwargs)


class FlatBatchNorm(nn.BatchNorm1d):
    """``BatchNorm1d`` over the last (feature) dimension of a ``[..., D]`` tensor, flattened to ``[-1, D]``.

    >>> FlatBatchNorm(3)(torch.rand(4, 2, 5, 3)).shape
    torch.Size([4, 2, 5, 3])
    """

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        if x.shape[-1] != self.num_features:
            raise ValueError(f"FlatBatchNorm expects last dim {self.num_features}, got shape {tuple(x.shape)}")
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


NORMS = ("batch", "layer", "none")


def make_norm(norm: str, dim: int) -> nn.Module:
    """The feature normalisation ``norm`` in :data:`NORMS` for width ``dim`` (``"none"``: identity).

    >>> type(make_norm("layer", 8)).__name__, type(make_norm("none", 8)).__name__
    ('LayerNorm', 'Identity')
    """
    if norm == "batch":
        return FlatBatchNorm(dim)
    if norm == "layer":
        return nn.LayerNorm(dim)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def _resolve_norm(norm: str, batch_norm: bool) -> str:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return norm if batch_norm else "none"


class _LinearBNLIF(nn.Module):
    """``SN(BN(x W + b))`` on ``[T, B, N, D_in]`` (``SN(x W + b)`` with ``norm="none"``; ``BN(x W + b)``, no LIF,
    with ``spiking=False``)."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        lif_kwargs: dict[str, Any] | None,
        bias: bool = True,
        norm: str = "batch",
        spiking: bool = True,
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out, bias=bias or norm == "none")
        self.bn: nn.Module = make_norm(norm, d_out)
        self.lif: nn.Module = _lif(lif_kwargs) if spiking else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.lif(self.bn(self.linear(x)))


def shift_time(x: Tensor, shifts: Sequence[int], head_dim: int = 2) -> Tensor:
    """Delay each head along time: ``out[t, ..., h, ...] = x[t - shifts[h], ..., h, ...]`` (zero for ``t < shift``).

    ``x`` is ``[T, ...]`` with the heads on dimension ``head_dim``; ``len(shifts)`` must equal ``x.shape[head_dim]``.

    >>> x = torch.arange(3.0).reshape(3, 1, 1, 1).expand(3, 1, 2, 1)   # [T, B, H, d]
    >>> shift_time(x, [0, 1])[:, 0, :, 0].tolist()
    [[0.0, 0.0], [1.0, 0.0], [2.0, 1.0]]
    """
    steps = x.shape[0]
    if len(shifts) != x.shape[head_dim]:
        raise ValueError(f"shifts must have one entry per head ({x.shape[head_dim]}), got {len(shifts)}")
    parts = []
    for h, d in enumerate(shifts):
        xh = x.select(head_dim, h)
        if d == 0:
            parts.append(xh)
        elif d >= steps:
            parts.append(torch.zeros_like(xh))
        else:
            parts.append(torch.cat([xh.new_zeros((d, *xh.shape[1:])), xh[: steps - d]], dim=0))
    return torch.stack(parts, dim=head_dim)


def _check_shifts(time_shifts: Sequence[int] | None, num_heads: int) -> tuple[int, ...] | None:
    shifts = check_per_head_ints("time_shifts", time_shifts, num_heads)
    return shifts if shifts is not None and any(shifts) else None


class SpikingSelfAttention(nn.Module):
    """Spike-product self-attention without softmax (see the module docstring for the equations).

    Args:
        dim: model width ``D`` (divisible by ``num_heads``).
        num_heads: number of heads ``H``.
        scale: the constant ``s`` multiplying ``Q K^T V`` (Spikformer: 0.125).
        time_shifts: None, or one non-negative delay ``d_h`` (time steps) per head.
        attn_threshold: threshold of the LIF after the attention product (Spikformer: 0.5).
        lif_kwargs: overrides of the LIF defaults ``DEFAULT_LIF`` for every LIF in the layer.
        batch_norm: BN after every projection (Spikformer); False drops it (and gives the projections a bias),
            which online learning needs: BN between a synapse and its neuron changes scale every step.
        norm: ``"batch"``, ``"layer"`` or ``"none"`` (see the module docstring); ``batch_norm=False`` forces
            ``"none"``.
        spiking_output: False drops the LIF after the output projection: the layer returns ``BN(A W_o + b_o)``
            (real-valued, for a membrane shortcut); every weight layer still reads spikes.

    >>> out = SpikingSelfAttention(dim=8, num_heads=2)(torch.rand(2, 3, 5, 8))
    >>> out.shape, bool(((out == 0) | (out == 1)).all())
    (torch.Size([2, 3, 5, 8]), True)
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 4,
        scale: float = 0.125,
        time_shifts: Sequence[int] | None = None,
        attn_threshold: float = 0.5,
        lif_kwargs: dict[str, Any] | None = None,
        batch_norm: bool = True,
        norm: str = "batch",
        spiking_output: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int("dim", dim)
        check_bool("spiking_output", spiking_output)
        if not isinstance(num_heads, int) or num_heads < 1 or dim % num_heads:
            raise ValueError(f"num_heads must be a positive int dividing dim={dim}, got {num_heads!r}")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self.dim, self.num_heads, self.scale = dim, num_heads, float(scale)
        self.head_dim = dim // num_heads
        self.time_shifts = _check_shifts(time_shifts, num_heads)
        norm = _resolve_norm(norm, batch_norm)
        self.q = _LinearBNLIF(dim, dim, lif_kwargs, bias=False, norm=norm)
        self.k = _LinearBNLIF(dim, dim, lif_kwargs, bias=False, norm=norm)
        self.v = _LinearBNLIF(dim, dim, lif_kwargs, bias=False, norm=norm)
        self.attn_lif = _lif(lif_kwargs, threshold=attn_threshold)
        self.proj = _LinearBNLIF(dim, dim, lif_kwargs, norm=norm, spiking=spiking_output)

    def _heads(self, x: Tensor) -> Tensor:  # [T, B, N, D] -> [T, B, H, N, d]
        t, b, n, _ = x.shape
        return x.reshape(t, b, n, self.num_heads, self.head_dim).transpose(2, 3)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``x``: ``[T, B, N, D]``; ``mask``: optional bool ``[B, N]`` (True = keep).

        Returns spikes ``[T, B, N, D]`` (``BN(A W_o + b_o)`` with ``spiking_output=False``).
        """
        if x.dim() != 4 or x.shape[-1] != self.dim:
            raise ValueError(f"x must be [T, B, N, {self.dim}], got shape {tuple(x.shape)}")
        t, b, n, _ = x.shape
        q, k, v = self.q(x), self.k(x), self.v(x)
        if mask is not None:
            if mask.shape != (b, n) or mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor of shape {(b, n)}, got {mask.dtype} {tuple(mask.shape)}")
            keep = mask[None, :, :, None].to(k.dtype)
            k, v = k * keep, v * keep
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        if self.time_shifts is not None:
            k, v = shift_time(k, self.time_shifts), shift_time(v, self.time_shifts)
        if n > self.head_dim:
            out = q @ (k.transpose(-2, -1) @ v)  # [T,B,H,N,d] @ [T,B,H,d,d]
        else:
            out = (q @ k.transpose(-2, -1)) @ v  # [T,B,H,N,N] @ [T,B,H,N,d]
        out = out.transpose(2, 3).reshape(t, b, n, self.dim) * self.scale
        return self.proj(self.attn_lif(out))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, scale={self.scale}, time_shifts={self.time_shifts}"


class SpikingMLPBlock(nn.Module):
    """``SN(BN(SN(BN(x W_1 + b_1)) W_2 + b_2))`` on ``[T, B, N, D]`` with hidden width ``hidden``
    (``spiking_output=False``: ``BN(SN(BN(x W_1 + b_1)) W_2 + b_2)``, real-valued, for a membrane shortcut).

    >>> out = SpikingMLPBlock(dim=8, hidden=16)(torch.rand(2, 3, 5, 8))
    >>> out.shape, bool(((out == 0) | (out == 1)).all())
    (torch.Size([2, 3, 5, 8]), True)
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        lif_kwargs: dict[str, Any] | None = None,
        batch_norm: bool = True,
        norm: str = "batch",
        spiking_output: bool = True,
    ) -> None:
        super().__init__()
        check_bool("spiking_output", spiking_output)
        norm = _resolve_norm(norm, batch_norm)
        self.fc1 = _LinearBNLIF(dim, hidden, lif_kwargs, norm=norm)
        self.fc2 = _LinearBNLIF(hidden, dim, lif_kwargs, norm=norm, spiking=spiking_output)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.fc1(x))


class SpikformerBlock(nn.Module):
    """``X <- X + SSA(X); X <- X + MLP(X)`` (residuals add spike tensors, so X holds small integers).

    >>> block = SpikformerBlock(dim=8, num_heads=2)
    >>> block(torch.rand(2, 3, 5, 8)).shape       # [T, B, N, D]
    torch.Size([2, 3, 5, 8])
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        scale: float = 0.125,
        time_shifts: Sequence[int] | None = None,
        lif_kwargs: dict[str, Any] | None = None,
        batch_norm: bool = True,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        self.attn = SpikingSelfAttention(
            dim, num_heads, scale, time_shifts, lif_kwargs=lif_kwargs, batch_norm=batch_norm, norm=norm
        )
        self.mlp = SpikingMLPBlock(dim, mlp_hidden(dim, mlp_ratio), lif_kwargs, batch_norm, norm)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(x, mask)
        return x + self.mlp(x)


def mlp_hidden(dim: int, mlp_ratio: float) -> int:
    """Hidden width ``max(1, round(dim * mlp_ratio))`` of a transformer MLP block.

    >>> mlp_hidden(64, 2.0)
    128
    """
    if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)) or not mlp_ratio > 0:
        raise ValueError(f"mlp_ratio must be > 0, got {mlp_ratio!r}")
    return max(1, int(round(dim * mlp_ratio)))


def masked_mean(x: Tensor, mask: Tensor | None, dim: int) -> Tensor:
    """Mean of ``x`` ``[..., B, N, D]`` over the position axis ``dim`` (that of ``N``), counting only positions where
    ``mask`` ``[B, N]`` is True (None: plain mean).

    >>> masked_mean(torch.tensor([[[1.0], [3.0], [9.0]]]), torch.tensor([[True, True, False]]), dim=1)
    tensor([[2.]])
    """
    if mask is None:
        return x.mean(dim=dim)
    m = mask.reshape((1,) * (x.dim() - 3) + tuple(mask.shape) + (1,)).to(x.dtype)
    return (x * m).sum(dim=dim) / m.sum(dim=dim).clamp_min(1.0)


class SequenceEmbedding(nn.Module):
    """Input embedding of a transformer classifier, ``[B, N, D]`` (plus the padding mask for tokens).

    Patches ``[B, N, P]``: ``x W + b + pos``. Token ids ``[B, N]`` (0 = padding): ``Embedding(ids) + pos``, or, with
    ``embeddings`` (a ``[V, E]`` table of pre-trained vectors, kept frozen as a buffer), ``Linear(E, D)`` of the
    looked-up vectors ``+ pos``. ``dropout`` acts on the looked-up vectors / patches during training.

    >>> emb = SequenceEmbedding(8, vocab_size=10, max_len=5)
    >>> out, mask = emb(torch.tensor([[3, 4, 0, 0, 0]]))
    >>> tuple(out.shape), mask.tolist()
    ((1, 5, 8), [[True, True, False, False, False]])
    """

    def __init__(
        self,
        dim: int,
        *,
        in_features: int | None = None,
        num_patches: int | None = None,
        vocab_size: int | None = None,
        max_len: int | None = None,
        embeddings: Tensor | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive_int("dim", dim)
        if embeddings is not None:
            if not isinstance(embeddings, Tensor) or embeddings.dim() != 2 or not embeddings.is_floating_point():
                raise ValueError("embeddings must be a float tensor [vocab_size, E]")
            if not bool(torch.isfinite(embeddings).all()):
                raise ValueError("embeddings must be finite")
            if vocab_size is None:
                vocab_size = int(embeddings.shape[0])
            elif vocab_size != embeddings.shape[0]:
                raise ValueError(f"vocab_size={vocab_size} disagrees with embeddings of {embeddings.shape[0]} rows")
        patches = in_features is not None or num_patches is not None
        tokens = vocab_size is not None or max_len is not None
        if patches == tokens:
            raise ValueError(
                "give either in_features and num_patches (patch input) or vocab_size and max_len (token input)"
            )
        width = check_positive_int("in_features" if patches else "vocab_size", in_features if patches else vocab_size)
        length = check_positive_int("num_patches" if patches else "max_len", num_patches if patches else max_len)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.mode = "patches" if patches else "tokens"
        self.length, self.dim = int(length), dim
        self.table: Tensor | None
        if embeddings is not None:
            self.register_buffer("table", embeddings.detach().float().clone())
            self.embed: nn.Module = nn.Linear(embeddings.shape[1], dim)
        else:
            self.table = None
            self.embed = nn.Linear(width, dim) if patches else nn.Embedding(width, dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.pos = nn.Parameter(torch.zeros(self.length, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)

    def check_input(self, x: Tensor) -> None:
        """Raise ``ValueError``/``TypeError`` unless ``x`` is ``[B, N]`` int64 ids or ``[B, N, P]`` float patches."""
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if self.mode == "tokens":
            if x.dim() != 2 or x.dtype != torch.long or x.shape[1] != self.length:
                raise ValueError(f"x must be int64 token ids [B, {self.length}], got {x.dtype} {tuple(x.shape)}")
        elif not x.is_floating_point():
            raise TypeError(f"x must be floating point patches, got dtype {x.dtype}")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """``([B, N, D] embeddings, [B, N] bool mask or None)`` for tokens ``[B, N]`` / patches ``[..., N, P]``."""
        self.check_input(x)
        if self.mode == "tokens":
            vectors = self.table[x] if self.table is not None else None
            e = self.embed(self.dropout(vectors)) if vectors is not None else self.dropout(self.embed(x))
            return e + self.pos, x != 0
        return self.embed(self.dropout(x)) + self.pos, None


class Spikformer(nn.Module):
    """Spikformer classifier for patch sequences or token sequences.

    Give either ``in_features`` and ``num_patches`` (input ``[B, N, P]`` float patches, or ``[T, B, N, P]`` already
    time-resolved input) or ``vocab_size`` and ``max_len`` (input ``[B, L]`` int64 token ids, 0 = padding).
    Every forward call starts from rest (all LIF states are reset first), so batches are independent.

    Args:
        num_classes: output classes.
        dim, depth, num_heads, mlp_ratio: transformer width, number of blocks, heads, MLP hidden ratio.
        T: time steps the static input is repeated for (Spikformer: 4).
        scale: attention scale ``s``.
        time_shifts: per-head delays (applied in every block), see :class:`SpikingSelfAttention`.
        lif_kwargs: overrides of ``DEFAULT_LIF``.
        embeddings: frozen pre-trained token vectors ``[vocab_size, E]`` (see :class:`SequenceEmbedding`).
        norm: ``"batch"`` (Spikformer), ``"layer"`` or ``"none"``.
        dropout: dropout on the embedding input and on the pooled features (training only).

    >>> model = Spikformer(num_classes=3, in_features=4, num_patches=5, dim=8, depth=1, num_heads=2, T=2)
    >>> model(torch.rand(2, 5, 4)).shape
    torch.Size([2, 3])
    >>> Spikformer(num_classes=2, vocab_size=10, max_len=6, dim=8, depth=1, num_heads=2, T=2)(
    ...     torch.randint(1, 10, (3, 6))).shape
    torch.Size([3, 2])
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
        T: int = 4,
        scale: float = 0.125,
        time_shifts: Sequence[int] | None = None,
        lif_kwargs: dict[str, Any] | None = None,
        embeddings: Tensor | None = None,
        norm: str = "batch",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("depth", depth), ("T", T)):
            check_positive_int(name, value)
        if time_shifts is not None and any(isinstance(d, int) and d >= T for d in time_shifts):
            raise ValueError(f"time_shifts must be < T={T}, got {time_shifts!r}")
        self.embedding = SequenceEmbedding(
            dim,
            in_features=in_features,
            num_patches=num_patches,
            vocab_size=vocab_size,
            max_len=max_len,
            embeddings=embeddings,
            dropout=dropout,
        )
        self.mode, self.length = self.embedding.mode, self.embedding.length
        self.T, self.num_classes = T, num_classes
        self.embed_bn = make_norm(_resolve_norm(norm, True), dim)
        self.embed_lif = _lif(lif_kwargs)
        self.blocks = nn.ModuleList(
            SpikformerBlock(dim, num_heads, mlp_ratio, scale, time_shifts, lif_kwargs, norm=norm) for _ in range(depth)
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(dim, num_classes)

    def _embed(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.mode == "tokens":
            e, mask = self.embedding(x)
            return e.unsqueeze(0).expand(self.T, -1, -1, -1), mask
        self.embedding.check_input(x)
        if x.dim() == 3:
            x = x.unsqueeze(0).expand(self.T, -1, -1, -1)
        if x.dim() != 4 or x.shape[2] != self.length or x.shape[0] != self.T:
            raise ValueError(
                f"x must be [B, {self.length}, P] or [{self.T}, B, {self.length}, P], got shape {tuple(x.shape)}"
            )
        return self.embedding(x)

    def features(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Spike tensor after the last block, ``[T, B, N, D]``, and the padding mask (tokens) or None."""
        reset_states(self)
        e, mask = self._embed(x)
        h = self.embed_lif(self.embed_bn(e))
        if mask is not None:
            h = h * mask[None, :, :, None].to(h.dtype)
        for block in self.blocks:
            h = block(h, mask)
        return h, mask

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, num_classes]`` (time-averaged)."""
        h, mask = self.features(x)
        return self.head(self.dropout(masked_mean(h, mask, dim=2))).mean(dim=0)


def image_to_patches(images: Tensor, patch_size: int) -> Tensor:
    """Split ``[B, H, W]`` or ``[B, C, H, W]`` images into non-overlapping ``patch_size`` squares.

    Returns ``[B, (H/p)(W/p), C p p]`` in row-major patch order; H and W must be divisible by ``patch_size``.

    >>> image_to_patches(torch.rand(2, 1, 8, 8), patch_size=4).shape
    torch.Size([2, 4, 16])
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4:
        raise ValueError(f"images must be [B, H, W] or [B, C, H, W], got shape {tuple(images.shape)}")
    b, c, h, w = images.shape
    if not isinstance(patch_size, int) or patch_size < 1 or h % patch_size or w % patch_size:
        raise ValueError(f"patch_size must be a positive int dividing H={h} and W={w}, got {patch_size!r}")
    p = patch_size
    x = images.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // p) * (w // p), c * p * p)


__all__ = [
    "DEFAULT_LIF",
    "FlatBatchNorm",
    "NORMS",
    "SequenceEmbedding",
    "SpikingSelfAttention",
    "SpikingMLPBlock",
    "SpikformerBlock",
    "Spikformer",
    "image_to_patches",
    "make_norm",
    "masked_mean",
    "mlp_hidden",
    "shift_time",
]
