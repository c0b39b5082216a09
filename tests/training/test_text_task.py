"""The offline text task built from gensim's test data (mini 20-newsgroups, Pang-Lee polarity)."""
from __future__ import annotations

import io
import os
import pickle

import pytest
import torch

from neuromorph.data import text


def test_newsgroups_split_vocab_and_padding():
    task = text.load_text_task("newsgroups", max_len=64)
    assert task.class_names == ["alt.atheism", "sci.space"]
    assert task.x_train.shape == (150, 64) and task.x_test.shape == (50, 64)
    assert task.y_train.bincount().tolist() == [75, 75] and task.y_test.bincount().tolist() == [25, 25]
    assert task.vocab[:2] == ["<pad>", "<unk>"]
    # padding only after the document
    for row, n in zip(task.x_train, task.len_train):
        assert (row[:n] != text.PAD_ID).all() and (row[n:] == text.PAD_ID).all()
    again = text.load_text_task("newsgroups", max_len=64)
    assert torch.equal(task.x_test, again.x_test) and task.vocab == again.vocab  # fixed, deterministic
    bow = task.bag_of_words("test")
    assert bow.shape == (50, task.vocab_size) and (bow[:, 0] == 0).all()


def test_headers_are_removed_so_the_label_does_not_leak():
    task = text.load_text_task("newsgroups", max_len=8)
    firsts = [" ".join(task.vocab[i] for i in row[:2].tolist()) for row in task.x_train]
    assert not any(f.startswith("newsgroups") or f.startswith("path") or f.startswith("from") for f in firsts)


def test_strip_post_and_tokenize():
    post = ("Newsgroups: sci.space\nFrom: a@b\nSubject: hi\n\nIn article <x@y> z@w writes:\n> quoted text\n"
            "Real body, with NASA's orbit 42.\n| also quoted\n")
    body = text.strip_post(post)
    assert body.strip() == "Real body, with NASA's orbit 42."
    assert text.tokenize(body) == ["real", "body", "with", "nasa's", "orbit", "42"]
    assert text.strip_post("only: header\nno: blank line") == ""
    with pytest.raises(TypeError, match="text"):
        text.tokenize(b"bytes")


def test_vocab_comes_from_training_split_only():
    vocab = text.build_vocab([["a", "b", "a"], ["a", "c", "c"]], min_count=2)
    assert vocab == ["<pad>", "<unk>", "a", "c"]
    ids, lengths = text.encode([["a", "zzz"], []], vocab, max_len=3)
    assert ids.tolist() == [[2, 1, 0], [1, 0, 0]] and lengths.tolist() == [2, 1]
    with pytest.raises(ValueError, match="min_count"):
        text.build_vocab([["a"]], min_count=0)


def test_polarity_task_and_bad_names():
    task = text.load_text_task("polarity")
    assert task.num_classes == 2 and len(task.y_train) + len(task.y_test) == 200
    with pytest.raises(ValueError, match="name"):
        text.load_text_task("imdb")
    with pytest.raises(ValueError, match="test_fraction"):
        text.load_text_task("polarity", test_fraction=1.5)


def test_restricted_unpickler_refuses_other_globals():
    payload = pickle.dumps(os.getcwd, protocol=0)  # a global outside the allow list
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        text._BunchUnpickler(io.BytesIO(payload)).load()
