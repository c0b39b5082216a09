"""`neuromorph train` on the fold-split text tasks: a tiny real run with curve and history, and bad arguments."""
from __future__ import annotations

import json

import pytest
import torch

from neuromorph.cli import main
from neuromorph.training import TrainConfig, build_data

torch.set_num_threads(1)


def test_text_cli_smoke_run_writes_curve_and_history(tmp_path, capsys):
    png, hist = tmp_path / "curve.png", tmp_path / "h.json"
    code = main(["train", "--model", "spikformer", "--dataset", "polarity", "--epochs", "2", "--limit-train", "24",
                 "--limit-test", "8", "--dim", "16", "--depth", "1", "--heads", "2", "--time-shifts", "0,1",
                 "--norm", "layer", "--dropout", "0.1", "--threads", "1", "--no-progress", "--plot", str(png),
                 "--history-json", str(hist)])
    assert code == 0
    out = capsys.readouterr().out
    assert "val_acc" in out and "final test accuracy" in out
    assert png.stat().st_size > 1000
    history = json.loads(hist.read_text())
    assert [h["epoch"] for h in history] == [1, 2] and "val_acc" in history[0] and "test_acc" not in history[0]


def test_text_data_for_every_model_holds_every_class():
    for model in ("spikformer", "transformer", "linear"):
        data = build_data(TrainConfig(model=model, dataset="newsgroups", limit_train=6, limit_test=4).validate())
        for part in (data.train, data.val, data.test):
            assert part.tensors[1].unique().tolist() == [0, 1]
        assert (data.embeddings is not None) == (model != "linear")
        assert data.train.tensors[0].shape[1] == (128 if model != "linear" else data.info["vocab_size"])


@pytest.mark.parametrize("argv, message", [
    (["--fold", "5"], "fold"),
    (["--dropout", "1.5"], "dropout"),
    (["--text-max-len", "0"], "text_max_len"),
])
def test_text_cli_bad_arguments(argv, message, capsys):
    code = main(["train", "--model", "transformer", "--dataset", "polarity", "--epochs", "1", "--no-progress",
                 *argv])
    assert code == 2
    assert message in capsys.readouterr().err


def test_text_cli_unknown_choices_exit_from_argparse(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "imdb"])
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "polarity", "--norm", "group"])
    assert "invalid choice" in capsys.readouterr().err
