"""Three disjoint splits for compression benchmarks: fit (train the codes), database (searched), queries.

``make_splits`` draws one seeded permutation of the row indices; rows listed in ``keep_out_of_fit`` (for GloVe:
every word of the word-similarity and analogy files) are never put in the fit split, so word metrics are
computed on vectors the codes were not fitted on. ``load_splits`` builds them for the two data sets:

* ``glove``: the ``num_words`` most frequent GloVe 6B 50d words (unit-normalised).
* ``minilm``: the first ``num_words`` texts of ``neuromorph.data.embeddings.large_minilm_texts`` (sentences,
  Wikipedia sentences, then GloVe words), encoded by all-MiniLM-L6-v2. Up to ``MINILM_POOL`` texts the one
  cached encoding of the whole pool is sliced (it is built once, resumably, with a progress bar). Texts that
  are evaluation words stay out of the fit split; the word metrics use each evaluation word encoded alone.

>>> import torch
>>> s = make_splits(torch.randn(100, 4), num_fit=20, num_queries=10, seed=0)
>>> s.fit.shape[0], s.database.shape[0], s.queries.shape[0]
(20, 70, 10)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from neuromorph.data import embeddings as emb

MINILM_POOL = 111_000


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm (float32).

    >>> [round(v, 4) for v in unit_rows(torch.tensor([[3.0, 4.0]]))[0].tolist()]
    [0.6, 0.8]
    """
    return (x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)).to(torch.float32)


@dataclass
class Splits:
    """Disjoint unit-norm ``fit``, ``database`` and ``queries`` rows, plus the word vectors of the word metrics.

    >>> s = make_splits(torch.randn(50, 4), num_fit=10, num_queries=5)
    >>> s.name, [round(float(n), 4) for n in s.fit.norm(dim=1)[:2]], sorted(s.indices)
    ('data', [1.0, 1.0], ['database', 'fit', 'queries'])
    """

    name: str
    fit: torch.Tensor
    database: torch.Tensor
    queries: torch.Tensor
    words: emb.WordVectors | None = None
    indices: dict[str, torch.Tensor] = field(default_factory=dict)


def make_splits(
    x: torch.Tensor,
    num_fit: int,
    num_queries: int,
    seed: int = 0,
    name: str = "data",
    keep_out_of_fit: torch.Tensor | None = None,
    words: emb.WordVectors | None = None,
) -> Splits:
    """Seeded disjoint split of the rows of ``x``: ``num_fit`` fit rows, ``num_queries`` queries, the rest the database.

    >>> s = make_splits(torch.randn(30, 4), num_fit=10, num_queries=5, seed=0)
    >>> rows = torch.cat([s.indices[k] for k in ("fit", "database", "queries")])
    >>> sorted(rows.tolist()) == list(range(30))                   # disjoint and complete
    True
    """
    n = x.shape[0]
    for arg, val in (("num_fit", num_fit), ("num_queries", num_queries)):
        if not isinstance(val, int) or val < 1:
            raise ValueError(f"{arg} must be a positive int, got {val!r}")
    if num_fit + num_queries >= n:
        raise ValueError(f"num_fit + num_queries = {num_fit + num_queries} leaves no database rows out of {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    if keep_out_of_fit is not None and keep_out_of_fit.numel():
        banned = torch.zeros(n, dtype=torch.bool)
        banned[keep_out_of_fit] = True
        order = torch.cat([order[~banned[order]], order[banned[order]]])  # banned rows go last
        if int((~banned).sum()) < num_fit:
            raise ValueError(f"only {int((~banned).sum())} rows may be fitted on, asked for num_fit={num_fit}")
    fit_idx = order[:num_fit]
    rest = order[num_fit:]
    rest = rest[torch.randperm(rest.shape[0], generator=torch.Generator().manual_seed(seed + 1))]
    query_idx, db_idx = rest[:num_queries], rest[num_queries:]
    xu = unit_rows(x)
    return Splits(
        name, xu[fit_idx], xu[db_idx], xu[query_idx], words, {"fit": fit_idx, "database": db_idx, "queries": query_idx}
    )


def load_splits(
    dataset: str, num_words: int, num_fit: int, num_queries: int, seed: int = 0, word_metrics: bool = True
) -> Splits:
    """``"glove"`` or ``"minilm"`` splits as described in the module docstring.

    >>> s = load_splits("glove", num_words=1000, num_fit=200, num_queries=50, word_metrics=False)
    >>> s.fit.shape, s.database.shape, s.queries.shape, s.words is None
    (torch.Size([200, 50]), torch.Size([750, 50]), torch.Size([50, 50]), True)
    """
    if dataset == "glove":
        glove = emb.load_glove(num_words)
        words = emb.WordVectors(glove.words, unit_rows(glove.vectors))
        banned = (
            torch.tensor([words.index[w] for w in emb.evaluation_words() if w in words.index], dtype=torch.int64)
            if word_metrics
            else None
        )
        return make_splits(glove.vectors, num_fit, num_queries, seed, "glove", banned, words if word_metrics else None)
    if dataset == "minilm":
        texts = emb.large_minilm_texts(max(MINILM_POOL, num_words))
        vectors = emb.encode_minilm(texts)[:num_words]
        minilm_words: emb.WordVectors | None = None
        banned = None
        if word_metrics:
            eval_words = emb.evaluation_words()
            wv = emb.minilm_word_vectors(eval_words)
            minilm_words = emb.WordVectors(wv.words, unit_rows(wv.vectors))
            position = {t: i for i, t in enumerate(texts[:num_words])}
            banned = torch.tensor([position[w] for w in eval_words if w in position], dtype=torch.int64)
        return make_splits(vectors, num_fit, num_queries, seed, "minilm", banned, minilm_words)
    raise ValueError(f"dataset must be 'glove' or 'minilm', got {dataset!r}")
