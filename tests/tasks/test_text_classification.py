"""The text-classification comparison driver: grid selection on validation only, the result store, population-coded
spikes, per-layer operation rows, and one tiny end-to-end pass on a real fold."""
from __future__ import annotations

import pytest
import torch

from neuromorph.data.text import glove_vocabulary
from neuromorph.tasks import text_classification as tc

torch.set_num_threads(1)


def _rec(model, lr, val, test, fold=0):
    return {"dataset": "d", "model": model, "config": {"lr": lr}, "fold": fold, "seed": fold, "val": val,
            "test": test, "epochs": list(range(1, len(val) + 1))}


def test_select_uses_validation_only_and_averages_folds():
    records = [_rec("m", 1, [0.9, 0.5], [0.1, 0.9], fold=0), _rec("m", 1, [0.7, 0.5], [0.3, 0.9], fold=1),
               _rec("m", 2, [0.6, 0.85], [1.0, 0.2], fold=0), _rec("m", 2, [0.6, 0.85], [1.0, 0.4], fold=1)]
    best = tc.select(records)
    assert best["config"] == {"lr": 2} and best["epoch"] == 2      # mean val 0.85 beats 0.8
    assert best["test_mean"] == pytest.approx(0.3) and best["n"] == 2
    assert best["test_sd"] == pytest.approx(0.1414, abs=1e-3)
    assert tc.select(records, checkpoints=[1])["config"] == {"lr": 1}  # only epoch 1 may be chosen
    with pytest.raises(ValueError, match="records"):
        tc.select([])
    with pytest.raises(ValueError, match="checkpoints"):
        tc.select(records, checkpoints=[7])


def test_result_store_resumes(tmp_path):
    path = str(tmp_path / "runs.jsonl")
    store = tc.ResultStore(path)
    store.add({**_rec("m", 1, [0.5], [0.5]), "config": {"lr": 1, "shifts": (0, 1)}})
    again = tc.ResultStore(path)
    assert again.has(dataset="d", model="m", config={"lr": 1, "shifts": [0, 1]}, fold=0, seed=0)
    assert not again.has(dataset="d", model="m", config={"lr": 2, "shifts": [0, 1]}, fold=0, seed=0)


def test_population_spikes_are_binary_and_follow_the_tuning():
    code = tc.PopulationSpikes(torch.zeros(2), torch.ones(2), num_neurons=5, clip=2.0, T=200,
                               generator=torch.Generator().manual_seed(0))
    spikes = code(torch.tensor([[-2.0, 2.0]]))             # [T, 1, 2 * 5]
    assert spikes.shape == (200, 1, 10) and set(spikes.unique().tolist()) <= {0.0, 1.0}
    rates = spikes.mean(0)[0]
    assert rates[0] > 0.9 and rates[4] < 0.05              # component 0 at the low end
    assert rates[9] > 0.9 and rates[5] < 0.05              # component 1 at the high end
    with pytest.raises(ValueError, match="std"):
        tc.PopulationSpikes(torch.zeros(2), torch.zeros(2))
    with pytest.raises(ValueError, match="clip"):
        tc.PopulationSpikes(torch.zeros(2), torch.ones(2), clip=float("inf"))


def test_layer_operations_count_spike_inputs_as_accumulates():
    from neuromorph.models.spikformer import Spikformer
    from neuromorph.models.transformer import TransformerClassifier

    torch.manual_seed(0)
    kw = dict(embeddings=torch.randn(30, 5), max_len=6, dim=8, depth=1, num_heads=2)
    x = torch.randint(1, 30, (4, 6))
    snn_rows = {r["layer"]: r for r in tc.layer_operations(Spikformer(2, T=2, **kw).eval(), x)}
    twin_rows = {r["layer"]: r for r in tc.layer_operations(TransformerClassifier(2, **kw).eval(), x)}
    assert snn_rows["embedding.embed"]["macs"] > 0 and snn_rows["embedding.embed"]["acs"] == 0  # real vectors
    assert snn_rows["blocks.0.mlp.fc1.linear"]["macs"] == 0                                     # spikes in
    assert snn_rows["blocks.0.attn.q.linear"]["out_rate"] is not None
    assert twin_rows["total"]["acs"] == 0 and twin_rows["total"]["out_rate"] is None
    assert set(snn_rows) == set(twin_rows) - {"blocks.0.mlp.0.linear", "blocks.0.mlp.1.linear"} | \
        {"blocks.0.mlp.fc1.linear", "blocks.0.mlp.fc2.linear"}
    markdown = tc.operations_markdown("t", list(snn_rows.values()))
    assert markdown.count("\n| ") == len(snn_rows) + 1


def test_one_fold_end_to_end_with_every_trained_row(tmp_path):
    vocab, vectors = glove_vocabulary(3000)
    fold = tc.load_fold("polarity", 0, vocab)
    cfg = tc.TransformerConfig(dim=16, heads=2, epochs=2, time_shifts=(0, 1), glove_words=3000)
    for kind in ("spikformer", "transformer"):
        model, curves = tc.train_text_model(kind, fold, vectors, cfg, lr=3e-3, seed=0,
                                            time_shifts=cfg.time_shifts if kind == "spikformer" else None)
        assert curves["epochs"] == [1, 2] and len(curves["val"]) == len(curves["test"]) == 2
        assert all(0.0 <= a <= 1.0 for a in curves["val"] + curves["test"])
    fake_embeddings = torch.randn(200, 12)  # the readout and code do not depend on MiniLM itself
    pop = tc.PopulationConfig(num_neurons=4, T=4, epochs=2)
    model, code, curves = tc.train_population_readout(fold, fake_embeddings, pop, lr=1e-3, seed=0)
    assert code(fake_embeddings[:3]).shape == (4, 3, 48) and len(curves["test"]) == 2
    rows = tc.logistic_regression_grid(tc.tfidf_features(fold.task),
                                       {s: fold.task.split(s)[2] for s in fold.task.splits}, cs=(1.0,))
    assert rows[0]["config"] == {"C": 1.0} and 0.0 <= rows[0]["test"][0] <= 1.0
    with pytest.raises(ValueError, match="kind"):
        tc.build_text_model("rnn", fold.task, vectors, cfg)
    with pytest.raises(ValueError, match="dataset"):
        tc.load_fold("imdb", 0, vocab)
    with pytest.raises(ValueError, match="models"):
        tc.run_comparison(tc.ResultStore(str(tmp_path / "r.jsonl")), ["polarity"], models=["svm"])


def test_comparison_grid_covers_every_context_length_and_resumes(tmp_path):
    vocab, _ = glove_vocabulary(3000)
    assert tc.load_fold("newsgroups", 1, vocab, max_len=256).task.x_test.shape == (40, 256)
    assert tc.load_fold("newsgroups", 1, vocab).task.max_len == tc.MAX_LEN_GRID["newsgroups"][0]
    store = tc.ResultStore(str(tmp_path / "runs.jsonl"))
    cfg = tc.TransformerConfig(dim=8, heads=2, epochs=1, glove_words=3000)
    tc.run_comparison(store, ["newsgroups"], models=["transformer"], folds=[0], lrs=(1e-3,), cfg=cfg, log=None)
    assert sorted(r["config"]["max_len"] for r in store.records) == sorted(tc.MAX_LEN_GRID["newsgroups"])
    tc.run_comparison(store, ["newsgroups"], models=["transformer"], folds=[0], lrs=(1e-3,), cfg=cfg, log=None)
    assert len(tc.ResultStore(store.path).records) == len(tc.MAX_LEN_GRID["newsgroups"])  # nothing run twice


def test_efficiency_refuses_a_context_length_outside_the_grid(tmp_path):
    with pytest.raises(ValueError, match="max_len"):
        tc.efficiency_markdown(tc.ResultStore(str(tmp_path / "r.jsonl")), "newsgroups", max_len=100)
