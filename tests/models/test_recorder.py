"""The spike recorder counts lazily from the kernel's spike bytes: same figures as counting the spikes."""
import pytest
import torch

from neuromorph.models import SpikingMLP
from neuromorph.neurons import lif as lif_module


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("grad", [True, False])
def test_rates_equal_the_recorded_spikes(monkeypatch, native, grad):
    if not native:  # torch-ops LIF: no byte copy, the recorder counts at once
        monkeypatch.setattr(lif_module, "_use_native", lambda x, s: False)
    torch.manual_seed(0)
    model = SpikingMLP([12, 30, 20, 5], num_steps=7, threshold=0.4, readout="rate")
    model.record_spikes(True)
    x = torch.rand(6, 12)
    with torch.set_grad_enabled(grad):
        model(x)
    spikes = model.recorder.spikes
    assert set(spikes) == {"lif0", "lif1", "out"}
    assert any(model.recorder._pending) == native  # the lazy path is the one exercised
    rates = model.spike_rates()
    for name, s in spikes.items():
        assert rates[name] == float(s.sum()) / s.numel()
        assert torch.equal(model.neuron_rates()[name], s.flatten(0, 1).mean(dim=0))
    total = sum(float(s.sum()) for s in spikes.values())
    assert model.mean_spike_rate() == pytest.approx(total / sum(s.numel() for s in spikes.values()))
    assert list(rates) == ["lif0", "lif1", "out"]  # in layer order


def test_a_new_pass_replaces_the_figures():
    torch.manual_seed(1)
    model = SpikingMLP([8, 16, 3], num_steps=5, threshold=0.3)
    model.record_spikes(True)
    with torch.no_grad():
        model(torch.rand(4, 8) * 3)
        first = model.spike_rates()["lif0"]
        model(-torch.rand(4, 8) * 3)
    second = model.recorder.spikes["lif0"]
    assert first != model.spike_rates()["lif0"] == float(second.sum()) / second.numel()
    model.recorder.clear()
    with pytest.raises(RuntimeError, match="no spikes recorded"):
        model.mean_spike_rate()
