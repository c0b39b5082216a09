"""Training-step time of the spiking character LM relative to its non-spiking twin, at the size of the
`neuromorph lm` runs (docs/language_model.md): width 128, 2 blocks, 4 heads, context 64, batch 32, T = 2, windows
2,4,16,0 in both, one torch thread.

One step = forward, cross-entropy, backward, gradient clipping, AdamW step (as `neuromorph.tasks.char_lm`), on
random ids. The two models alternate step by step, so load from other processes hits both alike; the figure is
the median over rounds of (spiking step time / transformer step time), a ratio, not an absolute time.

    python benchmarks/lm_step_time.py              # 30 rounds after 3 warm-up rounds
    python benchmarks/lm_step_time.py --rounds 5   # a quick look
    python benchmarks/lm_step_time.py --profile 5  # torch.profiler shares of 5 steps of each model

``--profile`` groups the profiler's self CPU time of each model's steps into matrix products (``mm``, ``addmm``,
``bmm``), the multi-step LIF forward and backward, and batch / layer norm forward and backward.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from neuromorph.models.lm import CharLMBase
from neuromorph.tasks.char_lm import LMConfig, build_language_model

VOCAB = 73  # the corpus's 72 training characters plus <unk>


def training_step(model: CharLMBase, optimizer: torch.optim.Optimizer, ids: torch.Tensor) -> None:
    """One step of `neuromorph lm` on the windows ``ids`` ``[B, context + 1]``."""
    model.train()
    logits = model(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def step_time_ratio(rounds: int, T: int = 2, warmup: int = 3, seed: int = 0) -> dict[str, float]:
    """Median step times (ms) of both models and the median per-round ratio spiking / transformer."""
    config = LMConfig(T=T, head_windows=(2, 4, 16, 0), transformer_head_windows=(2, 4, 16, 0))
    models, optimizers = {}, {}
    for kind in ("spiking", "transformer"):
        torch.manual_seed(seed)
        models[kind] = build_language_model(kind, VOCAB, config)
        optimizers[kind] = torch.optim.AdamW(models[kind].parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    times: dict[str, list[float]] = {kind: [] for kind in models}
    for r in range(warmup + rounds):
        ids = torch.randint(0, VOCAB, (config.batch_size, config.context + 1), generator=generator)
        for kind, model in models.items():
            start = time.perf_counter()
            training_step(model, optimizers[kind], ids)
            if r >= warmup:
                times[kind].append(time.perf_counter() - start)
    ratios = [s / t for s, t in zip(times["spiking"], times["transformer"])]
    return {
        "spiking_ms": 1e3 * statistics.median(times["spiking"]),
        "transformer_ms": 1e3 * statistics.median(times["transformer"]),
        "ratio": statistics.median(ratios),
    }


GROUPS = {
    "matrix products (mm, addmm, bmm)": ("aten::mm", "aten::addmm", "aten::bmm"),
    "multi-step LIF forward": ("_LIFSequence",),
    "multi-step LIF backward": ("_LIFSequenceBackward",),
    "batch / layer norm forward + backward": (
        "aten::native_batch_norm",
        "aten::native_batch_norm_backward",
        "aten::native_layer_norm",
        "aten::native_layer_norm_backward",
    ),
}


def profile_shares(steps: int, T: int = 2, seed: int = 0) -> dict[str, dict[str, float]]:
    """Per model: self CPU ms per step of each group of :data:`GROUPS` and of everything (``"total"``)."""
    from torch.profiler import profile

    config = LMConfig(T=T, head_windows=(2, 4, 16, 0), transformer_head_windows=(2, 4, 16, 0))
    out: dict[str, dict[str, float]] = {}
    for kind in ("spiking", "transformer"):
        torch.manual_seed(seed)
        model = build_language_model(kind, VOCAB, config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        generator = torch.Generator().manual_seed(seed)
        batches = [torch.randint(0, VOCAB, (config.batch_size, config.context + 1), generator=generator)
                   for _ in range(3 + steps)]
        for ids in batches[:3]:
            training_step(model, optimizer, ids)
        with profile() as prof:
            for ids in batches[3:]:
                training_step(model, optimizer, ids)
        self_us = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
        row = {group: sum(self_us.get(n, 0.0) for n in names) / 1e3 / steps for group, names in GROUPS.items()}
        row["total"] = sum(self_us.values()) / 1e3 / steps
        out[kind] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--T", type=int, default=2)
    parser.add_argument("--profile", type=int, default=0, help="profile this many steps of each model instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.profile:
        shares = profile_shares(args.profile, T=args.T)
        for group in [*GROUPS, "total"]:
            cells = [f"{shares[k][group]:7.1f} ms ({100 * shares[k][group] / shares[k]['total']:3.0f} %)"
                     for k in ("spiking", "transformer")]
            print(f"{group:<40} spiking {cells[0]}   transformer {cells[1]}")
        return
    result = step_time_ratio(args.rounds, T=args.T)
    print(
        f"T={args.T}: spiking {result['spiking_ms']:.0f} ms, transformer {result['transformer_ms']:.0f} ms per step "
        f"(medians); spiking / transformer step time {result['ratio']:.2f} (median of {args.rounds} rounds)"
    )


if __name__ == "__main__":
    main()
