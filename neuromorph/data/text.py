"""Small offline text-classification tasks built from files that ship inside the gensim wheel.

Two tasks are available, both read from ``gensim/test/test_data/`` (no download):

``"newsgroups"`` (default)
    ``mini_newsgroup``: a zlib-compressed pickle (protocol 0) of a scikit-learn ``Bunch`` holding 200 posts of the
    20-newsgroups corpus, 100 from ``alt.atheism`` (label 0) and 100 from ``sci.space`` (label 1). The pickle is read
    with a restricted unpickler that only resolves the handful of classes the file needs (dict, ``Bunch`` -> dict,
    numpy array reconstruction) and refuses everything else. Each post is cleaned as scikit-learn's
    ``remove=("headers", "quotes")`` would: the header block (everything up to the first blank line, which names the
    newsgroup and would leak the label) is dropped, as are quoted lines (starting with ``>`` or ``|``) and the
    ``In article <...> ... writes:`` attribution lines.
``"polarity"``
    ``pang_lee_polarity.cor``: 200 one-line movie-review snippets (Pang & Lee sentence polarity), each prefixed with
    ``__label__neg`` (label 0) or ``__label__pos`` (label 1).

Tokenisation: lower-case, then the tokens are the maximal runs matching ``[a-z0-9']+`` with leading/trailing
apostrophes stripped; empty tokens are dropped. The vocabulary is built from the **training split only**: words with
count >= ``min_count`` sorted by (-count, word), cut to ``max_vocab``; id 0 is ``<pad>``, id 1 is ``<unk>``.
Each document is the first ``max_len`` token ids, right-padded with 0.

Fixed split: per class, documents are ordered by a seeded permutation (``numpy.random.default_rng(split_seed)``) and
the first ``round(test_fraction * n_class)`` go to the test set, the rest to training (stratified, deterministic).

Train / validation / test folds (``num_folds=K``, :func:`fold_splits`): per class, documents are ordered by the same
seeded permutation and dealt round-robin into ``K`` folds (document ``j`` of the permuted class goes to fold
``j mod K``); fold ``k`` is the test set, fold ``(k + 1) mod K`` the validation set and the other ``K - 2`` folds the
training set. Over ``k = 0..K-1`` every document is tested exactly once, so a result averaged over the folds is a
test accuracy on the whole corpus, with hyper-parameters chosen on validation folds only.

Pre-trained word vectors (:func:`glove_vocabulary`): instead of a vocabulary built from the training split, a fixed
one -- ``<pad>``, ``<unk>`` and the most frequent GloVe 6B words -- with its 50-d vectors (zero rows for ``<pad>`` and
``<unk>``), so that words never seen in training still carry meaning at test time.

>>> texts, labels, names = load_text_corpus("polarity")
>>> len(texts), names
(200, ['neg', 'pos'])
>>> train, val, test = fold_splits(labels, num_folds=5, fold=0)
>>> len(train), len(val), len(test)
(120, 40, 40)
"""

from __future__ import annotations

import io
import os
import pickle
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from neuromorph.utils import check_positive_int

TEXT_TASKS = ("newsgroups", "polarity")
PAD_ID = 0
UNK_ID = 1
_TOKEN_RE = re.compile(r"[a-z0-9']+")
_ATTRIBUTION_RE = re.compile(r"^(in article|.*\bwrites:\s*$|.*\bwrote:\s*$)", re.IGNORECASE)


def gensim_test_data_dir() -> str:
    """Directory ``gensim/test/test_data`` of the installed gensim (located without importing gensim).

    Raises ``ImportError`` if gensim is not installed.

    >>> os.path.isfile(os.path.join(gensim_test_data_dir(), "mini_newsgroup"))
    True
    """
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the text tasks read files shipped with gensim; install it with `pip install gensim`")
    return os.path.join(list(spec.submodule_search_locations)[0], "test", "test_data")


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and return the runs of ``[a-z0-9']`` with surrounding apostrophes removed.

    >>> tokenize("Spiking nets don't need 'GPUs'!")
    ['spiking', 'nets', "don't", 'need', 'gpus']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    tokens = (t.strip("'") for t in _TOKEN_RE.findall(text.lower()))
    return [t for t in tokens if t]


def strip_post(post: str) -> str:
    """Remove the header block, quoted lines and attribution lines from a newsgroup post.

    >>> post = ["From: someone", "Subject: hi", "", "In article <1@x> bob writes:", "> quoted", "the body"]
    >>> strip_post(chr(10).join(post))
    'the body'
    """
    _, sep, body = post.partition("\n\n")
    if not sep:  # no blank line: the whole post is header
        body = ""
    kept = []
    for line in body.splitlines():
        stripped = line.lstrip()
        if stripped.startswith((">", "|")) or _ATTRIBUTION_RE.match(stripped):
            continue
        kept.append(line)
    return "\n".join(kept)


class _BunchUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the classes used by gensim's ``mini_newsgroup`` file."""

    def find_class(self, module: str, name: str) -> Any:
        import copyreg

        if name == "Bunch" and module.startswith("sklearn."):
            return dict
        if (module, name) in {("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor")}:
            return copyreg._reconstructor  # type: ignore[attr-defined]  # private, missing from typeshed
        if (module, name) in {
            ("__builtin__", "dict"),
            ("builtins", "dict"),
            ("__builtin__", "object"),
            ("builtins", "object"),
        }:
            return dict if name == "dict" else object
        if module in {"numpy.core.multiarray", "numpy._core.multiarray"} and name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct  # numpy >= 2
            except ImportError:  # pragma: no cover - numpy 1.x
                from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
            return _reconstruct
        if module == "numpy" and name in {"ndarray", "dtype"}:
            return getattr(np, name)
        raise pickle.UnpicklingError(f"mini_newsgroup: refusing to load {module}.{name}")


def _load_newsgroups(data_dir: str) -> tuple[list[str], list[int], list[str]]:
    path = os.path.join(data_dir, "mini_newsgroup")
    with open(path, "rb") as fh:
        raw = zlib.decompress(fh.read())
    bunch = _BunchUnpickler(io.BytesIO(raw), encoding="latin1").load()
    texts = [strip_post(str(doc)) for doc in bunch["data"]]
    labels = [int(y) for y in np.asarray(bunch["target"]).tolist()]
    return texts, labels, [str(n) for n in bunch["target_names"]]


def _load_polarity(data_dir: str) -> tuple[list[str], list[int], list[str]]:
    path = os.path.join(data_dir, "pang_lee_polarity.cor")
    names = ["neg", "pos"]
    texts, labels = [], []
    with open(path, encoding="latin-1") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            tag, _, text = line.partition(" ")
            if not tag.startswith("__label__") or tag[len("__label__") :] not in names:
                raise ValueError(f"{path}: unexpected label {tag!r}")
            texts.append(text)
            labels.append(names.index(tag[len("__label__") :]))
    return texts, labels, names


def load_text_corpus(name: str, data_dir: str | None = None) -> tuple[list[str], list[int], list[str]]:
    """``(texts, labels, class_names)`` of the corpus ``name`` in :data:`TEXT_TASKS` (cleaned, not tokenised).

    >>> texts, labels, names = load_text_corpus("newsgroups")
    >>> len(texts), names, sum(labels)
    (200, ['alt.atheism', 'sci.space'], 100)
    """
    loaders = {"newsgroups": _load_newsgroups, "polarity": _load_polarity}
    if name not in loaders:
        raise ValueError(f"name must be one of {TEXT_TASKS}, got {name!r}")
    return loaders[name](data_dir or gensim_test_data_dir())


def fold_splits(
    labels: Sequence[int], num_folds: int = 5, fold: int = 0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified ``(train_idx, val_idx, test_idx)`` (sorted) for fold ``fold`` of ``num_folds`` (module docstring).

    >>> [len(part) for part in fold_splits([0, 1] * 10, num_folds=5, fold=2)]
    [12, 4, 4]
    """
    check_positive_int("num_folds", num_folds)
    if num_folds < 3:
        raise ValueError(f"num_folds must be >= 3 (train, validation and test folds), got {num_folds!r}")
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < num_folds:
        raise ValueError(f"fold must be an int in [0, {num_folds}), got {fold!r}")
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    assignment = np.empty(len(y), dtype=np.int64)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        if len(idx) < num_folds:
            raise ValueError(f"class {cls} has {len(idx)} documents, fewer than num_folds={num_folds}")
        assignment[idx[rng.permutation(len(idx))]] = np.arange(len(idx)) % num_folds
    val_fold = (fold + 1) % num_folds
    return (
        np.flatnonzero((assignment != fold) & (assignment != val_fold)),
        np.flatnonzero(assignment == val_fold),
        np.flatnonzero(assignment == fold),
    )


def glove_vocabulary(num_words: int = 50_000) -> tuple[list[str], Tensor]:
    """``(vocab, vectors)``: ``["<pad>", "<unk>", *the num_words most frequent GloVe 6B words]`` and their
    ``[len(vocab), 50]`` float32 vectors, with zero rows for ``<pad>`` and ``<unk>``
    (:func:`neuromorph.data.embeddings.load_glove`).

    >>> vocab, vectors = glove_vocabulary(1000)
    >>> vocab[:4], tuple(vectors.shape)
    (['<pad>', '<unk>', 'the', ','], (1002, 50))
    """
    from neuromorph.data.embeddings import load_glove

    check_positive_int("num_words", num_words)
    glove = load_glove(num_words)
    words = [w for w in glove.words if w not in ("<pad>", "<unk>")]
    rows = [glove.index[w] for w in words]
    vectors = torch.cat([torch.zeros(2, glove.vectors.shape[1]), glove.vectors[rows]])
    return ["<pad>", "<unk>", *words], vectors


@dataclass
class TextTask:
    """A tokenised, padded text-classification task with a fixed train/test (and optional validation) split.

    ``x_*``: int64 ``[N, max_len]`` token ids (0 = pad), ``len_*``: int64 ``[N]`` unpadded lengths (>= 1; an empty
    document becomes one ``<unk>``), ``y_*``: int64 ``[N]`` labels. ``x_val`` etc. are None without a validation
    split; ``texts`` maps each split name to its cleaned, untokenised documents (for tf-idf or sentence encoders).

    >>> task = load_text_task("polarity", max_len=16)
    >>> task.x_train.shape, task.num_classes, task.bag_of_words("test").shape[1] == task.vocab_size
    (torch.Size([150, 16]), 2, True)
    """

    name: str
    x_train: Tensor
    len_train: Tensor
    y_train: Tensor
    x_test: Tensor
    len_test: Tensor
    y_test: Tensor
    vocab: list[str]
    class_names: list[str]
    info: dict = field(default_factory=dict)
    x_val: Tensor | None = None
    len_val: Tensor | None = None
    y_val: Tensor | None = None
    texts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def splits(self) -> tuple[str, ...]:
        """The split names present: ``("train", "test")`` or ``("train", "val", "test")``."""
        return ("train", "test") if self.x_val is None else ("train", "val", "test")

    def split(self, name: str) -> tuple[Tensor, Tensor, Tensor]:
        """``(x, lengths, y)`` of the split ``name``.

        >>> x, lengths, y = load_text_task("polarity", max_len=8).split("test")
        >>> tuple(x.shape), tuple(y.shape)
        ((50, 8), (50,))
        """
        if name not in self.splits:
            raise ValueError(f"split must be one of {self.splits}, got {name!r}")
        return getattr(self, f"x_{name}"), getattr(self, f"len_{name}"), getattr(self, f"y_{name}")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def max_len(self) -> int:
        return int(self.x_train.shape[1])

    def bag_of_words(self, split: str = "train") -> Tensor:
        """``log(1 + count)`` bag-of-words features ``[N, vocab_size]`` (float32) for ``split`` in
        :attr:`splits`; the ``<pad>`` column is always 0."""
        x = self.split(split)[0]
        counts = torch.zeros(x.shape[0], self.vocab_size)
        counts.scatter_add_(1, x, torch.ones_like(x, dtype=torch.float32))
        counts[:, PAD_ID] = 0.0
        return torch.log1p(counts)


def build_vocab(docs: Sequence[Sequence[str]], min_count: int = 2, max_vocab: int | None = None) -> list[str]:
    """Vocabulary ``["<pad>", "<unk>", words...]`` of words seen >= ``min_count`` times, by (-count, word).

    >>> build_vocab([["a", "b", "a"], ["b", "c"]], min_count=2)
    ['<pad>', '<unk>', 'a', 'b']
    """
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
    if max_vocab is not None and (not isinstance(max_vocab, int) or max_vocab < 3):
        raise ValueError(f"max_vocab must be None or an int >= 3, got {max_vocab!r}")
    counts = Counter(tok for doc in docs for tok in doc)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    if max_vocab is not None:
        words = words[: max_vocab - 2]
    return ["<pad>", "<unk>", *words]


def encode(docs: Sequence[Sequence[str]], vocab: Sequence[str], max_len: int) -> tuple[Tensor, Tensor]:
    """Map token lists to ``([N, max_len] ids, [N] lengths)``.

    Unknown words become ``<unk>``; an empty document becomes a single ``<unk>``.

    >>> ids, lengths = encode([["a", "b"], ["z"]], ["<pad>", "<unk>", "a", "b"], max_len=3)
    >>> ids.tolist(), lengths.tolist()
    ([[2, 3, 0], [1, 0, 0]], [2, 1])
    """
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be an int >= 1, got {max_len!r}")
    index = {w: i for i, w in enumerate(vocab)}
    ids = torch.zeros(len(docs), max_len, dtype=torch.long)
    lengths = torch.zeros(len(docs), dtype=torch.long)
    for row, doc in enumerate(docs):
        seq = [index.get(tok, UNK_ID) for tok in doc[:max_len]] or [UNK_ID]
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        lengths[row] = len(seq)
    return ids, lengths


def split_indices(labels: Sequence[int], test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified deterministic split; returns sorted (train_idx, test_idx).

    >>> train, test = split_indices([0, 0, 0, 0, 1, 1, 1, 1], test_fraction=0.25, seed=0)
    >>> len(train), len(test), sorted(int(i) // 4 for i in test)
    (6, 2, [0, 1])
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    train, test = [], []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(test_fraction * len(idx)))
        test.extend(idx[:n_test].tolist())
        train.extend(idx[n_test:].tolist())
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(test, dtype=np.int64))


def load_text_task(
    name: str = "newsgroups",
    max_len: int = 128,
    min_count: int = 2,
    max_vocab: int | None = 5000,
    test_fraction: float = 0.25,
    split_seed: int = 0,
    data_dir: str | None = None,
    num_folds: int | None = None,
    fold: int = 0,
    vocab: Sequence[str] | None = None,
) -> TextTask:
    """Load the text task ``name`` (see the module docstring for the files, cleaning, tokenisation and split).

    With ``num_folds`` the split is train / validation / test by :func:`fold_splits` (``test_fraction`` is then
    unused); ``vocab`` (e.g. from :func:`glove_vocabulary`, starting with ``<pad>``, ``<unk>``) replaces the
    vocabulary built from the training split (``min_count`` and ``max_vocab`` are then unused).

    >>> task = load_text_task("polarity", max_len=32, num_folds=5, fold=0)
    >>> task.splits, tuple(task.x_val.shape), len(task.texts["test"])
    (('train', 'val', 'test'), (40, 32), 40)
    """
    texts, labels, class_names = load_text_corpus(name, data_dir)
    docs = [tokenize(t) for t in texts]
    if num_folds is None:
        train_idx, test_idx = split_indices(labels, test_fraction, split_seed)
        parts = {"train": train_idx, "test": test_idx}
    else:
        train_idx, val_idx, test_idx = fold_splits(labels, num_folds, fold, split_seed)
        parts = {"train": train_idx, "val": val_idx, "test": test_idx}
    if vocab is None:
        vocab = build_vocab([docs[i] for i in train_idx], min_count=min_count, max_vocab=max_vocab)
    elif list(vocab[:2]) != ["<pad>", "<unk>"]:
        raise ValueError("vocab must start with '<pad>', '<unk>'")
    y = torch.tensor(labels, dtype=torch.long)
    encoded = {split: encode([docs[i] for i in idx], vocab, max_len) for split, idx in parts.items()}
    source = "mini_newsgroup" if name == "newsgroups" else "pang_lee_polarity.cor"
    info = {
        "source": "gensim/test/test_data/" + source,
        "num_docs": len(texts),
        "mean_tokens": float(np.mean([len(d) for d in docs])),
        "max_len": max_len,
        "min_count": min_count,
        "test_fraction": test_fraction,
        "split_seed": split_seed,
        "num_folds": num_folds,
        "fold": fold if num_folds is not None else None,
    }
    val = {}
    if "val" in parts:
        val = {"x_val": encoded["val"][0], "len_val": encoded["val"][1], "y_val": y[parts["val"]]}
    return TextTask(
        name,
        *encoded["train"],
        y[train_idx],
        *encoded["test"],
        y[test_idx],
        list(vocab),
        class_names,
        info,
        texts={split: [texts[i] for i in idx] for split, idx in parts.items()},
        **val,
    )
