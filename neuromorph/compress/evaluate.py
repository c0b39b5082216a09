"""Compression benchmark: every method fitted on the fit split, searched over the database split, scored on
held-out queries (:mod:`neuromorph.compress.splits`), FAISS anchors side by side.

Per method (one row, a dict with the keys of ``ROW_KEYS``):

* ``bytes_per_vector``: the exact stored bytes (``pack()`` output, or FAISS ``sa_code_size()``).
* ``recall_at_10``: ``|found & true| / 10`` averaged over the queries, ``found`` the method's own top-10
  (Hamming, asymmetric estimate, ADC, ...), ``true`` the exact float top-10 by inner product (= cosine).
* ``recall_at_10_rescored_xF`` (F in ``rescore_factors``, default 10 and 50): the method returns its top
  ``F * 10`` candidates, which are re-ranked by the exact float inner product; top-10 of that.
* ``qps_batch1`` / ``qps_batch256``: queries per second of the method's top-10 search alone (query encoding
  included, no rescoring), on ``threads`` threads (FAISS and torch): ``batch1_queries`` queries one at a
  time, and all queries in batches of 256; ``time.perf_counter``.
* ``build_s``: seconds to fit on the fit split and encode / add the database.
* ``wordsim353``, ``simlex999`` (Spearman rho of human scores vs. the method's similarity of reconstructed
  word vectors) and ``analogy`` (3CosAdd accuracy over the first ``analogy_vocab`` words) when the split
  carries word vectors and the method can reconstruct vectors (``None`` otherwise). Evaluation words never
  sit in the fit split.
"""

from __future__ import annotations

import json
import math
import time
from typing import Sequence

import numpy as np
import torch
from scipy.stats import spearmanr

from neuromorph.compress.faiss_anchors import MethodSpec
from neuromorph.compress.search import _faiss, exact_search, recall_at_k, rescore
from neuromorph.compress.splits import Splits, unit_rows
from neuromorph.data import embeddings as emb
from neuromorph.utils import check_positive_int, progress

ROW_KEYS = (
    "method",
    "family",
    "bytes_per_vector",
    "recall_at_10",
    "recall_at_10_rescored_x10",
    "recall_at_10_rescored_x50",
    "qps_batch1",
    "qps_batch256",
    "build_s",
    "wordsim353",
    "simlex999",
    "analogy",
)


# -- word metrics -----------------------------------------------------------------------------------------
def pair_similarity(dec: torch.Tensor, metric: str, ia: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
    """The method's similarity for index pairs: cosine (also Hamming signs), inner product, or minus L1 / L2.

    >>> dec = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    >>> ia, ib = torch.tensor([0, 0]), torch.tensor([1, 2])
    >>> pair_similarity(dec, "cosine", ia, ib).tolist(), pair_similarity(dec, "l1", ia, ib).tolist()
    ([0.0, 1.0], [-3.0, -2.0])
    """
    a, b = dec[ia].to(torch.float64), dec[ib].to(torch.float64)
    if metric == "l1":
        return -(a - b).abs().sum(1)
    if metric == "euclidean":
        return -(a - b).norm(dim=1)
    if metric == "inner":
        return (a * b).sum(1)
    return torch.nn.functional.cosine_similarity(a, b, dim=1)


def distance_estimate(dec: torch.Tensor, metric: str, ia: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
    """Estimated Euclidean distance between the unit vectors behind ``ia`` and ``ib`` (module docstring).

    >>> dec = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> round(distance_estimate(dec, "cosine", torch.tensor([0]), torch.tensor([1])).item(), 4)     # sqrt(2)
    1.4142
    """
    if metric in ("l1", "euclidean"):
        return -pair_similarity(dec, metric, ia, ib)
    cos = pair_similarity(dec, "cosine" if metric == "inner" else metric, ia, ib)
    if metric == "hamming":
        return 2 * torch.sin(math.pi * (1 - cos) / 4)
    return (2 - 2 * cos).clamp_min(0).sqrt()


def spearman(
    dec: torch.Tensor, metric: str, words: emb.WordVectors, pairs: Sequence[tuple[str, str, float]]
) -> tuple[float, int]:
    """Spearman rho between human scores and the method similarity; returns ``(rho, pairs used)``.

    >>> vectors = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.5, 0.5], [0.0, 1.0]])
    >>> words = emb.WordVectors(["a", "b", "c", "d"], vectors)
    >>> rho, used = spearman(words.vectors, "cosine", words, [("a", "b", 9.0), ("a", "c", 5.0), ("a", "d", 1.0)])
    >>> round(rho, 3), used
    (1.0, 3)
    """
    kept = [(words.index[a], words.index[b], s) for a, b, s in pairs if a in words.index and b in words.index]
    if len(kept) < 3:
        raise ValueError("fewer than 3 word pairs are in the vocabulary")
    ia, ib, human = map(list, zip(*kept))
    sim = pair_similarity(dec, metric, torch.tensor(ia), torch.tensor(ib))
    return float(spearmanr(human, sim.numpy()).statistic), len(kept)


def analogy_questions(words: emb.WordVectors, vocab: int, max_questions: int | None, seed: int = 0) -> torch.Tensor:
    """Index rows ``[Q, 4]`` (a, b, c, d) of the analogies with all words among the first ``vocab`` words.

    >>> words = emb.WordVectors(["athens", "greece", "baghdad", "iraq"], torch.eye(4))
    >>> questions = analogy_questions(words, vocab=4, max_questions=None)
    >>> questions.shape[1], questions[0].tolist()            # athens : greece = baghdad : iraq
    (4, [0, 1, 2, 3])
    """
    idx = words.index
    rows = [[idx[w] for w in qn[1:]] for qn in emb.load_analogies() if all(w in idx and idx[w] < vocab for w in qn[1:])]
    out = torch.tensor(rows, dtype=torch.int64).reshape(-1, 4)
    if max_questions is not None and out.shape[0] > max_questions:
        gen = torch.Generator().manual_seed(seed)
        out = out[torch.randperm(out.shape[0], generator=gen)[:max_questions]]
    return out


def analogy_accuracy(dec: torch.Tensor, questions: torch.Tensor, vocab: int, chunk: int = 1024) -> float:
    """3CosAdd accuracy over ``questions [Q, 4]`` searching the first ``vocab`` rows of ``dec``.

    >>> v = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> analogy_accuracy(v, torch.tensor([[0, 1, 2, 3]]), vocab=4)     # b - a + c = d
    1.0
    """
    if questions.shape[0] == 0:
        return float("nan")
    v = unit_rows(dec[:vocab].to(torch.float32))
    correct = 0
    for start in range(0, questions.shape[0], chunk):
        qn = questions[start : start + chunk]
        target = v[qn[:, 1]] - v[qn[:, 0]] + v[qn[:, 2]]
        scores = target @ v.T
        scores.scatter_(1, qn[:, :3], -torch.inf)
        correct += int((scores.argmax(1) == qn[:, 3]).sum())
    return correct / questions.shape[0]


# -- search metrics ---------------------------------------------------------------------------------------
def queries_per_second(search, queries: np.ndarray, k: int, batch: int, max_queries: int | None = None) -> float:
    """``n / seconds`` for ``search(queries[i:i + batch], k)`` over the first ``max_queries`` queries.

    >>> qps = queries_per_second(lambda q, k: q[:, :k], np.zeros((8, 4)), k=2, batch=4)
    >>> qps > 0
    True
    """
    q = queries if max_queries is None else queries[:max_queries]
    t0 = time.perf_counter()
    for start in range(0, q.shape[0], batch):
        search(q[start : start + batch], k)
    return q.shape[0] / (time.perf_counter() - t0)


def _word_subset(words: emb.WordVectors, vocab: int, sims: dict) -> emb.WordVectors:
    """The first ``vocab`` words (analogy search space) plus every other word of the similarity files."""
    extra = sorted(
        {
            words.index[w]
            for pairs in sims.values()
            for a, b, _ in pairs
            for w in (a, b)
            if w in words.index and words.index[w] >= vocab
        }
    )
    keep = list(range(vocab)) + extra
    return emb.WordVectors([words.words[i] for i in keep], words.vectors[keep])


def evaluate(
    splits: Splits,
    methods: Sequence[MethodSpec],
    k: int = 10,
    rescore_factors: Sequence[int] = (10, 50),
    batch1_queries: int = 100,
    batch: int = 256,
    threads: int = 1,
    word_metrics: bool = True,
    analogy_vocab: int = 30_000,
    max_analogies: int = 5000,
    seed: int = 0,
    show_progress: bool | None = None,
) -> list[dict]:
    """One row per method (module docstring); rows carry ``None`` where a metric does not apply.

    >>> from neuromorph.compress.methods import float_method, parse_methods
    >>> from neuromorph.compress.splits import make_splits
    >>> splits = make_splits(torch.randn(400, 16), num_fit=100, num_queries=20, seed=0)
    >>> rows = evaluate(splits, [float_method()] + parse_methods(["sign"], dim=16), rescore_factors=(2,),
    ...                 batch1_queries=5, word_metrics=False, show_progress=False)
    >>> [(r["method"], r["bytes_per_vector"], r["recall_at_10"] <= 1.0) for r in rows]
    [('float32', 64, True), ('sign', 2, True)]
    """
    check_positive_int("k", k)
    if any(not isinstance(f, int) or f < 1 for f in rescore_factors):
        raise ValueError(f"rescore_factors must be positive ints, got {rescore_factors!r}")
    faiss = _faiss()
    faiss.omp_set_num_threads(threads)
    torch.set_num_threads(threads)
    db = np.ascontiguousarray(splits.database.numpy())
    queries = np.ascontiguousarray(splits.queries.numpy())
    n = db.shape[0]
    depth = min(n, k * max((1, *rescore_factors)))
    truth = exact_search(queries, db, k)[1]
    words = splits.words if word_metrics else None
    if words is not None:
        sims = {name: emb.load_word_similarity(name) for name in emb.SIMILARITY_FILES}
        vocab = min(analogy_vocab, len(words.words))
        words = _word_subset(words, vocab, sims)
        questions = analogy_questions(words, vocab, max_analogies, seed)
    rows = []
    for spec in progress(methods, desc="methods", enable=show_progress):
        built = spec.build(splits.fit, splits.database)
        found = built.search(queries, depth)
        row: dict = {
            "method": spec.name,
            "family": spec.family,
            "bytes_per_vector": int(built.bytes_per_vector),
            "recall_at_10": recall_at_k(found, truth, k),
        }
        for factor in rescore_factors:
            cand = found[:, : min(n, factor * k)]
            row[f"recall_at_10_rescored_x{factor}"] = recall_at_k(rescore(queries, db, cand, k), truth, k)
        built.search(queries[:1], k)  # warm-up: lazy loads must not count as search time
        row["qps_batch1"] = queries_per_second(built.search, queries, k, 1, batch1_queries)
        row[f"qps_batch{batch}"] = queries_per_second(built.search, queries, k, batch)
        row["build_s"] = built.build_seconds
        for name in ("wordsim353", "simlex999", "analogy"):
            row[name] = None
        if words is not None and built.decode_words is not None:
            decoded, metric = built.decode_words(words.vectors)
            for name, pairs in sims.items():
                row[name] = spearman(decoded, metric, words, pairs)[0]
            row["analogy"] = analogy_accuracy(decoded, questions, vocab)
        rows.append(row)
    return rows


# -- output -----------------------------------------------------------------------------------------------
def write_json_rows(rows: Sequence[dict], path: str) -> None:
    """JSON Lines: one object per method, NaN written as ``null``.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "rows.jsonl")
    >>> rows = [{"method": "sign", "recall_at_10": 0.5}, {"method": "pq", "recall_at_10": float("nan")}]
    >>> write_json_rows(rows, path)
    >>> open(path).read().splitlines()
    ['{"method": "sign", "recall_at_10": 0.5}', '{"method": "pq", "recall_at_10": null}']
    """
    with open(path, "w") as fh:
        for row in rows:
            clean = {key: (None if isinstance(v, float) and not math.isfinite(v) else v) for key, v in row.items()}
            fh.write(json.dumps(clean) + "\n")


def read_json_rows(path: str) -> list[dict]:
    """Rows written by :func:`write_json_rows` (``null`` read back as NaN).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "rows.jsonl")
    >>> write_json_rows([{"method": "sign", "analogy": float("nan")}], path)
    >>> read_json_rows(path)
    [{'method': 'sign', 'analogy': None}]
    """
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


COLUMNS = (
    ("method", "method"),
    ("family", "family"),
    ("bytes/vec", "bytes_per_vector"),
    ("R@10", "recall_at_10"),
    ("R@10 x10", "recall_at_10_rescored_x10"),
    ("R@10 x50", "recall_at_10_rescored_x50"),
    ("q/s b1", "qps_batch1"),
    ("q/s b256", "qps_batch256"),
    ("build s", "build_s"),
    ("WS353", "wordsim353"),
    ("SimLex", "simlex999"),
    ("analogy", "analogy"),
)


def _cell(row: dict, key: str) -> str:
    val = row.get(key)
    if val is None or (isinstance(val, float) and val != val):
        return "-"
    if isinstance(val, str) or key == "bytes_per_vector":
        return str(val)
    if key.startswith("qps"):
        return f"{val:,.0f}"
    if key == "build_s":
        return f"{val:.1f}"
    return f"{val:.3f}"


def format_table(rows: Sequence[dict], markdown: bool = True) -> str:
    """The rows as a markdown (or aligned plain-text) table.

    >>> print(format_table([{"method": "sign", "family": "neuromorph", "bytes_per_vector": 48}]).splitlines()[0][:40])
    | method | family | bytes/vec | R@10 | R
    """
    header = [c for c, _ in COLUMNS]
    body = [[_cell(r, key) for _, key in COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(b) + " |" for b in body])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(header)] + [fmt(b) for b in body])
