import math

import pytest
import torch
import torch.nn.functional as F

from neuromorph.models.lm import bits_per_token, causal_mask, generate
from neuromorph.models.spiking_lm import CausalSpikingSelfAttention, SpikingCharLM
from neuromorph.models.transformer_lm import TransformerCharLM

V, N = 11, 12


def _models(dim=16, depth=2, heads=2, windows=None, residual="spikes", attention="average"):
    torch.manual_seed(0)
    return {"spiking": SpikingCharLM(V, N, dim=dim, depth=depth, num_heads=heads, T=3, head_windows=windows,
                                     residual=residual, attention=attention),
            "transformer": TransformerCharLM(V, N, dim=dim, depth=depth, num_heads=heads, head_windows=windows)}


def _train_a_little(model, steps=40):
    """Enough steps for the batch-norm running statistics to settle (with the initial ones, used in eval mode,
    the spiking attention of a fresh model emits no spikes and carries nothing between positions)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randint(0, V, (8, N + 1), generator=gen)
        loss = F.cross_entropy(model(x[:, :-1]).reshape(-1, V), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.mark.parametrize(
    "kind",
    ["spiking", "spiking-windows", "spiking-membrane", "spiking-softmax", "transformer", "transformer-windows"],
)
def test_output_at_t_does_not_depend_on_later_inputs(kind, one_thread):
    name, _, variant = kind.partition("-")
    residual = "membrane" if variant in ("membrane", "softmax") else "spikes"
    attention = "softmax" if variant == "softmax" else "average"
    windows = (3, 0) if variant in ("windows", "softmax") else None
    model = _train_a_little(_models(windows=windows, residual=residual, attention=attention)[name])
    gen = torch.Generator().manual_seed(2)
    x = torch.randint(0, V, (6, N), generator=gen)
    base = model(x)
    for t0 in (0, 4, N - 1):
        y = x.clone()
        y[:, t0:] = (y[:, t0:] + 1 + torch.randint(0, V - 1, y[:, t0:].shape, generator=gen)) % V
        out = model(y)
        torch.testing.assert_close(out[:, :t0], base[:, :t0], rtol=0, atol=1e-6)
        assert not torch.allclose(out[:, t0], base[:, t0])   # the perturbed position itself does change


@pytest.mark.parametrize("kind", ["spiking", "transformer"])
def test_changing_an_early_input_changes_later_outputs(kind, one_thread):
    model = _train_a_little(_models()[kind])
    x = torch.randint(0, V, (6, N), generator=torch.Generator().manual_seed(3))
    y = x.clone()
    y[:, 0] = (y[:, 0] + 1) % V
    assert not torch.allclose(model(x)[:, -1], model(y)[:, -1])


@pytest.mark.parametrize("residual, attention", [("spikes", "average"), ("membrane", "average"),
                                                 ("membrane", "softmax")])
def test_every_weight_layer_inside_the_blocks_reads_spikes(residual, attention, one_thread):
    """The accumulate-only claim: with either residual stream and either attention, every linear layer of every
    block gets 0/1 input; with the membrane shortcut the stream itself is real-valued, with spikes it sums
    spikes."""
    model = _train_a_little(_models(residual=residual, attention=attention)["spiking"])
    inputs = {}
    hooks = [module.register_forward_hook(lambda mod, args, out, name=name: inputs.__setitem__(name, args[0]))
             for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]
    stream = []
    hooks.append(model.head.register_forward_hook(lambda mod, args, out: stream.append(args[0])))
    model(torch.randint(0, V, (4, N), generator=torch.Generator().manual_seed(4)))
    for hook in hooks:
        hook.remove()
    block_layers = {name: x for name, x in inputs.items() if name.startswith("blocks.")}
    assert len(block_layers) == 2 * 6  # q, k, v, proj, fc1, fc2 per block
    for name, x in block_layers.items():
        assert bool(((x == 0) | (x == 1)).all()), name
        assert bool((x == 1).any()), name
    integer_stream = torch.equal(stream[0] * model.T, (stream[0] * model.T).round())  # time mean of spike sums
    assert integer_stream == (residual == "spikes")


@pytest.mark.parametrize("config", [{}, {"dim": 32, "depth": 3, "heads": 4}])
@pytest.mark.parametrize("residual", ["spikes", "membrane"])
def test_parameter_counts_are_equal(config, residual):
    m = _models(**config, residual=residual)
    counts = {k: sum(p.numel() for p in model.parameters()) for k, model in m.items()}
    assert counts["spiking"] == counts["transformer"]
    shapes = {k: sorted(tuple(p.shape) for p in model.parameters()) for k, model in m.items()}
    assert shapes["spiking"] == shapes["transformer"]


def test_default_lm_parameter_count_matches_the_formula():
    vocab, n, d, depth = 73, 64, 128, 2
    s, t = SpikingCharLM(vocab, n), TransformerCharLM(vocab, n)
    # embeddings + input norm + per block (q, k, v, o, fc1, fc2 weights = 12 d^2; biases and norms = 24 d) + head
    expected = vocab * d + n * d + 2 * d + depth * (12 * d * d + 24 * d) + d * vocab + vocab
    assert sum(p.numel() for p in s.parameters()) == sum(p.numel() for p in t.parameters()) == expected == 426_569


@pytest.mark.parametrize("windows", [None, (2, 0)])
@pytest.mark.parametrize("attention", ["average", "softmax"])
def test_causal_spiking_attention_matches_a_per_position_reference(windows, attention, one_thread):
    torch.manual_seed(0)
    attn = CausalSpikingSelfAttention(8, num_heads=2, scale=2.0, head_windows=windows, attention=attention)
    captured = {}
    attn.attn_lif.register_forward_pre_hook(lambda m, args: captured.__setitem__("drive", args[0]))
    x = (torch.rand(2, 3, 5, 8) < 0.5).float()
    attn(x)
    from neuromorph.neurons.base import reset
    reset(attn)
    with torch.no_grad():
        q, k, v = attn.q(x), attn.k(x), attn.v(x)
    ref = torch.zeros(2, 3, 5, 8)
    for t in range(2):
        for b in range(3):
            for h in range(2):
                sl = slice(4 * h, 4 * h + 4)
                width = windows[h] if windows and windows[h] else 5
                for n in range(5):
                    keys = range(max(0, n - width + 1), n + 1)
                    counts = [float(q[t, b, n, sl] @ k[t, b, j, sl]) for j in keys]  # shared spikes
                    if attention == "softmax":
                        weights = [math.exp(c / math.sqrt(4)) for c in counts]
                        weights = [w / sum(weights) for w in weights]
                    else:
                        weights = [c / len(keys) for c in counts]
                    ref[t, b, n, sl] = 2.0 * sum(w * v[t, b, j, sl] for w, j in zip(weights, keys))
    torch.testing.assert_close(captured["drive"], ref)


def test_model_input_errors_name_the_argument():
    model = _models()["spiking"]
    with pytest.raises(TypeError, match="x must hold int64"):
        model(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="context=12"):
        model(torch.zeros(2, N + 1, dtype=torch.long))
    with pytest.raises(ValueError, match="ids in \\[0, 11\\)"):
        model(torch.full((2, 4), V, dtype=torch.long))
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab_size"):
        SpikingCharLM(0, 8)
    with pytest.raises(ValueError, match="context"):
        TransformerCharLM(5, 0)
    with pytest.raises(ValueError, match="num_heads"):
        TransformerCharLM(5, 8, dim=16, num_heads=3)
    with pytest.raises(ValueError, match="mlp_ratio"):
        SpikingCharLM(5, 8, dim=16, mlp_ratio=0)
    with pytest.raises(ValueError, match="T must be a positive int"):
        SpikingCharLM(5, 8, dim=16, T=0)
    with pytest.raises(ValueError, match="residual must be one of \\('spikes', 'membrane'\\), got 'membranes'"):
        SpikingCharLM(5, 8, dim=16, residual="membranes")
    with pytest.raises(ValueError, match="attention must be one of \\('average', 'softmax'\\), got 'soft'"):
        SpikingCharLM(5, 8, dim=16, attention="soft")
    with pytest.raises(ValueError, match="attention must be one of"):
        CausalSpikingSelfAttention(8, 2, attention=None)
    with pytest.raises(TypeError, match="spiking_output must be a bool, got int"):
        CausalSpikingSelfAttention(8, 2, spiking_output=1)
    with pytest.raises(ValueError, match="padding mask"):
        CausalSpikingSelfAttention(8, 2)(torch.zeros(1, 1, 3, 8), torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="head_windows"):
        SpikingCharLM(5, 8, dim=16, num_heads=2, head_windows=(2,))
    with pytest.raises(ValueError, match="head_windows"):
        CausalSpikingSelfAttention(8, 2, head_windows=(2, -1))
    with pytest.raises(ValueError, match="n must be a positive int"):
        causal_mask(0)


def test_windowed_softmax_attention_ignores_keys_outside_the_window(one_thread):
    model = _models(depth=1, windows=(2, 2))["transformer"].eval()
    x = torch.randint(0, V, (3, N), generator=torch.Generator().manual_seed(6))
    y = x.clone()
    y[:, :5] = (y[:, :5] + 1) % V           # positions 0..4 are outside every window of position 7 and later
    torch.testing.assert_close(model(y)[:, 7:], model(x)[:, 7:], rtol=0, atol=1e-6)
    assert not torch.allclose(model(y)[:, 5], model(x)[:, 5])


def test_bits_per_token_of_a_uniform_model_is_log2_vocab():
    model = TransformerCharLM(V, N, dim=8, depth=1, num_heads=2)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    ids = torch.randint(0, V, (50,))
    assert bits_per_token(model, ids, batch_size=2) == pytest.approx(math.log2(V), abs=1e-9)


def test_bits_per_token_scores_every_id_but_the_first_once(one_thread):
    model = _train_a_little(_models()["transformer"], steps=2)
    ids = torch.randint(0, V, (30,), generator=torch.Generator().manual_seed(4))   # windows of 12, 12, 5 targets
    nats = 0.0
    for s in (0, 12, 24):
        w = ids[s:s + N + 1]
        with torch.no_grad():
            nats += float(F.cross_entropy(model(w[None, :-1])[0].double(), w[1:], reduction="sum"))
    assert bits_per_token(model, ids, batch_size=2) == pytest.approx(nats / 29 / math.log(2), rel=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        bits_per_token(model, ids[:1])
    with pytest.raises(TypeError, match="model must be a language model"):
        bits_per_token(torch.nn.Linear(2, 2), ids)
    with pytest.raises(TypeError, match="ids must hold int64"):
        bits_per_token(model, ids.float())


def test_generate_is_seeded_and_checks_arguments():
    model = _models()["spiking"]
    prompt = torch.tensor([1, 2, 3])
    a = generate(model, prompt, 20, temperature=0.7, generator=torch.Generator().manual_seed(0))
    b = generate(model, prompt, 20, temperature=0.7, generator=torch.Generator().manual_seed(0))
    assert a.shape == (20,) and torch.equal(a, b) and int(a.max()) < V
    with pytest.raises(ValueError, match="temperature"):
        generate(model, prompt, 5, temperature=0.0)
    with pytest.raises(ValueError, match="length"):
        generate(model, prompt, 0)
    with pytest.raises(ValueError, match="prompt"):
        generate(model, torch.tensor([], dtype=torch.long), 3)
