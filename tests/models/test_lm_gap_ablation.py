"""The diagnostic variants of benchmarks/lm_gap_ablation.py swap in what they claim to, and train."""

import math

import torch

from benchmark_scripts import load_benchmark
from neuromorph.data.char_corpus import load_char_corpus
from neuromorph.tasks.char_lm import LMConfig

V, N = 11, 8


def _config(residual="membrane"):
    return LMConfig(dim=16, depth=1, num_heads=2, context=N, head_windows=(2, 0), residual=residual)


def _same_weights(bench, name):
    """Variant ``name`` and the plain membrane model, built from the same seed (so with equal weights),
    in training mode."""
    torch.manual_seed(0)
    variant = bench.VARIANTS[name][2](V, _config())
    torch.manual_seed(0)
    plain = bench.VARIANTS["membrane"][2](V, _config())
    return variant.train(), plain.train()  # batch statistics: an untrained model spikes in training mode only


def test_variants_change_only_what_they_name(one_thread):
    bench = load_benchmark("lm_gap_ablation")
    ids = torch.randint(0, V, (3, N), generator=torch.Generator().manual_seed(1))
    for name in ("membrane_spike_softmax", "membrane_real_softmax", "membrane_gelu_mlp"):
        variant, plain = _same_weights(bench, name)
        assert variant.residual == "membrane"
        assert [p.shape for p in variant.parameters()] == [p.shape for p in plain.parameters()]
        assert not torch.allclose(variant(ids), plain(ids)), name
    variant, _ = _same_weights(bench, "membrane_spike_softmax")
    seen = {}
    variant.blocks[0].attn.proj.linear.register_forward_hook(lambda m, args, out: seen.setdefault("in", args[0]))
    variant(ids)
    values = seen["in"]
    assert not bool(((values == 0) | (values == 1)).all())  # softmax-weighted spikes, not attention spikes
    assert bool((values >= 0).all()) and bool((values <= 1).all())  # convex mixtures of binary V rows
    kept, plain = _same_weights(bench, "membrane_softmax")  # the library option, through the config
    assert (kept.attention, kept.blocks[0].attn.scale, plain.attention) == ("softmax", 1.0, "average")
    assert not torch.allclose(kept(ids), plain(ids))


def test_every_variant_trains_through_the_task_loop(one_thread):
    bench = load_benchmark("lm_gap_ablation")
    corpus = load_char_corpus(max_chars=20_000)
    for name, (kind, residual, _) in bench.VARIANTS.items():
        run = bench.train_variant(name, corpus, _config("spikes"), steps=2)  # the variant sets its own stream
        assert run.kind == kind, name
        if kind == "spiking":
            assert run.model.residual == residual, name
        assert run.steps == 2 and math.isfinite(run.last_loss), name
