"""Search over compressed codes: FAISS Hamming indexes, exact float search, rescoring, recall@k.

* :class:`BinaryIndex` wraps ``faiss.IndexBinaryFlat`` (exact Hamming) or ``faiss.IndexBinaryHNSW``
  (approximate graph search) over packed codes (``uint8 [N, num_bits/8]``, see ``packing.pack_bits``).
* :func:`exact_search`: top-k by inner product over float vectors (``faiss.IndexFlatIP``), the ground truth
  for unit-normalised embeddings (inner product = cosine).
* :func:`rescore`: re-rank candidate ids by the inner product of the float (or int8-decoded) vectors and keep
  the best ``k`` -- the usual "binary search, float rescoring" pipeline (id ``-1``, FAISS's "no result",
  ranks last).
* :func:`distance_search`: brute-force top-k by L1 or L2 distance (the Sigma-Delta estimators).
* :func:`recall_at_k`: ``|found_i & true_i| / k`` averaged over queries.
"""

from __future__ import annotations

import numpy as np
import torch

from neuromorph.compress.packing import check_packed
from neuromorph.utils import check_positive_int


def _faiss():
    try:
        import faiss
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "search needs faiss: install it with `pip install faiss-cpu` (or `pip install 'neuromorph[compress]'`)"
        ) from None
    return faiss


def _float_matrix(name: str, x: object, dim: int | None = None) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D [num_vectors, dim], got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} has {x.shape[1]} dimensions but the index holds {dim}-dimensional vectors")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return np.ascontiguousarray(x, dtype=np.float32)


def _check_k(k: int, n: int) -> None:
    check_positive_int("k", k)
    if k > n:
        raise ValueError(f"k={k} exceeds the number of indexed vectors ({n})")


class BinaryIndex:
    """Hamming search over packed ``num_bits``-bit codes (``kind="flat"`` exact, ``"hnsw"`` approximate).

    >>> from neuromorph.compress.packing import pack_bits
    >>> codes = pack_bits(np.array([[0] * 8, [1] * 8, [1, 0] * 4]))
    >>> index = BinaryIndex(8).add(codes)
    >>> dist, ids = index.search(codes[1:2], 2)
    >>> index.ntotal, ids.tolist(), dist.tolist()
    (3, [[1, 2]], [[0, 4]])
    """

    def __init__(self, num_bits: int, kind: str = "flat", hnsw_m: int = 32, ef_search: int = 64) -> None:
        if isinstance(num_bits, bool) or not isinstance(num_bits, int):
            raise TypeError(
                f"num_bits must be an int (the code length in bits; add the codes with .add()), got "
                f"{type(num_bits).__name__}"
            )
        if num_bits < 8 or num_bits % 8:
            raise ValueError(f"num_bits must be a positive multiple of 8 for FAISS binary indexes, got {num_bits}")
        faiss = _faiss()
        self.num_bits, self.kind = num_bits, kind
        if kind == "flat":
            self.index = faiss.IndexBinaryFlat(num_bits)
        elif kind == "hnsw":
            self.index = faiss.IndexBinaryHNSW(num_bits, hnsw_m)
            self.index.hnsw.efSearch = ef_search
        else:
            raise ValueError(f"kind must be 'flat' or 'hnsw', got {kind!r}")

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def add(self, packed: np.ndarray) -> "BinaryIndex":
        check_packed("packed", packed, self.num_bits)
        self.index.add(np.ascontiguousarray(packed))
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Returns ``(hamming_distances int32 [Q, k], ids int64 [Q, k])`` nearest first."""
        check_packed("queries", queries, self.num_bits)
        _check_k(k, self.ntotal)
        dist, ids = self.index.search(np.ascontiguousarray(queries), k)
        return dist, ids


def exact_search(queries: object, database: object, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` inner products (``faiss.IndexFlatIP``): returns ``(scores [Q, k], ids [Q, k])``.

    >>> scores, ids = exact_search(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [0.8, 0.6], [1.0, 0.0]]), k=2)
    >>> ids.tolist(), np.round(scores.astype(np.float64), 2).tolist()
    ([[2, 1]], [[1.0, 0.8]])
    """
    db = _float_matrix("database", database)
    q = _float_matrix("queries", queries, db.shape[1])
    _check_k(k, db.shape[0])
    index = _faiss().IndexFlatIP(db.shape[1])
    index.add(db)
    return index.search(q, k)


def rescore(queries: object, database: object, candidates: np.ndarray, k: int, chunk: int = 128) -> np.ndarray:
    """Re-rank ``candidates [Q, K']`` (ids into ``database``) by ``<query, database[id]>``; keep the top ``k``.

    >>> db = np.array([[0.0, 1.0], [0.8, 0.6], [1.0, 0.0]])
    >>> rescore(np.array([[1.0, 0.0]]), db, np.array([[0, 1, 2]]), k=2).tolist()
    [[2, 1]]
    """
    db = _float_matrix("database", database)
    q = _float_matrix("queries", queries, db.shape[1])
    if not isinstance(candidates, np.ndarray) or candidates.ndim != 2 or candidates.shape[0] != q.shape[0]:
        raise ValueError(f"candidates must be a 2-D array with one row per query ({q.shape[0]})")
    if not np.issubdtype(candidates.dtype, np.integer):
        raise TypeError(f"candidates must hold integer ids, got dtype {candidates.dtype}")
    if not 1 <= k <= candidates.shape[1]:
        raise ValueError(f"k must be in [1, {candidates.shape[1]}] (the number of candidates), got {k}")
    if candidates.min() < -1 or candidates.max() >= db.shape[0]:
        raise ValueError("candidates contains ids outside the database (only -1, FAISS's 'no result', is allowed)")
    out = np.empty((q.shape[0], k), dtype=candidates.dtype)
    for start in range(0, q.shape[0], chunk):
        cand = candidates[start : start + chunk]
        scores = np.einsum("qd,qcd->qc", q[start : start + chunk], db[np.maximum(cand, 0)])
        scores[cand < 0] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        out[start : start + chunk] = np.take_along_axis(cand, order, axis=1)
    return out


def distance_search(queries: object, database: object, k: int, p: float = 1.0, chunk: int = 256) -> np.ndarray:
    """Top-``k`` smallest ``L_p`` distances (``p = 1``: L1, ``p = 2``: Euclidean), brute force in query chunks.

    Returns ids ``[Q, k]``, nearest first.

    >>> distance_search(np.array([[0.0, 0.0]]), np.array([[3.0, 0.0], [1.0, 1.0], [0.0, 1.5]]), k=2).tolist()
    [[2, 1]]
    """
    db = torch.from_numpy(_float_matrix("database", database))
    q = torch.from_numpy(_float_matrix("queries", queries, db.shape[1]))
    _check_k(k, db.shape[0])
    out = []
    for start in range(0, q.shape[0], chunk):
        dist = torch.cdist(q[start : start + chunk], db, p=p)
        out.append(torch.topk(dist, k, dim=1, largest=False).indices)
    return torch.cat(out).numpy()


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean over queries of ``|found[:, :k] & truth[:, :k]| / k``.

    >>> found, truth = np.array([[1, 2, 9]]), np.array([[1, 2, 3]])
    >>> recall_at_k(found, truth, k=2), round(recall_at_k(found, truth, k=3), 4)
    (1.0, 0.6667)
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if found.shape[0] != truth.shape[0] or found.shape[1] < k or truth.shape[1] < k:
        raise ValueError(f"found {found.shape} and truth {truth.shape} must have the same rows and >= k={k} columns")
    hits = [len(set(f[:k].tolist()) & set(t[:k].tolist())) for f, t in zip(found, truth)]
    return float(np.mean(hits)) / k
