import numpy as np
import pytest
import torch

from neuromorph.viz import firing_rates, plot_curves, plot_membrane, plot_rate_histogram, plot_raster

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 1000


def test_raster_from_batched_spikes(tmp_path):
    spikes = (torch.rand(20, 3, 50, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    out = plot_raster(spikes, tmp_path / "sub" / "raster.png", sample=1, max_neurons=30)
    assert out == tmp_path / "sub" / "raster.png" and is_png(out)
    with pytest.raises(ValueError, match="sample"):
        plot_raster(spikes, tmp_path / "r.png", sample=5)
    with pytest.raises(ValueError, match="png"):
        plot_raster(spikes, tmp_path / "r.jpg")
    with pytest.raises(TypeError, match="spikes"):
        plot_raster([[0, 1]], tmp_path / "r.png")


def test_membrane_traces(tmp_path):
    v = torch.cumsum(torch.full((30, 3), 0.2), 0) % 1.0
    s = (v < 0.2).float()
    assert is_png(plot_membrane(v, tmp_path / "v.png", threshold=1.0, spikes=s, neurons=2))
    with pytest.raises(ValueError, match="spikes"):
        plot_membrane(v, tmp_path / "v.png", spikes=s[:, :2])


def test_firing_rates_and_histogram(tmp_path):
    spikes = torch.zeros(10, 4, 5)
    spikes[:, :, 0] = 1
    spikes[:5, :, 1] = 1
    assert np.allclose(firing_rates(spikes), [1.0, 0.5, 0, 0, 0])
    assert np.allclose(firing_rates(spikes[:, 0]), [1.0, 0.5, 0, 0, 0])
    out = plot_rate_histogram({"lif0": firing_rates(spikes), "lif1": np.random.rand(30)}, tmp_path / "h.png")
    assert is_png(out)
    with pytest.raises(ValueError, match="rates"):
        plot_rate_histogram({}, tmp_path / "h.png")


def test_curves(tmp_path):
    assert is_png(plot_curves({"a": [0.1, 0.5, 0.9], "b": [0.2, 0.4]}, tmp_path / "c.png"))
    with pytest.raises(ValueError, match="curves"):
        plot_curves({"a": []}, tmp_path / "c.png")
