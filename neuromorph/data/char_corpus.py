"""Character-level corpora for next-token language modelling, read offline from gensim's test data.

Corpus ``"head500"``: ``gensim/test/test_data/head500.noblanks.cor``, the start of an English Wikipedia dump (first
article: Anarchism), lower-cased, stemmed, stop words removed, one document per line (250 lines, UTF-8). Line ends
``\\r\\n`` are normalised to ``\\n``, which leaves 2,284,621 characters (72 distinct in the default training
block).

Split by contiguous blocks, in file order, with no overlap: the first ``train_fraction`` of the characters are
training text, the next ``valid_fraction`` validation text, the rest the held-out test text (block boundaries
are ``floor(fraction * M)``). Later articles never leak into an earlier split.

Vocabulary: the distinct characters of the **training block only**, sorted by code point, get ids ``1 ..``; id 0
(``"<unk>"``) stands for any character absent from the training block (its count in each split is reported in
``unknown``). ``decode`` shows id 0 as ``"?"``.

>>> corpus = load_char_corpus(max_chars=20_000)
>>> len(corpus.train) + len(corpus.valid) + len(corpus.test)
20000
>>> corpus.decode(corpus.encode("anarch"))
'anarch'
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import torch
from torch import Tensor

from neuromorph.data.text import gensim_test_data_dir
from neuromorph.utils import check_positive_int

CORPORA = {"head500": "head500.noblanks.cor"}
UNK_ID = 0


@dataclass
class CharCorpus:
    """A character corpus split into ``train`` / ``valid`` / ``test`` id streams (``[M_split]`` int64).

    >>> toy = CharCorpus("toy", ["a", "b"], torch.tensor([1, 2]), torch.tensor([1]), torch.tensor([0]), (0, 2, 3, 4))
    >>> toy.vocab_size, toy.encode("abz").tolist(), toy.decode(torch.tensor([2, 0, 1]))
    (3, [1, 2, 0], 'b?a')
    """

    name: str
    chars: list[str]
    train: Tensor
    valid: Tensor
    test: Tensor
    bounds: tuple[int, int, int, int]
    unknown: dict[str, int] = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        """Number of ids, ``<unk>`` included."""
        return len(self.chars) + 1

    def encode(self, text: str) -> Tensor:
        """int64 ids of ``text`` (characters outside the vocabulary -> 0)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        index = {c: i + 1 for i, c in enumerate(self.chars)}
        return torch.tensor([index.get(c, UNK_ID) for c in text], dtype=torch.long)

    def decode(self, ids: Tensor) -> str:
        """The text of an id sequence (``<unk>`` shown as ``"?"``)."""
        if not isinstance(ids, Tensor) or ids.dim() != 1:
            raise ValueError(f"ids must be a 1-d tensor, got {ids!r}")
        table = ["?", *self.chars]
        return "".join(table[i] for i in ids.tolist())


def _check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return float(value)


def read_corpus_text(name: str = "head500") -> str:
    """The raw text of corpus ``name`` (one of :data:`CORPORA`), ``\\r\\n`` normalised to ``\\n``.

    >>> text = read_corpus_text("head500")
    >>> len(text), text[:14], "\\r" in text
    (2284621, 'anarch greek r', False)
    """
    if name not in CORPORA:
        raise ValueError(f"name must be one of {tuple(CORPORA)}, got {name!r}")
    path = os.path.join(gensim_test_data_dir(), CORPORA[name])
    with open(path, encoding="utf-8") as f:
        return f.read().replace("\r\n", "\n")


def split_bounds(total: int, train_fraction: float, valid_fraction: float) -> tuple[int, int, int, int]:
    """Block boundaries ``(0, a, b, total)``: train ``[0, a)``, valid ``[a, b)``, test ``[b, total)`` with
    ``a = floor(train_fraction * total)``, ``b = floor((train_fraction + valid_fraction) * total)``; every block
    must be non-empty.

    >>> split_bounds(100, 0.9, 0.05)
    (0, 90, 95, 100)
    >>> split_bounds(2, 0.5, 0.2)
    Traceback (most recent call last):
    ValueError: 2 characters are too few for the fractions 0.5, 0.2: blocks (0, 1, 1, 2)
    """
    check_positive_int("total", total)
    train_fraction = _check_fraction("train_fraction", train_fraction)
    valid_fraction = _check_fraction("valid_fraction", valid_fraction)
    if train_fraction + valid_fraction >= 1:
        raise ValueError(f"train_fraction + valid_fraction must be < 1, got {train_fraction} + {valid_fraction}")
    a = int(math.floor(train_fraction * total))
    b = int(math.floor((train_fraction + valid_fraction) * total))
    if not 0 < a < b < total:
        raise ValueError(
            f"{total} characters are too few for the fractions {train_fraction}, {valid_fraction}: "
            f"blocks {(0, a, b, total)}"
        )
    return 0, a, b, total


def load_char_corpus(
    name: str = "head500", *, train_fraction: float = 0.9, valid_fraction: float = 0.05, max_chars: int | None = None
) -> CharCorpus:
    """Load corpus ``name`` as character ids split into contiguous blocks (module docstring).

    ``max_chars`` keeps only the first that many characters (small slices for tests); the fractions then apply to
    the slice.

    >>> corpus = load_char_corpus(max_chars=1000)
    >>> corpus.bounds, len(corpus.valid), corpus.unknown["train"]
    ((0, 900, 950, 1000), 50, 0)
    >>> corpus.vocab_size == len(set(read_corpus_text()[:900])) + 1
    True
    """
    text = read_corpus_text(name)
    if max_chars is not None:
        text = text[: check_positive_int("max_chars", max_chars)]
    bounds = split_bounds(len(text), train_fraction, valid_fraction)
    _, a, b, m = bounds
    chars = sorted(set(text[:a]))
    index = {c: i + 1 for i, c in enumerate(chars)}
    ids = torch.tensor([index.get(c, UNK_ID) for c in text], dtype=torch.long)
    train, valid, test = ids[:a].clone(), ids[a:b].clone(), ids[b:m].clone()
    unknown = {
        split: int((part == UNK_ID).sum()) for split, part in (("train", train), ("valid", valid), ("test", test))
    }
    return CharCorpus(name, chars, train, valid, test, bounds, unknown)


def random_windows(ids: Tensor, batch_size: int, length: int, generator: torch.Generator | None = None) -> Tensor:
    """``[batch_size, length]`` windows of consecutive ids starting at uniformly random offsets of ``ids``.

    >>> windows = random_windows(torch.arange(10), 4, 3, torch.Generator().manual_seed(0))
    >>> windows.shape, bool((windows.diff(dim=1) == 1).all()), bool((windows[:, -1] <= 9).all())
    (torch.Size([4, 3]), True, True)
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("length", length)
    if not isinstance(ids, Tensor) or ids.dim() != 1 or ids.numel() < length:
        raise ValueError(
            f"ids must be a 1-d tensor with at least length={length} ids, got {getattr(ids, 'shape', ids)!r}"
        )
    starts = torch.randint(0, ids.numel() - length + 1, (batch_size,), generator=generator)
    return ids[starts[:, None] + torch.arange(length)]


__all__ = ["CORPORA", "CharCorpus", "UNK_ID", "load_char_corpus", "random_windows", "read_corpus_text", "split_bounds"]
