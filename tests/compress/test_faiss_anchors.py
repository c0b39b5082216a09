import numpy as np
import pytest
import torch

from neuromorph.compress.faiss_anchors import parse_faiss

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def data():
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(3000, 20, generator=gen), dim=1)
    return x[:2000], x[2000:2900], x[2900:]


@pytest.mark.parametrize("name,label,nbytes", [
    ("faiss-pq5", "faiss IndexPQ 5x8", 5), ("faiss-lsh64", "faiss IndexLSH 64b", 8),
    ("faiss-sq4", "faiss IndexScalarQuantizer 4b", 10), ("faiss-sq8", "faiss IndexScalarQuantizer 8b", 20),
    ("faiss-rabitq", "faiss IndexRaBitQ 1b", None), ("faiss-ivfpq4", "faiss IndexIVFPQ 4x8 nprobe16", None)])
def test_anchor_names_bytes_and_search(data, name, label, nbytes):
    fit, db, queries = data
    spec = parse_faiss(name)
    assert spec.name == label and spec.family == "faiss"
    built = spec.build(fit, db)
    if nbytes is not None:
        assert built.bytes_per_vector == nbytes
    ids = built.search(queries.numpy(), 10)
    assert ids.shape == (100, 10) and ids.max() < 900
    # better than chance: the true nearest neighbour is among the top-10 far more often than 10/900
    truth = (queries @ db.T).argmax(1).numpy()
    assert np.mean([t in row for t, row in zip(truth, ids)]) > 0.3


def test_sq8_reconstructs_word_vectors(data):
    fit, db, _ = data
    words, metric = parse_faiss("faiss-sq8").build(fit, db).decode_words(fit[:5])
    assert metric == "cosine" and torch.allclose(words, fit[:5], atol=0.02)


def test_unknown_anchor():
    with pytest.raises(ValueError, match="unknown FAISS anchor 'faiss-opq8'"):
        parse_faiss("faiss-opq8")
    with pytest.raises(ValueError, match="unknown FAISS anchor"):
        parse_faiss("faiss-pq0")
