"""neuromorph -> NIR -> neuromorph gives the same spikes and membranes (T = 50 random input)."""
import pytest

nir = pytest.importorskip("nir")

import torch
from torch import nn

from neuromorph import LIF, LeakyIntegrator, SynapticLIF
from neuromorph.interop import GraphNet, Scale, SumPool2d, from_nir, to_nir

from nir_reference import run_sequential, trace

T = 50


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(12, 16),
        LIF(beta=torch.rand(16) * 0.5 + 0.45, threshold=torch.rand(16) + 0.5, reset="zero", num_neurons=16),
        nn.Linear(16, 10, bias=False),
        SynapticLIF(alpha=0.7, beta=0.85, threshold=0.6, reset="zero"),
        nn.Sequential(nn.Linear(10, 4), nn.Dropout(0.0)),
        LeakyIntegrator(beta=0.8),
    )


def _cnn() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        LIF(beta=0.8, threshold=0.5, reset="zero", delay=True),
        SumPool2d(2),
        nn.Conv2d(4, 4, 3, stride=1, padding=0, bias=False),
        LIF(beta=0.9, threshold=0.7, reset="zero"),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4, 6),
        Scale(torch.linspace(0.5, 2.0, 6)),
        LIF(beta=0.7, reset="zero"),
    )


def _assert_same(ref_net, ref_run, new_net, new_run, x):
    ref_out, ref_v = trace(ref_run, ref_net, x)
    new_out, new_v = trace(new_run, new_net, x)
    assert len(ref_out) == len(new_out)
    for a, b in zip(ref_out, new_out):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    for a, b in zip(ref_v, new_v):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    return ref_out


@pytest.mark.parametrize("build, step_shape", [(_mlp, (12,)), (_cnn, (2, 8, 8))])
def test_round_trip_same_spikes_and_membrane(build, step_shape, tmp_path):
    net = build()
    graph = to_nir(net, torch.zeros(1, *step_shape), dt=1e-4)
    nir.write(tmp_path / "net.nir", graph)
    back = from_nir(tmp_path / "net.nir")
    assert isinstance(back, GraphNet)
    x = torch.rand(T, 3, *step_shape) * 1.5
    outputs = _assert_same(net, lambda s: run_sequential(net, s), back, back, x)
    spikes = [o for o, layer in zip(outputs, [m for m in net.modules() if isinstance(m, (LIF, SynapticLIF))])]
    for s in spikes:  # the comparison is not vacuous: every spiking layer fires, and not always
        assert 0.02 < float((s != 0).float().mean()) < 0.98


def test_second_round_trip_is_stable():
    net = _mlp()
    back = from_nir(to_nir(net, torch.zeros(1, 12)))
    again = from_nir(to_nir(back, torch.zeros(1, 12)))
    x = torch.rand(T, 2, 12) * 1.5
    _assert_same(back, back, again, again, x)


def test_multi_step_output_matches_reference():
    net = _mlp()
    back = from_nir(to_nir(net, torch.zeros(1, 12)))
    x = torch.rand(T, 4, 12) * 1.5
    import neuromorph
    neuromorph.reset(net)
    with torch.no_grad():
        torch.testing.assert_close(back(x), run_sequential(net, x), rtol=0, atol=1e-5)


def test_graph_is_type_checked_and_records_parameters():
    net = _mlp()
    graph = to_nir(net, torch.zeros(1, 12), dt=1e-3)
    graph.check_types()
    assert graph.metadata["dt"] == 1e-3
    lif = graph.nodes["1"]
    beta = net[1].beta().double().numpy()
    torch.testing.assert_close(torch.as_tensor(lif.tau), torch.as_tensor(1e-3 / (1 - beta)))
    torch.testing.assert_close(torch.as_tensor(lif.r), torch.as_tensor(1 / (1 - beta)))
    cuba = graph.nodes["3"]
    assert abs(float(cuba.w_in.mean()) * 1e-3 / float(cuba.tau_syn.mean()) - 1) < 1e-9
    assert type(graph.nodes["2"]).__name__ == "Linear"  # no bias


def test_one_layer_model_exports():
    graph = to_nir(LIF(0.9, reset="zero"), torch.zeros(2, 5))
    assert [type(n).__name__ for n in graph.nodes.values()].count("LIF") == 1
