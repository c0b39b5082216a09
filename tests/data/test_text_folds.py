"""Train / validation / test folds of the offline text corpora, the GloVe vocabulary and the fold-split task."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neuromorph.data import text


@pytest.mark.parametrize("name", text.TEXT_TASKS)
def test_folds_are_disjoint_cover_the_corpus_and_hold_every_class(name):
    _, labels, class_names = text.load_text_corpus(name)
    labels = np.asarray(labels)
    assert len(labels) == 200 and sorted(set(labels.tolist())) == list(range(len(class_names)))
    tested = []
    for fold in range(5):
        train, val, test = text.fold_splits(labels, num_folds=5, fold=fold)
        assert (len(train), len(val), len(test)) == (120, 40, 40)
        assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
        assert len(train) + len(val) + len(test) == len(labels)
        for part in (train, val, test):
            assert set(labels[part].tolist()) == set(range(len(class_names)))  # stratified
        tested.extend(test.tolist())
    assert sorted(tested) == list(range(len(labels)))  # every document is tested exactly once
    # the validation fold of fold k is the test fold of fold k+1
    assert np.array_equal(text.fold_splits(labels, 5, 0)[1], text.fold_splits(labels, 5, 1)[2])


def test_pang_lee_labels_come_from_the_line_prefix():
    texts, labels, names = text.load_text_corpus("polarity")
    assert names == ["neg", "pos"] and np.bincount(labels).tolist() == [100, 100]
    assert not any(t.startswith("__label__") for t in texts)


def test_fold_task_splits_texts_and_bag_of_words():
    task = text.load_text_task("polarity", max_len=24, num_folds=5, fold=3)
    assert task.splits == ("train", "val", "test")
    for split in task.splits:
        x, lengths, y = task.split(split)
        assert x.shape == (len(y), 24) and len(task.texts[split]) == len(y) and (lengths >= 1).all()
    assert task.bag_of_words("val").shape == (40, task.vocab_size)
    with pytest.raises(ValueError, match="split"):
        task.split("dev")
    plain = text.load_text_task("polarity")
    assert plain.splits == ("train", "test") and plain.x_val is None
    with pytest.raises(ValueError, match="split"):
        plain.bag_of_words("val")


def test_glove_vocabulary_feeds_the_task():
    vocab, vectors = text.glove_vocabulary(2000)
    assert vocab[:2] == ["<pad>", "<unk>"] and vectors.shape == (len(vocab), 50)
    assert (vectors[:2] == 0).all() and torch.isfinite(vectors).all()
    task = text.load_text_task("newsgroups", max_len=32, num_folds=5, fold=0, vocab=vocab)
    assert task.vocab == vocab and int(task.x_train.max()) < len(vocab)
    known = (task.x_train > text.UNK_ID).sum() / (task.x_train > text.PAD_ID).sum()
    assert known > 0.7  # most tokens are among the 2000 most frequent GloVe words


def test_fold_arguments_are_checked():
    labels = [0, 1] * 10
    with pytest.raises(ValueError, match="num_folds"):
        text.fold_splits(labels, num_folds=2)
    with pytest.raises(ValueError, match="fold"):
        text.fold_splits(labels, num_folds=5, fold=5)
    with pytest.raises(ValueError, match="fewer than num_folds"):
        text.fold_splits([0, 0, 0, 1, 1, 1, 1, 1], num_folds=5)
    with pytest.raises(ValueError, match="vocab"):
        text.load_text_task("polarity", num_folds=5, vocab=["a", "b", "c"])
    with pytest.raises(ValueError, match="name"):
        text.load_text_corpus("imdb")
