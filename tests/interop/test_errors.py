"""What NIR or neuromorph cannot express raises a clear error naming the layer or node."""
import numpy as np
import pytest

nir = pytest.importorskip("nir")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from neuromorph import ALIF, LIF, SynapticLIF  # noqa: E402
from neuromorph.interop import from_nir, to_nir  # noqa: E402


@pytest.mark.parametrize("layer", [LIF(0.9), LIF(0.9, reset="none"), SynapticLIF(reset="subtract")])
def test_reset_without_nir_encoding_is_refused(layer):
    net = nn.Sequential(nn.Linear(3, 4), layer)
    with pytest.raises(ValueError, match=r"layer '1' \(.*LIF\): reset='(subtract|none)' cannot be written"):
        to_nir(net, torch.zeros(1, 3))


def test_layer_without_converter_is_named():
    with pytest.raises(TypeError, match=r"layer '1' \(ALIF\) has no NIR converter"):
        to_nir(nn.Sequential(nn.Linear(3, 4), ALIF()), torch.zeros(1, 3))


def test_bad_arguments():
    with pytest.raises(TypeError, match="model"):
        to_nir("net", torch.zeros(1, 3))
    with pytest.raises(ValueError, match="sample_input"):
        to_nir(nn.Linear(3, 4), torch.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        to_nir(nn.Linear(3, 4), torch.full((1, 3), float("nan")))
    with pytest.raises(ValueError, match="dt"):
        to_nir(nn.Linear(3, 4), torch.zeros(1, 3), dt=0.0)
    with pytest.raises(TypeError, match="graph"):
        from_nir({"nodes": {}})


def _graph(neuron, shape=(3,)):
    return nir.NIRGraph(nodes={"input": nir.Input(np.array(shape)), "cell": neuron,
                               "output": nir.Output(np.array(shape))},
                        edges=[("input", "cell"), ("cell", "output")], metadata={"dt": 1e-3})


def _lif(**overrides):
    fields = dict(tau=np.full(3, 0.01), r=np.full(3, 10.0), v_leak=np.zeros(3), v_threshold=np.ones(3),
                  v_reset=np.zeros(3))
    return nir.LIF(**{**fields, **overrides})


@pytest.mark.parametrize("field, value", [("v_reset", -0.5), ("v_leak", 0.2)])
def test_non_zero_reset_or_leak_is_refused(field, value):
    with pytest.raises(ValueError, match=rf"NIR node 'cell' \(LIF\): {field} = \[{value}\] is not supported"):
        from_nir(_graph(_lif(**{field: np.full(3, value)})))


def test_per_neuron_parameters_and_gain_are_kept():
    net = from_nir(_graph(_lif(tau=np.array([0.01, 0.02, 0.005]), r=np.ones(3))))
    scale, lif = net.layer("cell")
    torch.testing.assert_close(lif.beta(), torch.tensor([0.9, 0.95, 0.8]))
    torch.testing.assert_close(scale.scale, torch.tensor([0.1, 0.05, 0.2]))


def test_unsupported_node_type_is_named():
    with pytest.raises(ValueError, match=r"NIR node 'cell' has type IF"):
        from_nir(_graph(nir.IF(r=np.ones(3), v_threshold=np.ones(3))))


def test_delay_other_than_one_step_after_lif_is_refused():
    nodes = {"input": nir.Input(np.array([3])), "cell": _lif(), "wait": nir.Delay(np.full(3, 2e-3)),
             "output": nir.Output(np.array([3]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "cell"), ("cell", "wait"), ("wait", "output")],
                         metadata={"dt": 1e-3})
    with pytest.raises(ValueError, match=r"NIR node 'wait' \(Delay\)"):
        from_nir(graph)


def test_recurrent_graph_is_refused():
    nodes = {"input": nir.Input(np.array([3])), "cell": _lif(), "rec": nir.Linear(np.eye(3)),
             "output": nir.Output(np.array([3]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "cell"), ("cell", "rec"), ("rec", "cell"),
                                             ("cell", "output")], metadata={"dt": 1e-3}, type_check=False)
    with pytest.raises(ValueError, match=r"cycle .*\['cell', 'rec'\]"):
        from_nir(graph)


def test_graph_without_dt_needs_one():
    graph = _graph(_lif())
    graph.metadata = {}
    with pytest.raises(ValueError, match=r"no 'dt' in its metadata"):
        from_nir(graph)
    assert from_nir(graph, dt=1e-3) is not None
