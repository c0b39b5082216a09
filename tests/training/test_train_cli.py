"""`neuromorph train`: option round trip for torchrun, single-process runs, AMP, model/data factories."""
from __future__ import annotations

import argparse
import json
import math

import pytest
import torch

from neuromorph.cli import build_parser, main
from neuromorph.cli import train as train_cli
from neuromorph.training import TrainConfig, build_data, build_model, train

torch.set_num_threads(1)


def _parse(argv):
    return build_parser().parse_args(argv)


def test_worker_argv_round_trip_drops_nproc():
    argv = ["train", "--model", "mlp", "--dataset", "text", "--epochs", "3", "--nproc", "4", "--amp", "--resume",
            "--checkpoint-dir", "ck", "--time-shifts", "0,1", "--lr", "0.01", "--max-restarts", "2"]
    args = _parse(argv)
    rebuilt = train_cli.worker_argv(args)
    assert "--nproc" not in rebuilt and "--max-restarts" not in rebuilt  # launcher options stay with torchrun
    again = _parse(rebuilt)
    launcher = {"nproc", "max_restarts"}
    assert {k: v for k, v in vars(again).items() if k not in launcher} == \
        {k: v for k, v in vars(args).items() if k not in launcher}
    assert again.nproc == 1 and again.max_restarts == 0
    cmd = train_cli.torchrun_command(args)
    i = cmd.index("torch.distributed.run")
    assert cmd[i - 1] == "-m" and "--standalone" in cmd
    assert cmd[cmd.index("--nproc_per_node") + 1] == "4"
    assert cmd[cmd.index("--max-restarts") + 1] == "2" and cmd.index("--max-restarts") < cmd.index("neuromorph")
    assert cmd[cmd.index("neuromorph") - 1] == "-m" and cmd[cmd.index("neuromorph") + 1] == "train"


def test_parse_time_shifts():
    assert train_cli.parse_time_shifts("0,1,2") == (0, 1, 2)
    assert train_cli.parse_time_shifts(None) is None
    with pytest.raises(ValueError, match="time-shifts"):
        train_cli.parse_time_shifts("0,a")


def test_cli_single_process_plot_history_and_resume(tmp_path):
    ck, png, hist = tmp_path / "ck", tmp_path / "curve.png", tmp_path / "h.json"
    base = ["train", "--model", "linear", "--dataset", "digits", "--epochs", "2", "--lr", "0.05", "--no-progress",
            "--checkpoint-dir", str(ck), "--threads", "1"]
    assert main(base + ["--stop-after", "1"]) == 0
    assert sorted(p.name for p in ck.iterdir()) == ["epoch_0001.pt"]
    assert main(base + ["--resume", "--plot", str(png), "--history-json", str(hist)]) == 0
    assert png.stat().st_size > 1000
    history = json.loads(hist.read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[-1]["test_acc"] > 0.8  # logistic regression on digits


def test_amp_bf16_training_step_is_finite():
    cfg = TrainConfig(model="spikformer", dataset="digits", epochs=1, dim=16, depth=1, heads=2, mlp_ratio=2.0,
                      T=2, limit_train=64, limit_test=32, amp=True, device="cpu", show_progress=False)
    result = train(cfg, log=None)
    assert math.isfinite(result.history[0]["train_loss"])
    assert all(p.dtype == torch.float32 for p in result.model.parameters())  # master weights stay fp32


@pytest.mark.parametrize("model,dataset", [("mlp", "digits"), ("spikformer", "text"), ("mlp", "text")])
def test_factories_build_models_that_fit_the_data(model, dataset):
    cfg = TrainConfig(model=model, dataset=dataset, dim=16, depth=1, heads=2, T=2, hidden=16, limit_train=8,
                      limit_test=4, text_max_len=32)
    data = build_data(cfg)
    net = build_model(cfg, data.info)
    x, y = data.train.tensors
    assert net(x).shape == (8, data.info["num_classes"])


def test_bad_config_raises():
    with pytest.raises(ValueError, match="model"):
        TrainConfig(model="resnet").validate()
    with pytest.raises(ValueError, match="dataset"):
        TrainConfig(dataset="cifar").validate()
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0).validate()
    with pytest.raises(ValueError, match="nproc"):
        train_cli.run(argparse.Namespace(nproc=0))


def test_cli_reports_bad_options_with_exit_code_2(capsys):
    assert main(["train", "--model", "spikformer", "--time-shifts", "0,9", "--epochs", "1", "--threads", "1"]) == 2
    assert "time_shifts must be < T=4" in capsys.readouterr().err


def test_restarted_worker_resumes_and_bad_restart_options(monkeypatch):
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT", raising=False)
    assert not train_cli.restarted_by_torchrun()
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    assert not train_cli.restarted_by_torchrun()
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "2")
    assert train_cli.restarted_by_torchrun()
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "x")
    with pytest.raises(ValueError, match="TORCHELASTIC_RESTART_COUNT"):
        train_cli.restarted_by_torchrun()
    with pytest.raises(ValueError, match="max-restarts"):
        train_cli.run(argparse.Namespace(nproc=2, max_restarts=-1, checkpoint_dir="ck"))


def test_cli_online_strategy(tmp_path, capsys):
    """`--strategy online` trains the MLP from per-step outputs; a Spikformer with BatchNorm is refused by name."""
    history = tmp_path / "h.json"
    assert main(["train", "--model", "mlp", "--dataset", "digits", "--strategy", "online", "--epochs", "3",
                 "--lr", "5e-3", "--T", "4", "--hidden", "64", "--limit-train", "800", "--limit-test", "200",
                 "--no-progress", "--history-json", str(history)]) == 0
    records = json.loads(history.read_text())
    assert len(records) == 3 and records[-1]["test_acc"] > 0.7       # chance: 0.1
    assert main(["train", "--model", "spikformer", "--dataset", "digits", "--strategy", "online", "--epochs", "1",
                 "--limit-train", "32", "--limit-test", "32", "--no-progress"]) == 2
    assert "BatchNorm" in capsys.readouterr().err
