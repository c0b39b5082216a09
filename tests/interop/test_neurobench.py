"""NeuroBench's activation sparsity and synaptic operations agree with our own spike counts (both paths)."""
import pytest

pytest.importorskip("neurobench")
pytest.importorskip("snntorch")
pytest.importorskip("nir")

import torch  # noqa: E402

from benchmark_scripts import load_benchmark  # noqa: E402


def test_neurobench_metrics_match_own_counts():
    from neurobench.models import SNNTorchModel, TorchModel
    from snntorch.import_nir import import_from_nir

    from neuromorph import LIF
    from neuromorph.data import load_digits
    from neuromorph.interop import to_nir

    bench = load_benchmark("neurobench_metrics")
    torch.manual_seed(0)
    steps, data = 4, load_digits()
    net = bench.build(32)
    with torch.no_grad():
        net[0].weight.mul_(3)
        net[2].weight.mul_(3)
    x, y = data.x_test[:60], data.y_test[:60]
    own = bench.own_counts(net, x, y, steps)
    assert 0.05 < own["activation_sparsity"] < 0.95 and own["effective_ACs"] > 0
    seq = x.unsqueeze(1).expand(len(x), steps, 64).contiguous()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(seq, y), batch_size=25)
    torch_model = TorchModel(bench.BatchFirst(net))
    torch_model.add_activation_module(LIF)
    models = {"torch": torch_model, "nir->snntorch": SNNTorchModel(import_from_nir(to_nir(net, torch.zeros(1, 64),
                                                                                          dt=1e-4)))}
    for name, model in models.items():
        result = bench.run_neurobench(model, loader)
        assert result["ActivationSparsity"] == pytest.approx(own["activation_sparsity"], abs=1e-9), name
        assert result["SynapticOperations"]["Effective_ACs"] == pytest.approx(own["effective_ACs"]), name
        assert result["ClassificationAccuracy"] == pytest.approx(own["accuracy"]), name
        assert result["SynapticOperations"]["Dense"] == (64 * 32 + 32 * 10) * steps
