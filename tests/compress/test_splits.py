import pytest
import torch

from neuromorph.compress.splits import make_splits


def test_splits_are_disjoint_complete_unit_and_seeded():
    x = torch.randn(200, 5) * 3
    s = make_splits(x, num_fit=30, num_queries=20, seed=4)
    idx = s.indices
    all_ids = torch.cat([idx["fit"], idx["database"], idx["queries"]])
    assert sorted(all_ids.tolist()) == list(range(200))          # disjoint and complete
    assert (s.fit.shape[0], s.database.shape[0], s.queries.shape[0]) == (30, 150, 20)
    torch.testing.assert_close(s.database.norm(dim=1), torch.ones(150))
    torch.testing.assert_close(s.queries[0], x[idx["queries"][0]] / x[idx["queries"][0]].norm())
    again = make_splits(x, num_fit=30, num_queries=20, seed=4)
    assert torch.equal(again.indices["fit"], idx["fit"])
    other = make_splits(x, num_fit=30, num_queries=20, seed=5)
    assert not torch.equal(other.indices["fit"], idx["fit"])


def test_rows_kept_out_of_fit_never_enter_it():
    x = torch.randn(100, 3)
    banned = torch.arange(0, 60)
    s = make_splits(x, num_fit=40, num_queries=10, seed=0, keep_out_of_fit=banned)
    assert set(s.indices["fit"].tolist()) == set(range(60, 100))
    with pytest.raises(ValueError, match="only 40 rows may be fitted on"):
        make_splits(x, num_fit=41, num_queries=10, keep_out_of_fit=banned)


def test_split_errors():
    with pytest.raises(ValueError, match="leaves no database rows"):
        make_splits(torch.randn(10, 3), num_fit=5, num_queries=5)
    with pytest.raises(ValueError, match="num_queries must be a positive int"):
        make_splits(torch.randn(10, 3), num_fit=5, num_queries=0)
