"""Cross-library NIR exchange with Norse 1.1 (skipped when norse is not installed).

Documented Norse conventions (docs/interop.md):
* Norse's exporter writes ``tau = dt / tau_mem_inv`` (i.e. ``dt * tau``) instead of ``tau``; its graphs follow
  NIR semantics at time step ``dt**2``, which is what we import them with (exact when Norse runs at ``dt = 1``).
* Norse's importer ignores ``r`` of LIF nodes (it logs a warning), so it runs ``v = beta v + (1 - beta) x``.
* Norse's ``LIFCell`` (exported as CubaLIF) adds its input to the synaptic current with gain 1, where NIR's
  CubaLIF (``w_in = 1``) has gain ``dt/tau_syn = 1 - alpha``: it equals the imported node with the input divided
  by ``1 - alpha``.
"""
import pytest

nt = pytest.importorskip("norse.torch")
pytest.importorskip("nir")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from neuromorph import LIF, SynapticLIF  # noqa: E402
from neuromorph.interop import Scale, from_nir, to_nir  # noqa: E402

T = 50


def run_norse(net, x):
    state, outs = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            out, state = net(x[t], state)
            outs.append(out)
    return torch.stack(outs)


def _linears(seed: int):
    torch.manual_seed(seed)
    first, second = nn.Linear(8, 16), nn.Linear(16, 4)
    with torch.no_grad():
        first.weight.mul_(4)
        second.weight.mul_(6)
    return first, second


def _assert_same_spikes(a, b):
    assert a.shape == b.shape
    assert 0.02 < float(a.mean()) < 0.98  # both spike and silence occur: the comparison can fail
    assert torch.equal(a, b)


@pytest.mark.parametrize("dt, import_dt", [(1.0, 1.0), (1e-3, 1e-6)])
def test_norse_lifbox_net_imports_with_same_spikes(dt, import_dt):
    first, second = _linears(0)
    params = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(0.1 / dt), v_th=torch.tensor(0.3))
    norse_net = nt.SequentialState(first, nt.LIFBoxCell(params, dt=dt), second, nt.LIFBoxCell(params, dt=dt))
    graph = nt.to_nir(norse_net, torch.zeros(1, 8), dt=dt)
    ours = from_nir(graph, dt=import_dt)
    x = torch.rand(T, 3, 8) * 2
    with torch.no_grad():
        _assert_same_spikes(run_norse(norse_net, x), ours(x))


def test_norse_graph_at_its_nominal_dt_is_refused_not_approximated():
    params = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(100.0))
    graph = nt.to_nir(nt.SequentialState(nn.Linear(3, 2), nt.LIFBoxCell(params)), torch.zeros(1, 3), dt=1e-3)
    with pytest.raises(ValueError, match=r"NIR node '1' \(LIF\).*dt/tau"):
        from_nir(graph, dt=1e-3)
    with pytest.raises(ValueError, match="pass from_nir"):
        from_nir(graph)  # Norse writes no dt


def test_synaptic_lif_net_exports_to_norse_with_same_spikes():
    first, second = _linears(1)
    ours = nn.Sequential(first, SynapticLIF(0.8, 0.9, 0.5, reset="zero"), second,
                         SynapticLIF(0.7, 0.85, 0.5, reset="zero"))
    theirs = nt.from_nir(to_nir(ours, torch.zeros(1, 8), dt=1e-3), dt=1e-3)
    x = torch.rand(T, 3, 8) * 0.5
    with torch.no_grad():
        _assert_same_spikes(ours(x), run_norse(theirs, x))


def test_lif_net_in_norse_drops_r_as_documented():
    first, second = _linears(2)
    with torch.no_grad():
        first.weight.div_(2)
        second.weight.mul_(4)
    ours = nn.Sequential(first, LIF(0.9, 0.5, reset="zero"), second, LIF(0.8, 0.5, reset="zero"))
    theirs = nt.from_nir(to_nir(ours, torch.zeros(1, 8), dt=1e-3), dt=1e-3, ignore_warnings=True)
    # what Norse runs: the input of each LIF scaled by 1 - beta (its r is ignored)
    as_norse = nn.Sequential(first, Scale(torch.tensor(0.1)), LIF(0.9, 0.5, reset="zero"), second,
                             Scale(torch.tensor(0.2)), LIF(0.8, 0.5, reset="zero"))
    x = torch.rand(T, 3, 8) * 20
    with torch.no_grad():
        norse_spikes = run_norse(theirs, x)
        _assert_same_spikes(as_norse(x), norse_spikes)
        assert not torch.equal(ours(x), norse_spikes)


def test_norse_lifcell_is_cuba_lif_with_unit_current_gain():
    torch.manual_seed(3)
    weight = nn.Linear(6, 10, bias=False)
    with torch.no_grad():
        weight.weight.mul_(40)
    norse_net = nt.SequentialState(weight, nt.LIFCell())  # tau_syn_inv 200, tau_mem_inv 100, dt 1e-3
    ours = from_nir(nt.to_nir(norse_net, torch.zeros(1, 6), dt=1e-3), dt=1e-6)
    x = torch.rand(T, 3, 6)
    alpha = 1 - 1e-3 * 200.0
    with torch.no_grad():
        norse_spikes = run_norse(norse_net, x)
        _assert_same_spikes(ours(x / (1 - alpha)), norse_spikes)
        assert not torch.equal(ours(x), norse_spikes)
