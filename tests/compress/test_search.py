import numpy as np
import pytest
import torch

from neuromorph.compress.packing import hamming_matrix, pack_bits
from neuromorph.compress.search import BinaryIndex, distance_search, exact_search, recall_at_k, rescore

rng = np.random.default_rng(0)
DB_BITS = rng.integers(0, 2, (500, 64)).astype(np.uint8)
Q_BITS = rng.integers(0, 2, (20, 64)).astype(np.uint8)


def test_flat_index_equals_brute_force_hamming():
    index = BinaryIndex(64).add(pack_bits(DB_BITS))
    dist, ids = index.search(pack_bits(Q_BITS), 10)
    ref = hamming_matrix(pack_bits(Q_BITS), pack_bits(DB_BITS))
    np.testing.assert_array_equal(dist, np.sort(ref, axis=1)[:, :10])
    np.testing.assert_array_equal(np.take_along_axis(ref, ids, axis=1), dist)   # ids carry those distances


def test_hnsw_index_finds_most_true_neighbours():
    index = BinaryIndex(64, kind="hnsw", ef_search=128).add(pack_bits(DB_BITS))
    _, ids = index.search(pack_bits(Q_BITS), 5)
    ref = hamming_matrix(pack_bits(Q_BITS), pack_bits(DB_BITS))
    found = np.take_along_axis(ref, ids, axis=1)
    np.testing.assert_array_equal(found[:, 0], ref.min(1))     # the nearest distance is found for every query


def test_exact_search_and_rescore_match_brute_force():
    db = torch.randn(300, 12)
    q = torch.randn(7, 12)
    scores, ids = exact_search(q, db, 5)
    ref = torch.topk(q @ db.T, 5).indices.numpy()
    np.testing.assert_array_equal(ids, ref)
    cands = np.tile(np.arange(300), (7, 1))[:, ::-1].copy()
    np.testing.assert_array_equal(rescore(q, db, cands, 5), ref)


def test_distance_search_matches_cdist():
    db = torch.randn(200, 6)
    q = torch.randn(9, 6)
    for p in (1.0, 2.0):
        ids = distance_search(q, db, 4, p=p)
        ref = torch.topk(torch.cdist(q, db, p=p), 4, largest=False).indices.numpy()
        np.testing.assert_array_equal(ids, ref)


def test_recall_at_k():
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    found = np.array([[3, 9, 1], [7, 8, 9]])
    assert recall_at_k(found, truth, 3) == pytest.approx((2 / 3 + 0) / 2)


def test_errors_name_the_problem():
    index = BinaryIndex(64).add(pack_bits(DB_BITS))
    with pytest.raises(ValueError, match="8 bytes per vector for 64 bits, got 4"):
        index.search(pack_bits(Q_BITS[:, :32]), 3)
    with pytest.raises(TypeError, match="uint8"):
        index.add(DB_BITS.astype(np.float32))
    with pytest.raises(ValueError, match="exceeds the number of indexed vectors"):
        index.search(pack_bits(Q_BITS), 501)
    with pytest.raises(ValueError, match="multiple of 8"):
        BinaryIndex(50)
    with pytest.raises(ValueError, match="11 dimensions but the index holds 12"):
        exact_search(torch.randn(2, 11), torch.randn(5, 12), 1)
    with pytest.raises(TypeError, match="float32 or float64"):
        exact_search(torch.ones(2, 12, dtype=torch.int32), torch.randn(5, 12), 1)
    bad = torch.randn(5, 12)
    bad[0, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        exact_search(torch.randn(2, 12), bad, 1)
    with pytest.raises(ValueError, match="outside the database"):
        rescore(torch.randn(1, 12), torch.randn(5, 12), np.array([[0, 7]]), 1)
    with pytest.raises(ValueError, match="outside the database"):
        rescore(torch.randn(1, 12), torch.randn(5, 12), np.array([[0, -2]]), 1)
