import json
import math

import pytest
import torch

from neuromorph.cli import main
from neuromorph.data.char_corpus import load_char_corpus
from neuromorph.tasks.char_lm import LMConfig, build_language_model, train_language_models

TINY = ["--max-chars", "20000", "--dim", "16", "--heads", "2", "--depth", "1", "--context", "16",
        "--batch-size", "4", "--curve-points", "2", "--curve-chars", "200", "--no-progress"]


def test_lm_both_models_tiny_run_writes_curve_json_and_samples(tmp_path, capsys, one_thread):
    out = tmp_path / "lm"
    code = main(["lm", "--model", "both", "--steps", "4", "--sample", "20", "--ngram", "--out", str(out), *TINY])
    assert code == 0
    text = capsys.readouterr().out
    assert "spiking transformer" in text and "non-spiking transformer" in text and "test bpc" in text
    png = out / "curve.png"
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    assert "| blocks.0.attn.q.linear |" in report and "| embed_lif |" in report and "test bits/char" in report
    res = json.loads((out / "result.json").read_text())
    spiking, transformer = res["models"]["spiking"], res["models"]["transformer"]
    assert spiking["parameters"] == transformer["parameters"]
    ngram = res["ngram_test_bpc"]
    assert list(ngram) == ["0", "1", "2", "3", "4"] and ngram["1"] < ngram["0"]
    assert spiking["steps"] == transformer["steps"] == 4
    for entry in (spiking, transformer):
        assert 0 < entry["test_bpc"] < 10 and 0 < entry["valid_bpc"] < 10
        assert len(entry["sample"]["continuation"]) == 20 and len(entry["sample"]["prompt"]) == 40
        assert [r["step"] for r in entry["curve"]] == [0, 2, 4]
    eff = spiking["efficiency"]
    assert eff["layers"]["total"]["acs"] > 0 and 0 < eff["spike_rates"]["all"] < 1
    assert transformer["efficiency"]["layers"]["total"]["acs"] == 0
    # every weight layer inside a spiking block sees spikes (accumulates, no multiply-accumulates); the readout
    # sees the time mean of the residual stream (multiply-accumulates)
    assert any(name.startswith("blocks.") for name in eff["layers"])
    for name, row in eff["layers"].items():
        if name.startswith("blocks."):
            assert row["macs"] == 0, name
    assert eff["layers"]["head"]["macs"] > 0
    # full causal attention products: depth * T * D * (N + 1) per character (T = 1 for the transformer)
    assert eff["attention_products_per_char"] == 1 * 2 * 16 * 17
    assert transformer["efficiency"]["attention_products_per_char"] == 1 * 1 * 16 * 17
    # softmax exponentials: one per visible key, query and head (17 per query over the 2 heads); none in the
    # averaging spiking attention
    assert (eff["attention_exponentials_per_char"], transformer["efficiency"]["attention_exponentials_per_char"]) == (
        0, 17)
    assert "| attention exponentials (softmax) | | | | 17 |" in report


def test_lm_softmax_attention_flag_reaches_the_model_and_counts_its_exponentials(tmp_path, one_thread):
    out = tmp_path / "softmax"
    assert main(["lm", "--model", "spiking", "--steps", "2", "--residual", "membrane", "--attention", "softmax",
                 "--scale", "1", "--out", str(out), *TINY]) == 0
    res = json.loads((out / "result.json").read_text())
    assert (res["config"]["residual"], res["config"]["attention"], res["config"]["scale"]) == (
        "membrane", "softmax", 1.0)
    # T = 2 time steps of softmax over 17 visible keys per query (both heads together)
    assert res["models"]["spiking"]["efficiency"]["attention_exponentials_per_char"] == 2 * 17


def test_lm_single_model_with_json_path(tmp_path):
    path = tmp_path / "sub" / "r.json"
    assert main(["lm", "--model", "transformer", "--steps", "2", "--json", str(path), "--out", str(tmp_path),
                 *TINY]) == 0
    assert list(json.loads(path.read_text())["models"]) == ["transformer"]


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "--steps"),
    (["--wall-s", "-1"], "--wall-s"),
    (["--wall-s", "5", "--steps", "3"], "not allowed with"),
    (["--model", "rnn", "--steps", "3"], "--model"),
    (["--sample", "-2", "--steps", "3"], "--sample"),
])
def test_lm_bad_arguments_are_rejected(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(["lm", *argv])
    assert message in capsys.readouterr().err


def test_lm_needs_a_budget_and_int_windows():
    with pytest.raises(SystemExit, match="exactly one of --wall-s and --steps"):
        main(["lm", "--model", "spiking"])
    with pytest.raises(SystemExit, match="--head-windows must be comma-separated ints"):
        main(["lm", "--model", "spiking", "--steps", "2", "--head-windows", "2,x"])


def test_wall_time_budget_is_shared_in_turns(one_thread):
    corpus = load_char_corpus(max_chars=20_000)
    config = LMConfig(dim=16, depth=1, num_heads=2, context=16, batch_size=4, turn_s=0.2, curve_points=2,
                      curve_chars=100)
    runs = train_language_models(["spiking", "transformer"], corpus, config, wall_s=1.0)
    for run in runs.values():
        assert run.train_s >= 1.0 and run.steps > 0
        assert [r["train_s"] for r in run.curve] == sorted(r["train_s"] for r in run.curve)


def test_both_models_draw_the_same_batches(one_thread):
    corpus = load_char_corpus(max_chars=20_000)
    config = LMConfig(dim=16, depth=1, num_heads=2, context=16, batch_size=4, curve_points=1, curve_chars=50)
    runs = train_language_models(["spiking", "transformer"], corpus, config, steps=3, seed=5)
    states = [run.generator.get_state() for run in runs.values()]
    assert torch.equal(states[0], states[1])
    assert not torch.equal(states[0], torch.Generator().manual_seed(5).get_state())


def test_training_arguments_are_checked():
    corpus = load_char_corpus(max_chars=20_000)
    config = LMConfig(dim=16, depth=1, num_heads=2, context=16, batch_size=4)
    with pytest.raises(ValueError, match="exactly one of wall_s and steps"):
        train_language_models(["spiking"], corpus, config)
    with pytest.raises(ValueError, match="wall_s"):
        train_language_models(["spiking"], corpus, config, wall_s=float("nan"))
    with pytest.raises(ValueError, match="kinds"):
        train_language_models(["spiking", "spiking"], corpus, config, steps=1)
    with pytest.raises(TypeError, match="corpus"):
        train_language_models(["spiking"], "text", config, steps=1)
    with pytest.raises(ValueError, match="lr"):
        LMConfig(lr=0)
    with pytest.raises(ValueError, match="transformer_lr"):
        LMConfig(transformer_lr=float("inf"))
    with pytest.raises(ValueError, match="kind"):
        LMConfig().peak_lr("lstm")
    with pytest.raises(ValueError, match="warmup_steps"):
        LMConfig(warmup_steps=-1)
    with pytest.raises(ValueError, match="context"):
        LMConfig(context=0)
    with pytest.raises(TypeError, match="lif_kwargs must be None or a dict, got list"):
        LMConfig(lif_kwargs=[("threshold", 0.5)])
    with pytest.raises(ValueError, match="residual must be one of"):
        LMConfig(dim=16, num_heads=2, residual="spike")
    with pytest.raises(ValueError, match="attention must be one of \\('average', 'softmax'\\), got 'max'"):
        LMConfig(attention="max")
    assert build_language_model("spiking", 5, LMConfig(dim=16, num_heads=2, attention="softmax")).attention == "softmax"


def test_each_model_trains_at_its_own_peak_learning_rate(one_thread):
    corpus = load_char_corpus(max_chars=20_000)
    config = LMConfig(dim=16, depth=1, num_heads=2, context=16, batch_size=4, curve_points=1, curve_chars=50,
                      lr=4e-3, transformer_lr=1e-3, warmup_steps=0)
    assert (config.peak_lr("spiking"), config.peak_lr("transformer")) == (4e-3, 1e-3)
    assert LMConfig(lr=3e-3).peak_lr("transformer") == 3e-3  # unset: the shared rate
    runs = train_language_models(["spiking", "transformer"], corpus, config, steps=4)
    # after step 3 of 4 the cosine has reached p = 3/4: lr_peak * (0.1 + 0.45 (1 + cos(3 pi / 4)))
    cosine = 0.1 + 0.45 * (1 + math.cos(0.75 * math.pi))
    for kind, peak in (("spiking", 4e-3), ("transformer", 1e-3)):
        (group,) = runs[kind].optimizer.param_groups
        assert group["lr"] == pytest.approx(peak * cosine)
