"""reservoir_sim.simulate: the compiled event-driven simulator against a plain per-step reference."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neuromorph.models.reservoir import ReservoirParams, build_connectivity, init_state, make_synapses
from neuromorph.models.reservoir_sim import simulate
from neuromorph.neurons import native

NATIVE = native.load_reservoir() is not None
needs_native = pytest.mark.skipif(not NATIVE, reason="compiled reservoir simulator unavailable")


def _network(n: int, k: int, dtype: torch.dtype, seed: int = 0, bias: bool = False, refractory: int = 2):
    g = torch.Generator().manual_seed(seed)
    pre, post, inh = build_connectivity(n, k, generator=g)
    w = (0.05 + 0.1 * torch.rand(pre.numel(), generator=g, dtype=torch.float64)).to(dtype)
    w = torch.where(inh[pre], -2 * w, w)
    syn = make_synapses(pre, post, w, n, n)
    beta = torch.exp(-1.0 / (15 + 10 * torch.rand(n, generator=g, dtype=torch.float64))).to(dtype)
    b = 0.01 * torch.rand(n, generator=g, dtype=torch.float64).to(dtype) if bias else None
    return ReservoirParams(beta, torch.ones(n, dtype=dtype), syn, b, 0.0, refractory, 0.8), (pre, post, w)


def _reference(x: torch.Tensor, params: ReservoirParams, edges, steps: int):
    """Per-step loop with a dense weight matrix: I = s W + x + bias, refractory clamp, reset, trace."""
    pre, post, w = edges
    b, n = x.shape[-2:]
    dense = torch.zeros(n, n, dtype=x.dtype).index_put_((pre, post), w, accumulate=True)
    v, s, r, a = (torch.zeros(b, n, dtype=x.dtype) for _ in range(4))
    raster = []
    for t in range(steps):
        current = s @ dense + (x if x.dim() == 2 else x[t])
        if params.bias is not None:
            current = current + params.bias
        v_pre = params.beta * v + current
        v_pre = torch.where(r > 0, torch.full_like(v_pre, params.v_reset), v_pre)
        fired = v_pre >= params.threshold
        s = fired.to(x.dtype)
        v = torch.where(fired, torch.full_like(v_pre, params.v_reset), v_pre)
        r = torch.where(fired, torch.full_like(r, params.refractory), (r - 1).clamp_min(0))
        a = s + params.trace_decay * a
        raster.append(fired.to(torch.uint8))
    return torch.stack(raster), v, a


@needs_native
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("threads", [1, 3])
def test_native_matches_dense_reference(dtype, threads):
    n, steps = 500, 120
    params, edges = _network(n, 30, dtype, bias=True)
    x = 0.06 + 0.04 * torch.rand(steps, 2, n, generator=torch.Generator().manual_seed(3), dtype=dtype)
    raster, v, trace = _reference(x, params, edges, steps)
    out = simulate(x, init_state(2, n, dtype), params, steps, record_spikes=True, threads=threads,
                   backend="native", min_neurons_per_thread=100)
    assert out.backend == "native"
    assert raster.sum() > 200  # a live network, not a silent one
    assert torch.equal(out.spikes, raster)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(out.state.v, v, atol=tol, rtol=0)
    torch.testing.assert_close(out.state.trace, trace, atol=tol, rtol=0)
    assert torch.equal(out.counts_per_step, raster.sum(2).long())
    assert torch.equal(out.counts_per_neuron, raster.sum(0).long())


@needs_native
@pytest.mark.parametrize("refractory", [0, 3])
def test_native_equals_torch_fallback_and_chains(refractory):
    n = 500
    params, _ = _network(n, 40, torch.float64, seed=1, refractory=refractory)
    x = torch.full((1, n), 0.07, dtype=torch.float64)
    state = init_state(1, n, torch.float64)
    slow = simulate(x, state, params, 80, record_spikes=True, backend="torch")
    first = simulate(x, state, params, 50, record_spikes=True, threads=2, backend="native",
                     min_neurons_per_thread=50)
    second = simulate(x, first.state, params, 30, record_spikes=True, threads=2, backend="native",
                      min_neurons_per_thread=50)
    assert slow.backend == "torch" and slow.spikes.sum() > 100
    assert torch.equal(torch.cat([first.spikes, second.spikes]), slow.spikes)
    assert torch.equal(second.state.refrac, slow.state.refrac)
    assert torch.equal(second.state.spikes, slow.state.spikes)
    torch.testing.assert_close(second.state.v, slow.state.v, atol=1e-12, rtol=0)
    assert torch.equal(state.v, torch.zeros_like(state.v))  # the start state is never modified


def test_bad_inputs_are_rejected():
    params, _ = _network(200, 10, torch.float32)
    state = init_state(1, 200)
    with pytest.raises(ValueError, match="steps"):
        simulate(torch.zeros(1, 200), state, params, 0)
    with pytest.raises(ValueError, match="x must be"):
        simulate(torch.zeros(1, 199), state, params, 5)
    with pytest.raises(TypeError, match="dtype"):
        simulate(torch.zeros(1, 200, dtype=torch.float64), state, params, 5)
    with pytest.raises(ValueError, match="non-finite"):
        simulate(torch.full((1, 200), float("nan")), state, params, 5)
    with pytest.raises(ValueError, match="backend"):
        simulate(torch.zeros(1, 200), state, params, 5, backend="gpu")
    with pytest.raises(ValueError, match="threads"):
        simulate(torch.zeros(1, 200), state, params, 5, threads=0)


NEST_PYTHON = Path(os.environ.get("NEUROMORPH_NEST_PYTHON", "/work/venvs/nest/bin/python"))


@pytest.mark.slow
@pytest.mark.skipif(not NEST_PYTHON.exists(), reason=f"no NEST venv at {NEST_PYTHON} (NEUROMORPH_NEST_PYTHON)")
def test_spike_counts_per_step_identical_to_nest(tmp_path):
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "sim_vs_nest_brian2.py"
    out = tmp_path / "rows.json"
    subprocess.run([sys.executable, str(script), "--sizes", "2000", "--rates", "0.04", "--threads", "1",
                    "--steps", "300", "--repeats", "1", "--simulators", "neuromorph,nest", "--nest-python",
                    str(NEST_PYTHON), "--json", str(out)], check=True, cwd=script.parents[1],
                   env=dict(os.environ, PYTHONPATH=str(script.parents[1])))
    row = json.loads(out.read_text())[0]
    assert row["nest"]["steps_identical"], row["nest"]
    assert row["neuromorph"]["rate"] > 0.001 and math.isclose(row["nest"]["rate"], row["neuromorph"]["rate"])
