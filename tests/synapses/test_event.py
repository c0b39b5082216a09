"""Event-driven synapses: the event path equals the dense GEMM, and the automatic choice follows the rate."""
import pytest
import torch
from torch import nn

from neuromorph import SpikeLinear
from neuromorph.models import SpikingMLP
from neuromorph.neurons import native
from neuromorph.synapses import event
from neuromorph.synapses.event import crossover_rate, event_linear, set_crossover_rates, try_event_linear

needs_kernel = pytest.mark.skipif(native.load() is None, reason="compiled kernel unavailable")


def _dyadic_linear(fin: int, fout: int, dtype: torch.dtype, seed: int = 0) -> nn.Linear:
    """Weights and biases on the grid k/256, |k| <= 256: every partial sum is exact in float32 and float64,
    so any order of additions gives bit-identical results."""
    g = torch.Generator().manual_seed(seed)
    layer = nn.Linear(fin, fout).to(dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.randint(-256, 257, (fout, fin), generator=g).to(dtype) / 256)
        layer.bias.copy_(torch.randint(-256, 257, (fout,), generator=g).to(dtype) / 256)
    return layer


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rate", [0.0, 0.03, 0.3, 1.0])
@pytest.mark.parametrize("fout", [10, 64, 200])  # narrower than, equal to and not a multiple of a tile
def test_event_path_equals_dense_exactly(dtype, rate, fout):
    layer = _dyadic_linear(150, fout, dtype)
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(7, 5, 150, generator=g) < rate).to(dtype)
    y, measured = try_event_linear(x, layer.weight, layer.bias, mode="event")
    assert measured == pytest.approx(x.mean().item())
    assert y.dtype == dtype and y.shape == (7, 5, fout)
    assert torch.equal(y, nn.functional.linear(x, layer.weight, layer.bias))


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_event_path_matches_dense_for_real_weights(dtype):
    torch.manual_seed(0)
    layer = nn.Linear(300, 130).to(dtype)
    x = (torch.rand(40, 300) < 0.1).to(dtype)
    y = event_linear(x, layer.weight, layer.bias)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(y, layer(x).detach(), rtol=tol, atol=tol)
    y_nobias = event_linear(x, layer.weight)
    torch.testing.assert_close(y_nobias, x @ layer.weight.detach().t(), rtol=tol, atol=tol)


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spiking_mlp_inference_identical_on_both_paths(dtype):
    """A whole SNN (LIF spikes feeding the next SpikeLinear) gives the same outputs event-driven and dense."""
    torch.manual_seed(0)
    model = SpikingMLP([120, 96, 80, 10], num_steps=6).to(dtype)
    for linear in list(model.hidden) + [model.out]:
        dyadic = _dyadic_linear(linear.in_features, linear.out_features, dtype, seed=linear.in_features)
        linear.load_state_dict(dyadic.state_dict())
    x = (torch.rand(6, 9, 120) < 0.1).to(dtype)
    outs = {}
    with torch.no_grad():
        for mode in ("event", "dense"):
            for m in model.modules():
                if isinstance(m, SpikeLinear):
                    m.event = mode
            outs[mode] = model(x)
            paths = {m.last_path for m in model.modules() if isinstance(m, SpikeLinear)}
            assert paths == {mode}
    assert torch.equal(outs["event"], outs["dense"])


@needs_kernel
def test_automatic_choice_follows_measured_rate():
    layer = SpikeLinear(200, 80)
    rows = 30  # 30 * 200 * 80 multiply-adds: above MIN_EVENT_WORK
    assert rows * 200 * 80 >= event.MIN_EVENT_WORK and 80 >= event.MIN_EVENT_OUTPUTS
    threshold = crossover_rate(rows)
    sparse = (torch.rand(rows, 200) < threshold / 4).float()
    dense_in = (torch.rand(rows, 200) < min(1.0, threshold * 2 + 0.05)).float()
    with torch.no_grad():
        y_sparse = layer(sparse)
        assert layer.last_path == "event" and layer.last_rate == pytest.approx(sparse.mean().item())
        layer(dense_in)
        assert layer.last_path == "dense" and layer.last_rate == pytest.approx(dense_in.mean().item())
        layer(torch.randn(rows, 200))  # not binary: dense, no rate
        assert layer.last_path == "dense" and layer.last_rate is None
    torch.testing.assert_close(y_sparse, nn.functional.linear(sparse, layer.weight, layer.bias))
    # training (gradients needed) never takes the event path
    layer(sparse).sum().backward()
    assert layer.last_path == "dense" and layer.weight.grad is not None
    layer.event = "dense"
    with torch.no_grad():
        layer(sparse)
    assert layer.last_path == "dense"


@needs_kernel
def test_crossover_table_drives_the_choice():
    layer = SpikeLinear(100, 200)
    x = (torch.rand(20, 100) < 0.2).float()
    try:
        set_crossover_rates({1: 0.0, 1000: 0.0})
        with torch.no_grad():
            layer(x)
        assert layer.last_path == "dense"
        set_crossover_rates({1: 1.0})
        with torch.no_grad():
            layer(x)
        assert layer.last_path == "event"
    finally:
        set_crossover_rates(None)
    assert event.crossover_rates() == event._DEFAULT_CROSSOVER


@needs_kernel
def test_tiny_calls_stay_dense_under_auto():
    layer = SpikeLinear(16, 64)
    x = (torch.rand(3, 16) < 0.05).float()
    narrow = SpikeLinear(2000, 10)  # enough work, but fewer outputs than one register tile
    x_narrow = (torch.rand(50, 2000) < 0.05).float()
    with torch.no_grad():
        layer(x)
        narrow(x_narrow)
    assert layer.last_path == "dense" and narrow.last_path == "dense"


def test_crossover_rate_interpolates_in_log_rows():
    try:
        set_crossover_rates({10: 0.4, 1000: 0.2})
        assert crossover_rate(1) == 0.4 and crossover_rate(10_000) == 0.2
        assert crossover_rate(100) == pytest.approx(0.3)
    finally:
        set_crossover_rates(None)


@pytest.mark.parametrize("update", ["weight", "bias"])
def test_weight_and_bias_cache_follow_in_place_updates(update):
    layer = SpikeLinear(64, 70, event="event")
    x = (torch.rand(4, 64) < 0.1).float()
    with torch.no_grad():
        layer(x)
        getattr(layer, update).mul_(2).add_(0.5)
        y = layer(x)
    torch.testing.assert_close(y, nn.functional.linear(x, layer.weight, layer.bias))


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="event must be one of"):
        SpikeLinear(3, 2, event="sparse")
    with pytest.raises(ValueError, match="mode must be one of"):
        try_event_linear(torch.zeros(2, 3), torch.zeros(2, 3), None, mode="x")
    with pytest.raises(ValueError, match="only 0 and 1"):
        event_linear(torch.full((2, 3), 0.5), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="spikes must be"):
        event_linear(torch.zeros(2, 5), torch.zeros(4, 3))
    with pytest.raises(TypeError, match="dtype"):
        event_linear(torch.zeros(2, 3, dtype=torch.float64), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="rates values"):
        set_crossover_rates({10: 1.5})
    with pytest.raises(ValueError, match="rates keys"):
        set_crossover_rates({0: 0.1})

