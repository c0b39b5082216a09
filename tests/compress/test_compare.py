import pytest

from neuromorph.compress.compare import budget_comparison, format_budget_table, pareto_front, plot_rows


def _row(method, family, nbytes, x10, x50=None, qps=100.0, plain=0.3):
    return {"method": method, "family": family, "bytes_per_vector": nbytes, "recall_at_10": plain,
            "recall_at_10_rescored_x10": x10, "recall_at_10_rescored_x50": x50 if x50 is not None else x10,
            "qps_batch256": qps}


ROWS = [_row("float32", "neuromorph", 4, 1.0), _row("ours8", "neuromorph", 8, 0.90, 0.99, qps=900.0),
        _row("ours16", "neuromorph", 15, 0.95), _row("pq5", "faiss", 5, 0.85, qps=1000.0),
        _row("pq10", "faiss", 10, 0.97, qps=200.0), _row("pq40", "faiss", 40, 1.0, qps=50.0)]


def test_budget_comparison_takes_best_row_within_each_budget():
    by = {e["budget"]: e for e in budget_comparison(ROWS, budgets=(8, 16, 48))}
    # 8 B: ours8 0.90 vs pq5 0.85 (float32 is never a candidate)
    assert by[8]["ours"]["method"] == "ours8" and by[8]["faiss"]["method"] == "pq5"
    assert by[8]["gap"] == pytest.approx(0.05) and by[8]["met"] and by[8]["how"] == "recall"
    # 16 B: ours16 0.95 < pq10 0.97, but ours8 reaches 0.99 with x50 at 4.5x pq10's q/s
    assert by[16]["gap"] == pytest.approx(-0.02) and by[16]["met"] and "ours8" in by[16]["how"]
    # 48 B: pq40 1.0; nobody of ours reaches it at 3x q/s
    assert by[48]["met"] is False and by[48]["gap"] == pytest.approx(-0.05)
    table = format_budget_table(list(by.values()))
    assert "| 48 | ours16 | 15 | 0.950 | pq40 | 40 | 1.000 | -0.050 | missed |" in table


def test_pareto_front():
    pts = [(1.0, 0.5), (2.0, 0.4), (0.5, 0.9), (3.0, 0.3), (2.5, 0.45), (0.4, 0.8)]
    assert pareto_front(pts) == [(0.5, 0.9), (1.0, 0.5), (2.5, 0.45), (3.0, 0.3)]


def test_plots_are_written(tmp_path):
    a, b = tmp_path / "bytes.png", tmp_path / "qps.png"
    plot_rows(ROWS, "toy", str(a), str(b))
    assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b.stat().st_size > 1000
