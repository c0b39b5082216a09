"""Evaluation of compression methods on real embeddings: one table, every metric as % of float32.

Data (``load_eval_data``), all unit-normalised (cosine = inner product):

* ``glove``: the ``num_words`` most frequent GloVe 6B 50d words serve both as the search database and as the
  vocabulary of the word metrics.
* ``minilm``: the database is the MiniLM embedding of the offline sentence corpus
  (``neuromorph.data.embeddings.load_sentence_corpus``); the word metrics use MiniLM embeddings of every word of
  the evaluation files, each encoded as a one-word sentence (analogies are searched within that word list).

Each quantiser is calibrated (``fit``) on the set it encodes. Metrics per method:

* WordSim353 / SimLex-999: Spearman correlation between human scores and the method's similarity (cosine of
  decoded vectors; Hamming codes: ``1 - 2 H / m``; Sigma-Delta: minus the estimated distance) over the pairs
  whose words are both in the vocabulary.
* Google analogies (3CosAdd): ``d* = argmax_w cos(w, b - a + c)`` over the first ``analogy_vocab`` words,
  excluding ``a, b, c`` (decoded vectors, unit-normalised first); questions with all four words in that
  vocabulary, at most ``max_analogies`` of them (seeded sample).
* recall@k: ``num_queries`` database rows (seeded) query the database; ground truth is the exact float top-k
  by cosine, the query itself excluded. Hamming codes are searched with FAISS (``IndexBinaryFlat`` or HNSW);
  "rescored" takes the ``rescore_factor * k`` Hamming candidates and re-ranks them by float (or int8) inner
  product. Sigma-Delta codes use brute-force L1 over ``V q`` (Gaussian frame) or L2 over the reconstruction
  (repeat frame); other codes an inner-product search over the
  decoded vectors. Throughput is queries per second of that search (query codes precomputed, FAISS threads
  as given), measured with ``time.perf_counter``.
* dist err: mean relative error ``|d_hat - d| / d`` of estimated Euclidean distances over random database pairs
  (cosine: ``d_hat = sqrt(2 - 2 cos)``; Hamming: ``2 sin(pi H / (2 m))``; Sigma-Delta: the L1 / L2 estimate).
"""
from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.stats import spearmanr

from neuromorph.compress.matryoshka import MatryoshkaBinary
from neuromorph.compress.population_code import PopulationCodeQuantizer
from neuromorph.compress.quantize import (Quantizer, ScalarQuantizer, SignQuantizer, SimHashQuantizer,
                                          TernaryQuantizer, ThermometerQuantizer)
from neuromorph.compress.search import BinaryIndex, distance_search, exact_search, recall_at_k, rescore
from neuromorph.compress.sigma_delta import SigmaDeltaQuantizer
from neuromorph.data import embeddings as emb
from neuromorph.utils import progress

SD_BLOCKS = {1: 16, 2: 15, 3: 16}
DEFAULT_METHODS = ("float", "int8", "scalar5", "ternary", "thermo4", "sign", "simhash256", "simhash512", "matryoshka",
                   "simhash240", "sdg1-240", "sdg2-240", "sdg3-240", "simhash1024", "sd1-1024", "sd2-1024",
                   "sd3-1024", "simhash2048", "sd1-2048", "sd2-2048", "sd3-2048", "population")


@dataclass
class EvalData:
    """Unit-normalised search database and word vectors (``same``: the database *is* the word matrix)."""

    name: str
    database: torch.Tensor
    words: emb.WordVectors
    same: bool


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)).to(torch.float32)


def load_eval_data(dataset: str, num_words: int = 100_000, num_sentences: int | None = None) -> EvalData:
    """``"glove"`` (top ``num_words`` words) or ``"minilm"`` (first ``num_sentences`` corpus sentences)."""
    if dataset == "glove":
        wv = emb.load_glove(num_words)
        wv = emb.WordVectors(wv.words, _unit(wv.vectors))
        return EvalData("glove", wv.vectors, wv, True)
    if dataset == "minilm":
        db = _unit(emb.encode_minilm(emb.load_sentence_corpus(num_sentences)))
        wv = emb.minilm_word_vectors(emb.evaluation_words())
        return EvalData("minilm", db, emb.WordVectors(wv.words, _unit(wv.vectors)), False)
    raise ValueError(f"dataset must be 'glove' or 'minilm', got {dataset!r}")


@dataclass
class Method:
    """A table row: ``fit(x)`` returns a fitted quantiser (``None`` for the float32 baseline)."""

    label: str
    fit: Callable[[torch.Tensor], Quantizer] | None


class _SharedMatryoshka:
    """Trains one Matryoshka code per data set and hands out its prefixes."""

    def __init__(self, prefixes: Sequence[int], **kwargs) -> None:
        self.prefixes, self.kwargs = tuple(prefixes), kwargs
        self.cache: dict[tuple, MatryoshkaBinary] = {}

    def fitter(self, m: int) -> Callable[[torch.Tensor], Quantizer]:
        def fit(x: torch.Tensor) -> Quantizer:
            key = (x.data_ptr(), tuple(x.shape))
            if key not in self.cache:
                self.cache[key] = MatryoshkaBinary(self.prefixes, **self.kwargs).fit(x)
            return self.cache[key].prefix(m)
        return fit


def matryoshka_prefixes(dim: int) -> tuple[int, ...]:
    """64/128/256/512 plus the 32x point ``8 * floor(dim / 8)`` bits (one bit per dimension, byte aligned)."""
    return tuple(sorted({64, 128, 256, 512, 8 * max(1, dim // 8)}))


def parse_methods(names: Sequence[str], dim: int, seed: int = 0, matryoshka_steps: int = 400) -> list[Method]:
    """Method names: float, int8, scalarK, ternary, thermoL, sign, signraw, simhashM, csimhashM, sdR-M (repeat frame),
    sdgR-M (Gaussian frame), matryoshka[-P1-P2..], populationNxT (e.g. population8x4)."""
    out: list[Method] = []
    for name in names:
        def q(factory: Callable[[], Quantizer]) -> Callable[[torch.Tensor], Quantizer]:
            return lambda x: factory().fit(x)
        if name == "float":
            out.append(Method("float32", None))
        elif name == "int8":
            out.append(Method("int8", q(lambda: ScalarQuantizer(8))))
        elif name.startswith("scalar") and name[6:].isdigit():
            k = int(name[6:])
            out.append(Method(f"scalar{k}", q(lambda k=k: ScalarQuantizer(k, clip_quantile=0.001))))
        elif name == "ternary":
            out.append(Method("ternary", q(TernaryQuantizer)))
        elif name.startswith("thermo") and name[6:].isdigit():
            lv = int(name[6:])
            out.append(Method(f"thermo{lv}", q(lambda lv=lv: ThermometerQuantizer(lv, clip_quantile=0.001))))
        elif name == "sign":
            out.append(Method("sign", q(SignQuantizer)))
        elif name == "signraw":
            out.append(Method("sign (uncentred)", q(lambda: SignQuantizer(center=False))))
        elif name.startswith("simhash") and name[7:].isdigit():
            m = int(name[7:])
            out.append(Method(f"simhash{m}", q(lambda m=m: SimHashQuantizer(m, seed=seed))))
        elif name.startswith("csimhash") and name[8:].isdigit():
            m = int(name[8:])
            out.append(Method(f"simhash{m} centred", q(lambda m=m: SimHashQuantizer(m, center=True, seed=seed))))
        elif name.startswith("sd") and "-" in name:
            gaussian = name.startswith("sdg")
            order_s, bits_s = name[3 if gaussian else 2:].split("-", 1)
            if not (order_s.isdigit() and bits_s.isdigit()) or int(order_s) not in SD_BLOCKS:
                raise ValueError(f"Sigma-Delta methods are named sdR-M / sdgR-M (R in 1..3, M bits), got {name!r}")
            r, m = int(order_s), int(bits_s)
            if gaussian:
                out.append(Method(f"sigma-delta r{r} gauss {m}b", q(lambda r=r, m=m: SigmaDeltaQuantizer(
                    r, m, SD_BLOCKS[r], frame="gaussian", clip_quantile=0.999, seed=seed))))
            else:
                out.append(Method(f"sigma-delta r{r} {m}b", q(lambda r=r, m=m: SigmaDeltaQuantizer(
                    r, m, frame="repeat", clip_quantile=0.99, seed=seed))))
        elif name.startswith("matryoshka"):
            parts = name.split("-")[1:]
            if not all(p.isdigit() for p in parts):
                raise ValueError(f"matryoshka prefixes must be ints (matryoshka-48-128-512), got {name!r}")
            prefixes = tuple(int(p) for p in parts) or matryoshka_prefixes(dim)
            weights = (3.0,) + (1.0,) * (len(prefixes) - 1)      # emphasise the shortest (32x) prefix
            shared = _SharedMatryoshka(prefixes, prefix_weights=weights, steps=matryoshka_steps, seed=seed)
            out += [Method(f"matryoshka {m}b", shared.fitter(m)) for m in prefixes]
        elif name.startswith("population"):
            spec = name[10:] or "8x4"
            n_s, _, t_s = spec.partition("x")
            if not (n_s.isdigit() and t_s.isdigit()):
                raise ValueError(f"population methods are named populationNxT, got {name!r}")
            n, t = int(n_s), int(t_s)
            out.append(Method(f"population {n}x{t}", q(lambda n=n, t=t: PopulationCodeQuantizer(n, t, seed=seed))))
        else:
            raise ValueError(f"unknown method {name!r}; known: {', '.join(DEFAULT_METHODS)}, signraw, simhashM, "
                             "csimhashM, scalarK, thermoL, sdR-M, sdgR-M, matryoshka-P1-P2, populationNxT")
    return out


# -- metrics ------------------------------------------------------------------------------------------
def pair_similarity(dec: torch.Tensor, metric: str, ia: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
    """The method's similarity for index pairs: cosine (also for Hamming signs) or minus the L1 / L2 distance."""
    a, b = dec[ia].to(torch.float64), dec[ib].to(torch.float64)
    if metric == "l1":
        return -(a - b).abs().sum(1)
    if metric == "euclidean":
        return -(a - b).norm(dim=1)
    return torch.nn.functional.cosine_similarity(a, b, dim=1)


def distance_estimate(dec: torch.Tensor, metric: str, ia: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
    """Estimated Euclidean distance between the unit vectors behind ``ia`` and ``ib`` (module docstring)."""
    if metric in ("l1", "euclidean"):
        return -pair_similarity(dec, metric, ia, ib)
    cos = pair_similarity(dec, metric, ia, ib)
    if metric == "hamming":
        return 2 * torch.sin(math.pi * (1 - cos) / 4)
    return (2 - 2 * cos).clamp_min(0).sqrt()


def spearman(dec: torch.Tensor, metric: str, words: emb.WordVectors,
             pairs: Sequence[tuple[str, str, float]]) -> tuple[float, int]:
    """Spearman rho between human scores and the method similarity; returns ``(rho, pairs used)``."""
    kept = [(words.index[a], words.index[b], s) for a, b, s in pairs if a in words.index and b in words.index]
    if len(kept) < 3:
        raise ValueError("fewer than 3 word pairs are in the vocabulary")
    ia, ib, human = map(list, zip(*kept))
    sim = pair_similarity(dec, metric, torch.tensor(ia), torch.tensor(ib))
    return float(spearmanr(human, sim.numpy()).statistic), len(kept)


def analogy_questions(words: emb.WordVectors, vocab: int, max_questions: int | None,
                      seed: int = 0) -> torch.Tensor:
    """Index rows ``[Q, 4]`` (a, b, c, d) of the analogies with all words among the first ``vocab`` words."""
    idx = words.index
    rows = [[idx[w] for w in qn[1:]] for qn in emb.load_analogies()
            if all(w in idx and idx[w] < vocab for w in qn[1:])]
    out = torch.tensor(rows, dtype=torch.int64).reshape(-1, 4)
    if max_questions is not None and out.shape[0] > max_questions:
        gen = torch.Generator().manual_seed(seed)
        out = out[torch.randperm(out.shape[0], generator=gen)[:max_questions]]
    return out


def analogy_accuracy(dec: torch.Tensor, questions: torch.Tensor, vocab: int, chunk: int = 1024) -> float:
    """3CosAdd accuracy over ``questions [Q, 4]`` searching the first ``vocab`` rows of ``dec``."""
    if questions.shape[0] == 0:
        return float("nan")
    v = _unit(dec[:vocab].to(torch.float32))
    correct = 0
    for start in range(0, questions.shape[0], chunk):
        qn = questions[start:start + chunk]
        target = v[qn[:, 1]] - v[qn[:, 0]] + v[qn[:, 2]]
        scores = target @ v.T
        scores.scatter_(1, qn[:, :3], -torch.inf)
        correct += int((scores.argmax(1) == qn[:, 3]).sum())
    return correct / questions.shape[0]


def _drop_self(ids: np.ndarray, query_ids: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((ids.shape[0], k), dtype=np.int64)
    for r, (row, qid) in enumerate(zip(ids, query_ids)):
        row = row[row != qid]
        out[r] = row[:k]
    return out


@dataclass
class Row:
    method: str
    bits_per_dim: float
    bytes_per_vector: int
    ratio: float
    metrics: dict[str, float] = field(default_factory=dict)


def _timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def evaluate(data: EvalData, methods: Sequence[Method], k: int = 10, num_queries: int = 1000,
             rescore_factor: int = 10, rescore_with: str = "float", index_kind: str = "flat",
             analogy_vocab: int = 30_000, max_analogies: int | None = 5000, distance_pairs: int = 5000,
             threads: int = 1, seed: int = 0, word_metrics: bool = True, extra_rescore_factors: Sequence[int] = (),
             show_progress: bool | None = None) -> list[Row]:
    """Run every method on ``data`` and return the table rows (see the module docstring).

    ``word_metrics=False`` skips WordSim353 / SimLex / analogies (NaN in the table), e.g. for synthetic data.
    ``extra_rescore_factors``: more rescoring factors ``f`` for Hamming codes, stored as ``recall_rescored_x{f}``.
    """
    import faiss

    if rescore_with not in ("float", "int8"):
        raise ValueError(f"rescore_with must be 'float' or 'int8', got {rescore_with!r}")
    faiss.omp_set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    db, words = data.database, data.words
    n, dim = db.shape
    if num_queries > n:
        raise ValueError(f"num_queries={num_queries} exceeds the database size {n}")
    qids = torch.randperm(n, generator=gen)[:num_queries].numpy()
    truth_ids, _ = _timed(lambda: exact_search(db[qids], db, k + 1)[1])
    truth = _drop_self(truth_ids, qids, k)
    ia = torch.randint(0, n, (distance_pairs,), generator=gen)
    ib = torch.randint(0, n, (distance_pairs,), generator=gen)
    keep = ia != ib
    ia, ib = ia[keep], ib[keep]
    true_dist = (db[ia] - db[ib]).to(torch.float64).norm(dim=1)
    vocab = min(analogy_vocab, len(words.words))
    if word_metrics:
        sims = {name: emb.load_word_similarity(name) for name in emb.SIMILARITY_FILES}
        questions = analogy_questions(words, vocab, max_analogies, seed)
    if rescore_with == "float":
        rescore_db = db
    else:
        int8 = ScalarQuantizer(8).fit(db)
        rescore_db = int8.decode(int8.encode(db))
    float_bytes = 4 * dim

    rows: list[Row] = []
    for method in progress(methods, desc="methods", enable=show_progress):
        metrics: dict[str, float] = {}
        if method.fit is None:
            word_dec, word_metric, db_dec, db_metric = words.vectors, "cosine", db, "cosine"
            bits, nbytes, quant = 32.0 * dim, float_bytes, None
        else:
            quant = method.fit(db)
            db_codes = quant.encode(db)
            packed = quant.pack(db_codes)
            if packed.shape[1] != quant.bytes_per_vector:
                raise RuntimeError(f"{method.label}: packed {packed.shape[1]} bytes, "
                                   f"reported {quant.bytes_per_vector}")
            db_dec, db_metric = quant.decode(db_codes), quant.metric
            wq = quant if data.same else method.fit(words.vectors)
            word_dec = db_dec if data.same else wq.decode(wq.encode(words.vectors))
            word_metric = wq.metric
            bits, nbytes = quant.num_bits, quant.bytes_per_vector
        if word_metrics:
            for name, pairs in sims.items():
                metrics[name], _ = spearman(word_dec, word_metric, words, pairs)
            metrics["analogy"] = analogy_accuracy(word_dec, questions, vocab)
        est = distance_estimate(db_dec, db_metric, ia, ib)
        metrics["dist_err"] = float(((est - true_dist).abs() / true_dist).mean())
        # -- search
        if quant is None:
            found, secs = _timed(lambda: exact_search(db[qids], db, k + 1)[1])
        elif quant.hamming:
            index = BinaryIndex(8 * packed.shape[1], kind=index_kind).add(packed)
            qpacked = packed[qids]
            found, secs = _timed(lambda: index.search(qpacked, k + 1)[1])

            def rescored(factor: int) -> np.ndarray:
                kf = min(factor * k, n - 1)
                cand = _drop_self(index.search(qpacked, kf + 1)[1], qids, kf)
                return rescore(db[qids], rescore_db, cand, k)

            cand, secs_r = _timed(lambda: rescored(rescore_factor))
            metrics["recall_rescored"] = recall_at_k(cand, truth, k)
            metrics["qps_rescored"] = num_queries / secs_r
            for f in extra_rescore_factors:
                metrics[f"recall_rescored_x{f}"] = recall_at_k(rescored(f), truth, k)
        elif quant.metric in ("l1", "euclidean"):
            p = 1.0 if quant.metric == "l1" else 2.0
            found, secs = _timed(lambda: distance_search(db_dec[qids], db_dec, k + 1, p=p))
        else:
            unit_dec = _unit(db_dec)
            found, secs = _timed(lambda: exact_search(unit_dec[qids], unit_dec, k + 1)[1])
        metrics["recall"] = recall_at_k(_drop_self(found, qids, k), truth, k)
        metrics["qps"] = num_queries / secs
        rows.append(Row(method.label, bits / dim, nbytes, float_bytes / nbytes, metrics))
    base = rows[0].metrics if rows and methods[0].fit is None else None
    for row in rows:
        for name in ("wordsim353", "simlex999", "analogy"):
            ref = base.get(name, float("nan")) if base is not None else float("nan")
            val = row.metrics.get(name, float("nan"))
            row.metrics[f"{name}_pct"] = 100 * val / ref if ref == ref and ref != 0 else float("nan")
    return rows


COLUMNS = [("method", "method"), ("bits/dim", "bits_per_dim"), ("bytes/vec", "bytes_per_vector"),
           ("ratio", "ratio"), ("WS353 %", "wordsim353_pct"), ("SimLex %", "simlex999_pct"),
           ("analogy %", "analogy_pct"), ("R@10 %", "recall"), ("R@10 rescored %", "recall_rescored"),
           ("dist err", "dist_err"), ("q/s", "qps"), ("q/s rescored", "qps_rescored")]


def _cell(row: Row, key: str) -> str:
    if key == "method":
        return row.method
    if key == "bits_per_dim":
        return f"{row.bits_per_dim:.2f}"
    if key == "bytes_per_vector":
        return str(row.bytes_per_vector)
    if key == "ratio":
        return f"{row.ratio:.1f}x"
    val = row.metrics.get(key)
    if val is None or val != val:
        return "-"
    if key in ("recall", "recall_rescored"):
        return f"{100 * val:.1f}"
    if key == "dist_err":
        return f"{val:.3f}"
    if key.startswith("qps"):
        return f"{val:,.0f}"
    return f"{val:.1f}"


def format_table(rows: Sequence[Row], markdown: bool = True) -> str:
    header = [c for c, _ in COLUMNS]
    body = [[_cell(r, key) for _, key in COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(b) + " |" for b in body])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(header)] + [fmt(b) for b in body])


def write_csv(rows: Sequence[Row], path: str) -> None:
    keys = sorted({k for r in rows for k in r.metrics})
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "bits_per_dim", "bytes_per_vector", "ratio", *keys])
        for r in rows:
            w.writerow([r.method, r.bits_per_dim, r.bytes_per_vector, r.ratio, *(r.metrics.get(k, "") for k in keys)])
