"""FAISS baselines ("anchors") behind the same interface as the project's codes (:class:`MethodSpec`).

Every anchor is trained on the fit split only, then the database is added; its stored bytes per vector are
FAISS's own ``sa_code_size()`` (the code; IVF lists also keep an 8-byte id per vector, not counted).
Names (``d`` = dimension):

* ``faiss-pqM``: ``IndexPQ(d, M, 8)``, M bytes (asymmetric distance with per-query lookup tables).
* ``faiss-rabitq`` / ``faiss-rabitqB``: ``IndexRaBitQ(d, L2[, B])`` (1 or B bits per dimension + factors).
* ``faiss-lshM``: ``IndexLSH(d, M, rotate_data=True, train_thresholds=True)``, M bits searched by Hamming.
* ``faiss-sq8`` / ``faiss-sq4``: ``IndexScalarQuantizer`` with 8 / 4 bits per dimension.
* ``faiss-ivfpqM``: ``IndexIVFPQ`` over a flat coarse quantiser, ``nlist = clamp(fit / 39, 16, 1024)`` lists
  (FAISS wants about 39 training points per centroid), ``nprobe = 16``.

>>> spec = parse_faiss("faiss-pq5")
>>> spec.name, spec.family
('faiss IndexPQ 5x8', 'faiss')
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from neuromorph.compress.search import _faiss


@dataclass
class Built:
    """A method fitted and filled: ``search(queries [Q, D] float32, k) -> ids [Q, k]``.

    ``decode_words(x) -> (vectors, metric)`` reconstructs vectors for the word metrics (``None`` when the
    method cannot reconstruct).

    >>> spec = parse_faiss("faiss-sq8")
    >>> built = spec.build(torch.randn(100, 8), torch.randn(50, 8))
    >>> built.bytes_per_vector, built.search(np.random.rand(2, 8).astype("float32"), 3).shape
    (8, (2, 3))
    """

    bytes_per_vector: int
    search: Callable[[np.ndarray, int], np.ndarray]
    decode_words: Callable[[torch.Tensor], tuple[torch.Tensor, str]] | None
    build_seconds: float = 0.0


@dataclass
class MethodSpec:
    """A table row: ``build(fit, database) -> Built``; ``family`` is ``"neuromorph"`` or ``"faiss"``.

    >>> spec = parse_faiss("faiss-lsh64")
    >>> spec.name, spec.family, callable(spec.build)
    ('faiss IndexLSH 64b', 'faiss', True)
    """

    name: str
    family: str
    build: Callable[[torch.Tensor, torch.Tensor], Built]


def _numpy(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)


def faiss_method(name: str, factory: Callable[..., Any], nprobe: int | None = None) -> MethodSpec:
    """Wrap ``factory(dim, num_fit) -> faiss.Index`` (trained on fit, filled with the database).

    >>> import faiss
    >>> spec = faiss_method("flat", lambda dim, num_fit: faiss.IndexFlatIP(dim))
    >>> built = spec.build(torch.randn(10, 4), torch.eye(4))
    >>> built.bytes_per_vector, built.search(np.eye(4, dtype="float32")[:1], 1).tolist()
    (16, [[0]])
    """

    def build(fit: torch.Tensor, database: torch.Tensor) -> Built:
        t0 = time.perf_counter()
        index = factory(fit.shape[1], fit.shape[0])
        if not index.is_trained:
            index.train(_numpy(fit))
        index.add(_numpy(database))
        if nprobe is not None:
            index.nprobe = nprobe
        seconds = time.perf_counter() - t0

        def decode_words(x: torch.Tensor) -> tuple[torch.Tensor, str]:
            return torch.from_numpy(index.sa_decode(index.sa_encode(_numpy(x)))), "cosine"

        try:
            decode_words(fit[:2])
            decoder = decode_words
        except RuntimeError:  # e.g. IndexLSH has no standalone decoder
            decoder = None
        return Built(int(index.sa_code_size()), lambda q, k: index.search(q, k)[1], decoder, seconds)

    return MethodSpec(name, "faiss", build)


def parse_faiss(spec: str) -> MethodSpec:
    """One FAISS anchor from its name (module docstring).

    >>> [parse_faiss(name).name for name in ("faiss-pq8", "faiss-rabitq", "faiss-ivfpq16")]
    ['faiss IndexPQ 8x8', 'faiss IndexRaBitQ 1b', 'faiss IndexIVFPQ 16x8 nprobe16']
    """
    faiss = _faiss()
    body = spec[len("faiss-") :] if spec.startswith("faiss-") else ""

    def number(prefix: str) -> int | None:
        rest = body[len(prefix) :]
        return int(rest) if body.startswith(prefix) and rest.isdigit() and int(rest) > 0 else None

    if (m := number("ivfpq")) is not None:

        def ivf(d: int, n_fit: int, m: int = m):
            nlist = int(min(1024, max(16, n_fit // 39)))
            return faiss.IndexIVFPQ(faiss.IndexFlatL2(d), d, nlist, m, 8)

        return faiss_method(f"faiss IndexIVFPQ {m}x8 nprobe16", ivf, nprobe=16)
    if (m := number("pq")) is not None:
        return faiss_method(f"faiss IndexPQ {m}x8", lambda d, n, m=m: faiss.IndexPQ(d, m, 8))
    if body == "rabitq":
        return faiss_method("faiss IndexRaBitQ 1b", lambda d, n: faiss.IndexRaBitQ(d, faiss.METRIC_L2))
    if (b := number("rabitq")) is not None:
        return faiss_method(f"faiss IndexRaBitQ {b}b", lambda d, n, b=b: faiss.IndexRaBitQ(d, faiss.METRIC_L2, b))
    if (m := number("lsh")) is not None:
        return faiss_method(f"faiss IndexLSH {m}b", lambda d, n, m=m: faiss.IndexLSH(d, m, True, True))
    if body in ("sq8", "sq4"):
        kind = faiss.ScalarQuantizer.QT_8bit if body == "sq8" else faiss.ScalarQuantizer.QT_4bit
        return faiss_method(
            f"faiss IndexScalarQuantizer {body[2]}b", lambda d, n, kind=kind: faiss.IndexScalarQuantizer(d, kind)
        )
    raise ValueError(
        f"unknown FAISS anchor {spec!r}; known: faiss-pqM, faiss-rabitq, faiss-rabitqB, faiss-lshM, "
        "faiss-sq8, faiss-sq4, faiss-ivfpqM"
    )
