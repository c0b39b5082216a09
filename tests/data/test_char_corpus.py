import pytest
import torch

from neuromorph.data.char_corpus import (UNK_ID, load_char_corpus, random_windows, read_corpus_text,
                                         split_bounds)


@pytest.fixture(scope="module")
def corpus():
    return load_char_corpus(max_chars=40_000)


def test_splits_are_contiguous_disjoint_blocks_covering_the_text(corpus):
    text = read_corpus_text()[:40_000]
    start, a, b, end = corpus.bounds
    assert (start, end) == (0, 40_000) and 0 < a < b < end
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (a, b - a, end - b)
    assert a == 36_000 and b == 38_000
    # the blocks are exactly the consecutive slices of the text, in order: no overlap, nothing dropped
    joined = torch.cat([corpus.train, corpus.valid, corpus.test])
    assert torch.equal(joined, corpus.encode(text))
    assert corpus.decode(corpus.valid) == text[a:b] and corpus.decode(corpus.test[:50]) == text[b:b + 50]


def test_vocabulary_comes_from_the_training_block_only():
    text = read_corpus_text()[:40_000]
    c = load_char_corpus(max_chars=40_000, train_fraction=0.5, valid_fraction=0.25)
    assert set(c.chars) == set(text[:20_000])
    later_only = set(text[20_000:]) - set(text[:20_000])
    assert c.unknown["train"] == 0
    assert c.unknown["valid"] + c.unknown["test"] == sum(text[20_000:].count(ch) for ch in later_only)
    assert (c.train != UNK_ID).all() and c.vocab_size == len(c.chars) + 1


def test_crlf_is_normalised():
    assert "\r" not in read_corpus_text()


def test_split_bounds_and_loader_reject_bad_arguments():
    assert split_bounds(100, 0.8, 0.1) == (0, 80, 90, 100)
    with pytest.raises(ValueError, match="train_fraction"):
        split_bounds(100, 1.2, 0.1)
    with pytest.raises(ValueError, match="valid_fraction"):
        split_bounds(100, 0.5, 0.0)
    with pytest.raises(ValueError, match="train_fraction \\+ valid_fraction"):
        split_bounds(100, 0.6, 0.4)
    with pytest.raises(ValueError, match="too few"):
        split_bounds(3, 0.2, 0.2)
    with pytest.raises(ValueError, match="name must be one of"):
        load_char_corpus("nope")
    with pytest.raises(ValueError, match="max_chars"):
        load_char_corpus(max_chars=0)


def test_random_windows_are_consecutive_slices(corpus):
    gen = torch.Generator().manual_seed(0)
    w = random_windows(corpus.train, 5, 17, gen)
    assert w.shape == (5, 17) and w.dtype == torch.long
    ids = corpus.train
    for row in w:
        starts = [s for s in range(ids.numel() - 16) if torch.equal(ids[s:s + 17], row)]
        assert starts
    with pytest.raises(ValueError, match="length"):
        random_windows(ids[:4], 2, 5)
    with pytest.raises(ValueError, match="batch_size"):
        random_windows(ids, 0, 5)


def test_encode_decode_errors(corpus):
    with pytest.raises(TypeError, match="text must be a str"):
        corpus.encode(3)
    with pytest.raises(ValueError, match="ids must be a 1-d tensor"):
        corpus.decode(torch.zeros(2, 2, dtype=torch.long))
