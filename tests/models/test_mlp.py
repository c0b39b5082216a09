import pytest
import torch

from neuromorph import LIF
from neuromorph.data import load_digits
from neuromorph.metrics import evaluate
from neuromorph.models import FeedForwardMLP, SpikingCNN, SpikingMLP
from neuromorph.training import fit


def test_static_input_equals_repeated_sequence():
    torch.manual_seed(0)
    m = SpikingMLP([12, 20, 16, 4], num_steps=6, threshold=0.5)
    x = torch.rand(5, 12) * 2
    static = m(x)
    rates_static = m.spike_rates()
    seq = m(x.unsqueeze(0).expand(6, 5, 12).contiguous())
    assert static.shape == (5, 4)
    assert torch.allclose(static, seq, atol=1e-6)
    assert m.spike_rates() == pytest.approx(rates_static)
    assert set(rates_static) == {"lif0", "lif1"}
    assert all(0.0 <= r <= 1.0 for r in rates_static.values())
    assert torch.allclose(m(x), static)  # state is reset at every forward


def test_matches_a_hand_written_step_loop():
    torch.manual_seed(1)
    m = SpikingMLP([8, 10, 3], num_steps=5, beta=0.8, threshold=0.7, readout="membrane", readout_beta=0.6)
    x = torch.rand(5, 2, 8)
    v1 = torch.zeros(2, 10)
    v2 = torch.zeros(2, 3)
    total = torch.zeros(2, 3)
    spikes = 0.0
    for t in range(5):
        v1 = 0.8 * v1 + m.hidden[0](x[t])
        s = (v1 >= 0.7).float()
        spikes += float(s.sum())
        v1 = v1 - 0.7 * s
        v2 = 0.6 * v2 + m.out(s)
        total += v2
    assert torch.allclose(m(x), total / 5, atol=1e-5)
    assert m.mean_spike_rate() == pytest.approx(spikes / (5 * 2 * 10))


def test_rate_readout_counts_output_spikes_and_gradients_flow():
    torch.manual_seed(0)
    m = SpikingMLP([6, 16, 3], num_steps=10, readout="rate", threshold=0.3)
    x = torch.rand(4, 6) * 3
    scores = m(x)
    assert set(m.spike_rates()) == {"lif0", "out"}
    assert torch.all(scores == scores.round()) and scores.max() <= 10
    scores.sum().backward()
    assert m.hidden[0].weight.grad is not None and m.hidden[0].weight.grad.abs().sum() > 0
    assert isinstance(m.neurons[0], LIF)


def test_record_spikes_and_neuron_rates():
    m = SpikingMLP([6, 7, 3], num_steps=4)
    m.record_spikes(True)
    m(torch.rand(2, 6))
    assert m.recorder.spikes["lif0"].shape == (4, 2, 7)
    assert m.neuron_rates()["lif0"].shape == (7,)


def test_cnn_shapes_static_vs_sequence_and_grads():
    torch.manual_seed(0)
    m = SpikingCNN(in_channels=1, image_size=(8, 8), channels=(4, 6), hidden=16, num_steps=3)
    m.eval()  # batch-norm running statistics: static and sequence paths see identical conv inputs
    x = torch.rand(2, 1, 8, 8)
    out = m(x)
    assert out.shape == (2, 10)
    assert torch.allclose(out, m(x.unsqueeze(0).expand(3, 2, 1, 8, 8).contiguous()), atol=1e-5)
    assert set(m.spike_rates()) == {"conv0", "conv1", "fc"}
    m.train()
    m(x).sum().backward()
    assert m.blocks[0][0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="x"):
        m(torch.rand(2, 1, 9, 9))


def test_bad_arguments():
    with pytest.raises(ValueError, match="sizes"):
        SpikingMLP([10])
    with pytest.raises(ValueError, match="readout"):
        SpikingMLP([4, 2], readout="max")
    with pytest.raises(ValueError, match="num_steps"):
        SpikingMLP([4, 2], num_steps=0)
    m = SpikingMLP([4, 5, 2])
    with pytest.raises(ValueError, match="features"):
        m(torch.rand(3, 5))
    with pytest.raises(ValueError, match="x"):
        m(torch.rand(3))
    with pytest.raises(TypeError, match="x"):
        m(torch.ones(3, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="dropout"):
        FeedForwardMLP([4, 2], dropout=1.0)


@pytest.mark.parametrize("neuron", ["alif", "synaptic_lif", lambda shape: LIF(beta=0.8, num_neurons=shape)])
def test_neuron_factory(neuron) -> None:
    m = SpikingMLP([4, 6, 3], neuron=neuron, readout="rate", output="sequence")
    out = m(torch.rand(5, 2, 4))
    assert out.shape == (5, 2, 3)
    assert type(m.neurons[0]) is type(m.out_neurons)
    cnn = SpikingCNN(1, (8, 8), channels=(2,), hidden=4, num_classes=3, neuron=neuron, num_steps=2)
    assert cnn(torch.rand(2, 1, 8, 8)).shape == (2, 3)


def test_neuron_factory_errors() -> None:
    with pytest.raises(ValueError, match="unknown neuron"):
        SpikingMLP([4, 3], neuron="izhikevich")
    with pytest.raises(TypeError, match="neuron factory must return"):
        SpikingMLP([4, 6, 3], neuron=lambda shape: torch.nn.ReLU())
    with pytest.raises(ValueError, match="output"):
        SpikingMLP([4, 3], output="last")


def test_inference_mode_runs() -> None:
    """Spike byte copies are not attached to inference-mode tensors (they keep no version counter)."""
    model = SpikingMLP([16, 32, 3])
    with torch.inference_mode():
        assert model(torch.rand(4, 16)).shape == (4, 3)
