"""Many reservoir steps in one call: the compiled event-driven simulator, with a torch-ops fallback.

:func:`simulate` advances a :mod:`neuromorph.models.reservoir` network ``steps`` times with exactly the
equations of :func:`~neuromorph.models.reservoir.reservoir_step` (one-step synaptic delay, absolute refractory
period, reset to ``v_reset``)::

    I_t      = W^T s_{t-1} + x_t + bias
    v_pre    = beta * v_{t-1} + I_t            (v_pre = v_reset while refractory)
    s_t      = H(v_pre - threshold);  v_t = s_t ? v_reset : v_pre;  r_t = s_t ? refractory : max(r_{t-1} - 1, 0)
    a_t      = s_t + trace_decay * a_{t-1}

``backend="native"`` runs the whole loop in C++ (``neuromorph/neurons/native/reservoir_kernel.cpp``): only the
outgoing synapses of neurons that spiked are read (cost ~ spikes x K per step, not N x K), neurons are split
into ``threads`` contiguous ranges, each thread adds the synaptic input aimed at its own range, and there is
no Python per step; the column indices are kept as int32 (a cached copy) and the spike trace decays
lazily (brought up to date when a neuron spikes and after the last step). ``backend="torch"`` loops
:func:`reservoir_step` (method ``"event"``, so the synaptic sums run in the same order). Both give the same
spike trains; membranes agree to float rounding; the trace differs in the last bits (powers of the decay
instead of one multiplication per step). ``"auto"`` takes the native simulator on CPU float32
/ float64 when it can be built.

>>> import torch
>>> from neuromorph.models.reservoir import ReservoirParams, init_state, make_synapses
>>> syn = make_synapses(torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([0.5, 0.5]), 2, 2)
>>> p = ReservoirParams(torch.full((2,), 0.9), torch.ones(2), syn, refractory=2)
>>> out = simulate(torch.tensor([[1.2, 0.0]]), init_state(1, 2), p, steps=5, record_spikes=True)
>>> out.spikes[:, 0].tolist()
[[1, 0], [0, 0], [0, 0], [1, 0], [0, 0]]
"""

from __future__ import annotations

import weakref
from typing import NamedTuple, Optional

import torch
from torch import Tensor

from neuromorph.models.reservoir import ReservoirParams, ReservoirState, reservoir_step
from neuromorph.neurons import native
from neuromorph.utils import check_positive_int

BACKENDS = ("auto", "native", "torch")
MIN_NEURONS_PER_THREAD = 25000
_COLUMNS: dict[tuple, tuple] = {}  # int32 copy of the last synapse column index tensors the simulator saw


class SimulationResult(NamedTuple):
    """What :func:`simulate` returns (one field per line below).

    >>> import torch
    >>> from neuromorph.models.reservoir import ReservoirParams, init_state, make_synapses
    >>> syn = make_synapses(torch.tensor([0]), torch.tensor([1]), torch.tensor([0.5]), 2, 2)
    >>> p = ReservoirParams(torch.full((2,), 0.9), torch.ones(2), syn, refractory=2)
    >>> out = simulate(torch.tensor([[1.2, 0.0]]), init_state(1, 2), p, steps=6, record_spikes=True, backend="torch")
    >>> out.backend, torch.equal(out.counts_per_neuron, out.spikes.sum(0).long())
    ('torch', True)
    >>> torch.equal(out.counts_per_step, out.spikes.sum(2).long())
    True
    """

    state: ReservoirState  # state after the last step
    counts_per_step: Tensor  # [steps, B] int64: spikes of all neurons in each step
    counts_per_neuron: Tensor  # [B, N] int64: spikes of each neuron over the run
    spikes: Optional[Tensor]  # [steps, B, N] uint8 raster when record_spikes, else None
    backend: str  # "native" or "torch"


def _check(x: Tensor, state: ReservoirState, params: ReservoirParams, steps: int, backend: str) -> None:
    check_positive_int("steps", steps)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor, got {type(x).__name__}")
    shape = tuple(state.v.shape)
    if tuple(x.shape) != shape and not (x.dim() == 3 and tuple(x.shape[1:]) == shape and x.shape[0] >= steps):
        raise ValueError(
            f"x must be [B, N] = {list(shape)} (constant drive) or [steps >= {steps}, B, N], got {list(x.shape)}"
        )
    if x.dtype != state.v.dtype:
        raise TypeError(f"x must have the state's dtype {state.v.dtype}, got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains non-finite values")


def simulate(
    x: Tensor,
    state: ReservoirState,
    params: ReservoirParams,
    steps: int,
    record_spikes: bool = False,
    threads: int | None = None,
    backend: str = "auto",
    min_neurons_per_thread: int = MIN_NEURONS_PER_THREAD,
) -> SimulationResult:
    """Run ``steps`` reservoir steps from ``state`` (never modified) with input current ``x``.

    Args:
        x: ``[B, N]`` constant input current, or ``[steps, B, N]`` one row per step.
        state: start state (:func:`~neuromorph.models.reservoir.init_state`).
        params: network (its ``method``/``event_fraction`` are ignored: the native path is event-driven).
        steps: number of steps.
        record_spikes: also return the ``[steps, B, N]`` uint8 spike raster.
        threads: native threads (default ``torch.get_num_threads()``); at most one per
            ``min_neurons_per_thread`` neurons are used (below that the per-step barrier costs more than the
            split saves).
        backend: ``"auto"``, ``"native"`` (error when it cannot be built) or ``"torch"``.

    A constant drive given as ``[B, N]`` or repeated as ``[steps, B, N]`` gives the same run; ``state`` stays
    untouched:

    >>> from neuromorph.models.reservoir import ReservoirParams, init_state, make_synapses
    >>> syn = make_synapses(torch.tensor([0]), torch.tensor([1]), torch.tensor([0.5]), 2, 2)
    >>> p = ReservoirParams(torch.full((2,), 0.9), torch.ones(2), syn, refractory=2)
    >>> start, drive = init_state(1, 2), torch.tensor([[1.2, 0.0]])
    >>> once = simulate(drive, start, p, steps=6, backend="torch")
    >>> per_step = simulate(drive.expand(6, 1, 2), start, p, steps=6, backend="torch")
    >>> once.counts_per_neuron.tolist(), torch.equal(once.state.v, per_step.state.v), float(start.v.abs().sum())
    ([[2, 0]], True, 0.0)
    """
    _check(x, state, params, steps, backend)
    threads = torch.get_num_threads() if threads is None else check_positive_int("threads", threads)
    check_positive_int("min_neurons_per_thread", min_neurons_per_thread)
    dtype = state.v.dtype
    usable = state.v.device.type == "cpu" and dtype in (torch.float32, torch.float64)
    module = native.load_reservoir() if backend != "torch" and usable else None
    if backend == "native" and module is None:
        raise ValueError(
            "backend='native' needs the compiled reservoir simulator on CPU float32/float64 "
            "(not built here, disabled by NEUROMORPH_NATIVE=0, or another device/dtype)"
        )
    if module is None:
        return _simulate_torch(x, state, params, steps, record_spikes)
    syn = params.synapses
    n = state.v.shape[1]
    v, refrac, trace = state.v.clone().contiguous(), state.refrac.clone().contiguous(), state.trace.clone()
    last = (state.spikes != 0).to(torch.uint8).contiguous()
    bias = None if params.bias is None else params.bias.to(dtype).expand(n).contiguous()
    drive = x.contiguous() if x.dim() == 2 else x[:steps].contiguous()
    beta = params.beta.to(dtype).expand(n).contiguous()
    threshold = params.threshold.to(dtype).expand(n).contiguous()
    if bool((beta == beta[0]).all()) and bool((threshold == threshold[0]).all()):  # one value: pass scalars
        beta, threshold = beta[:1], threshold[:1]
    counts_step, counts_neuron, raster = module.simulate(
        v,
        refrac,
        trace.contiguous(),
        last,
        drive,
        beta,
        threshold,
        bias,
        syn.crow,
        _int32_columns(syn.col),
        syn.val.to(dtype).contiguous(),
        float(params.v_reset),
        int(params.refractory),
        float(params.trace_decay),
        steps,
        threads,
        min_neurons_per_thread,
        record_spikes,
    )
    new_state = ReservoirState(v, last.to(dtype), refrac, trace)
    return SimulationResult(new_state, counts_step, counts_neuron, raster if record_spikes else None, "native")


def _int32_columns(col: Tensor) -> Tensor:
    """``col`` as int32 (the simulator's layout), converted once per tensor and version and then reused."""
    key = (id(col), col._version)
    hit = _COLUMNS.get(key)
    if hit is not None and hit[0]() is col:  # the same live tensor, not one that reuses a freed id
        return hit[1]
    if col.numel() and int(col.max()) >= 2**31:
        raise ValueError("the native simulator supports at most 2^31 - 1 neurons")
    if len(_COLUMNS) >= 4:
        _COLUMNS.pop(next(iter(_COLUMNS)))
    _COLUMNS[key] = (weakref.ref(col), col.to(torch.int32))
    return _COLUMNS[key][1]


def _simulate_torch(
    x: Tensor, state: ReservoirState, params: ReservoirParams, steps: int, record_spikes: bool
) -> SimulationResult:
    """The fallback: a Python loop of :func:`reservoir_step` with the event propagation."""
    p = params._replace(method="event")
    counts_step = torch.zeros(steps, state.v.shape[0], dtype=torch.long)
    counts_neuron = torch.zeros(state.v.shape, dtype=torch.long)
    raster = torch.zeros(steps, *state.v.shape, dtype=torch.uint8) if record_spikes else None
    for t in range(steps):
        spikes, state = reservoir_step(x if x.dim() == 2 else x[t], state, p)
        counts_step[t] = spikes.sum(1).long()
        counts_neuron += spikes.long()
        if raster is not None:
            raster[t] = spikes.to(torch.uint8)
    return SimulationResult(state, counts_step, counts_neuron, raster, "torch")
