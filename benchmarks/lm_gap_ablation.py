"""Where the spiking LM loses to its non-spiking twin per training step: diagnostic variants at a fixed number of
steps, scored on the whole validation block (docs/language_model.md, *Where the per-step gap comes from*).

Each variant trains alone for ``--steps`` steps (same seed, same batches, cosine schedule over those steps, one
torch thread), as ``neuromorph lm --model spiking --steps N``; a fixed step count keeps the machine's load out of
the figures. Variants (``--variants``, default all):

- ``transformer``: the non-spiking twin (``--transformer-lr``).
- ``spikes``: the spiking LM as in run E (residual stream of spikes).
- ``membrane``: the spiking LM with ``residual="membrane"`` (membrane shortcut).
- ``membrane_spike_softmax``: ``membrane`` whose attention takes a causal softmax over the spike-count scores
  ``Q K^T / sqrt(d)`` of its binary ``Q, K, V`` and hands the real-valued ``softmax(.) V`` to the output
  projection (no attention LIF).
- ``membrane_real_softmax``: as the previous, with real-valued ``Q, K, V = BN(S W)`` (no LIFs on them either):
  the twin's attention inside the spiking model.
- ``membrane_gelu_mlp``: ``membrane`` with a GELU instead of the LIF between the two MLP layers.

These three are diagnostics, not models of the library: they put non-spiking parts back one at a time to
measure what each spiking part costs, and are built by swapping modules of a ``SpikingCharLM``. Four more variants
are spiking changes that were screened and not kept:

- ``spikes_threshold_half``: ``spikes`` with every LIF threshold 0.5 instead of 1.
- ``spikes_scale_4``: ``spikes`` with the attention scale ``s = 4`` instead of 2.
- ``spikes_real_embedding``: ``spikes`` without the LIF after the embedding (branches still add spikes).
- ``membrane_spike_map``: ``membrane`` whose attention weights are spikes too, ``W = SN(alpha_h Q K^T)`` with a
  learnable ``alpha_h`` per head (initially 0.5) and ``A = SN_attn(s / c_n (W * M_h) V)`` (8 more parameters).

One variant is the library's own option, kept:

- ``membrane_softmax``: ``membrane`` with ``attention="softmax"`` and ``s = 1``: the heads take a causal softmax
  over the spike-count scores, ``A = SN_attn(s softmax(Q K^T / sqrt(d) + log M_h) V)``, and the output projection
  still reads spikes.

    python benchmarks/lm_gap_ablation.py --steps 1000 --json runs/lm_gap_ablation.json
    python benchmarks/lm_gap_ablation.py --steps 1000 --variants membrane --lr 0.008   # one variant
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
import types
from typing import Callable

import torch
from torch import Tensor, nn

from neuromorph.data.char_corpus import CharCorpus, load_char_corpus
from neuromorph.models.lm import CharLMBase, bits_per_token, head_window_mask
from neuromorph.models.spikformer import DEFAULT_LIF
from neuromorph.models.spiking_lm import CausalSpikingSelfAttention, SpikingCharLM
from neuromorph.neurons.lif import LIF
from neuromorph.tasks.char_lm import LMConfig, LMRun, build_language_model, train_language_models


def _softmax_attention(attn: CausalSpikingSelfAttention, q: Tensor, k: Tensor, v: Tensor, n: int) -> Tensor:
    """``softmax(Q K^T / sqrt(d) + log M_h) V`` per head on ``[T, B, H, N, d]``, back to ``[T, B, N, D]``."""
    visible = head_window_mask(n, attn.head_windows or (0,) * attn.num_heads, q.device)  # [H, N, N]
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(attn.head_dim)
    out = torch.softmax(scores.masked_fill(~visible, float("-inf")), dim=-1) @ v
    t, b = q.shape[:2]
    return out.transpose(2, 3).reshape(t, b, n, attn.dim)


def _spike_softmax_forward(attn: CausalSpikingSelfAttention, x: Tensor, mask: Tensor | None = None) -> Tensor:
    q, k, v = (attn._heads(branch(x)) for branch in (attn.q, attn.k, attn.v))  # binary
    return attn.proj(_softmax_attention(attn, q, k, v, x.shape[2]))


def _real_softmax_forward(attn: CausalSpikingSelfAttention, x: Tensor, mask: Tensor | None = None) -> Tensor:
    q, k, v = (attn._heads(branch.bn(branch.linear(x))) for branch in (attn.q, attn.k, attn.v))  # real-valued
    return attn.proj(_softmax_attention(attn, q, k, v, x.shape[2]))


def _spiking(vocab_size: int, config: LMConfig) -> SpikingCharLM:
    """The spiking LM of ``config`` (its ``residual`` names the stream)."""
    model = build_language_model("spiking", vocab_size, config)
    assert isinstance(model, SpikingCharLM)
    return model


def _with_attention(forward: Callable[..., Tensor]) -> Callable[[int, LMConfig], CharLMBase]:
    def make(vocab_size: int, config: LMConfig) -> CharLMBase:
        model = _spiking(vocab_size, config)
        for block in model.blocks:
            block.attn.forward = types.MethodType(forward, block.attn)
        return model

    return make


def _spike_map_forward(attn: CausalSpikingSelfAttention, x: Tensor, mask: Tensor | None = None) -> Tensor:
    t, b, n, _ = x.shape
    q, k, v = (attn._heads(branch(x)) for branch in (attn.q, attn.k, attn.v))  # binary
    visible, row_scale = attn.visibility(n, x.device)
    weights = attn.map_lif((q @ k.transpose(-2, -1)) * attn.map_alpha.view(1, 1, -1, 1, 1)) * visible
    out = ((weights @ v) * row_scale).transpose(2, 3).reshape(t, b, n, attn.dim)
    return attn.proj(attn.attn_lif(out))


def _with_spike_map(vocab_size: int, config: LMConfig) -> CharLMBase:
    model = _spiking(vocab_size, config)
    for block in model.blocks:
        attn = block.attn
        attn.map_alpha = nn.Parameter(torch.full((attn.num_heads,), 0.5))
        attn.map_lif = LIF(**{**DEFAULT_LIF, "step_mode": "multi"})
        attn.forward = types.MethodType(_spike_map_forward, attn)
    return model


def _with_config(**changes: object) -> Callable[[int, LMConfig], CharLMBase]:
    """The spiking model of the variant's config with these LMConfig fields changed."""

    def make(vocab_size: int, config: LMConfig) -> CharLMBase:
        changed = dataclasses.replace(config, **changes)
        return build_language_model("spiking", vocab_size, changed)

    return make


def _spikes_real_embedding(vocab_size: int, config: LMConfig) -> CharLMBase:
    model = _spiking(vocab_size, config)
    model.embed_lif = nn.Identity()
    return model


def _with_gelu_mlp(vocab_size: int, config: LMConfig) -> CharLMBase:
    model = _spiking(vocab_size, config)
    for block in model.blocks:
        block.mlp.fc1.lif = nn.GELU()
    return model


# variant -> (model kind, residual, builder of the model)
VARIANTS: dict[str, tuple[str, str, Callable[[int, LMConfig], CharLMBase]]] = {
    "transformer": ("transformer", "spikes", lambda v, c: build_language_model("transformer", v, c)),
    "spikes": ("spiking", "spikes", _spiking),
    "membrane": ("spiking", "membrane", _spiking),
    "membrane_spike_softmax": ("spiking", "membrane", _with_attention(_spike_softmax_forward)),
    "membrane_real_softmax": ("spiking", "membrane", _with_attention(_real_softmax_forward)),
    "membrane_gelu_mlp": ("spiking", "membrane", _with_gelu_mlp),
    "spikes_threshold_half": ("spiking", "spikes", _with_config(lif_kwargs={"threshold": 0.5})),
    "spikes_scale_4": ("spiking", "spikes", _with_config(scale=4.0)),
    "spikes_real_embedding": ("spiking", "spikes", _spikes_real_embedding),
    "membrane_spike_map": ("spiking", "membrane", _with_spike_map),
    "membrane_softmax": ("spiking", "membrane", _with_config(attention="softmax", scale=1.0)),
}


def train_variant(name: str, corpus: CharCorpus, config: LMConfig, steps: int, seed: int = 0) -> LMRun:
    """Variant ``name`` trained alone for ``steps`` steps by the task's loop; ``config`` gives everything but the
    residual stream, which the variant fixes."""
    kind, residual, make = VARIANTS[name]
    config = dataclasses.replace(config, residual=residual)
    runs = train_language_models((kind,), corpus, config, steps=steps, seed=seed, build=lambda k, v, c: make(v, c))
    return runs[kind]


def main() -> None:
    doc = (__doc__ or "").split("\n\n")
    parser = argparse.ArgumentParser(description=doc[0], epilog=doc[-1], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--lr", type=float, default=4e-3, help="peak learning rate of the spiking variants")
    parser.add_argument("--transformer-lr", type=float, default=2e-3)
    parser.add_argument("--head-windows", default="2,4,16,0", help="attention windows of every variant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="append one JSON line per variant to this file")
    parser.add_argument("--max-chars", type=int, default=None, help="only the corpus's first characters (a quick look)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    windows = tuple(int(w) for w in args.head_windows.split(","))
    corpus = load_char_corpus(max_chars=args.max_chars)
    print(f"{'variant':<24} {'lr':>7} {'steps':>6} {'train s':>8} {'valid bits/char':>16}")
    config = LMConfig(
        head_windows=windows, transformer_head_windows=windows, lr=args.lr, transformer_lr=args.transformer_lr
    )
    for name in args.variants:
        start = time.perf_counter()
        run = train_variant(name, corpus, config, args.steps, args.seed)
        valid = bits_per_token(run.model, corpus.valid, batch_size=config.eval_batch_size)
        lr = config.peak_lr(run.kind)
        print(f"{name:<24} {lr:7.0e} {run.steps:6d} {run.train_s:8.0f} {valid:16.3f}", flush=True)
        if args.json:
            row = {"variant": name, "lr": lr, "steps": run.steps, "seed": args.seed, "windows": list(windows)}
            row.update(train_s=run.train_s, wall_s=time.perf_counter() - start, valid_bpc=valid)
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
