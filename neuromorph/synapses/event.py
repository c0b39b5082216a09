"""Event-driven synapses: binary spikes consumed as events instead of a dense float GEMM (inference, CPU).

For a binary input row ``s`` (0/1) the dense product ``y = s W^T + b`` only sums the weight columns of the
inputs that spiked:

    y[r, :] = b + sum_{i : s[r, i] = 1} W[:, i]            (the terms added in increasing i)

The compiled kernel (:mod:`neuromorph.neurons.native`) turns each row into a list of its active inputs (one
pass over the spikes as bytes) and accumulates the matching rows of a cached ``W^T`` ([F_in, F_out],
contiguous), a tile of outputs at a time in registers. Work: ``nnz * F_out`` additions against the dense
``R * F_in * F_out`` multiply-adds, so it pays off below a spike rate that depends on how efficient the GEMM is
at ``R`` rows (a GEMM on few rows is memory bound, on many rows compute bound).

The choice is made per call by the *measured* rate ``nnz / (R * F_in)`` of the input against
:func:`crossover_rate` (``R``), a table measured with ``python benchmarks/event_inference.py --crossover``
(see docs/speed.md); :func:`set_crossover_rates` replaces it with your own measurement. Calls smaller than
``MIN_EVENT_WORK`` multiply-adds and layers with fewer than ``MIN_EVENT_OUTPUTS`` outputs stay dense. Results equal the
dense ones up to float rounding (a different order of additions); they are bit-identical whenever every
partial sum is exact (e.g. weights on a coarse dyadic grid).

>>> import torch
>>> w, b = torch.tensor([[1., 2., 3.], [4., 5., 6.]]), torch.tensor([0.5, -0.5])
>>> event_linear(torch.tensor([[1., 0., 1.]]), w, b)
tensor([[4.5000, 9.5000]])
"""

from __future__ import annotations

import bisect
import math
from types import ModuleType

import torch
from torch import Tensor

# Crossover spike rate per number of rows (R = time steps x batch of one layer call) below which the event
# path beats the float GEMM: the smaller crossover of the 784->800 and 1024->1024 layers, float32, 1 thread,
# median of 5 interleaved rounds on the 2-core test machine under load (rows 1 / 20 / 320 / 5120 = one step,
# T=20 at batch 1 / 16 / 256); command: ``python benchmarks/event_inference.py --crossover --threads 1``.
_DEFAULT_CROSSOVER: dict[int, float] = {1: 0.68, 20: 0.26, 320: 0.25, 5120: 0.32}
_CROSSOVER: dict[int, float] = dict(_DEFAULT_CROSSOVER)
MODES = ("auto", "event", "dense")
_FLOATS = (torch.float32, torch.float64)
# Below this many multiply-adds (rows x F_in x F_out) a call stays dense under "auto": the GEMM takes
# microseconds and the event path's fixed cost (byte check, index lists) dominates (800->10 on 1 row: 2x).
MIN_EVENT_WORK = 1 << 18
# Layers with fewer outputs stay dense under "auto": a weight row shorter than one register tile (64 floats)
# is gathered at scalar speed (800->10 measured 1.3-5x slower than its GEMM at every rate).
MIN_EVENT_OUTPUTS = 64


def crossover_rate(rows: int) -> float:
    """Spike rate below which the event path is chosen for a call on ``rows`` rows (log-linear in rows).

    >>> 0.0 < crossover_rate(256) <= 1.0
    True
    """
    if rows in _CROSSOVER:
        return _CROSSOVER[rows]
    keys = sorted(_CROSSOVER)
    if rows <= keys[0]:
        return _CROSSOVER[keys[0]]
    if rows >= keys[-1]:
        return _CROSSOVER[keys[-1]]
    j = bisect.bisect_left(keys, rows)
    lo, hi = keys[j - 1], keys[j]
    w = (math.log(rows) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (1 - w) * _CROSSOVER[lo] + w * _CROSSOVER[hi]


def set_crossover_rates(rates: dict[int, float] | None) -> None:
    """Replace the crossover table ``{rows: rate}`` (``None`` restores the shipped measurement).

    >>> set_crossover_rates({1: 0.2, 1000: 0.1})
    >>> round(crossover_rate(1), 3), round(crossover_rate(5000), 3)
    (0.2, 0.1)
    >>> set_crossover_rates(None)   # back to the shipped measurement
    """
    if rates is None:
        _CROSSOVER.clear()
        _CROSSOVER.update(_DEFAULT_CROSSOVER)
        return
    if not isinstance(rates, dict) or not rates:
        raise TypeError(f"rates must be a non-empty dict {{rows: rate}} or None, got {rates!r}")
    for rows, rate in rates.items():
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ValueError(f"rates keys must be positive ints (rows), got {rows!r}")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"rates values must be spike rates in [0, 1], got {rate!r} for {rows} rows")
    _CROSSOVER.clear()
    _CROSSOVER.update({int(k): float(v) for k, v in rates.items()})


def crossover_rates() -> dict[int, float]:
    """The crossover table in use, ``{rows: rate}``.

    >>> table = crossover_rates()
    >>> all(isinstance(rows, int) and 0.0 <= rate <= 1.0 for rows, rate in table.items())
    True
    """
    return dict(_CROSSOVER)


# the module neuromorph.neurons.native once imported (importing it at load time is circular)
_NATIVE: list[ModuleType] = []


def _kernel():
    if not _NATIVE:
        from neuromorph.neurons import native

        _NATIVE.append(native)
    return _NATIVE[0].load()


def _prepared(weight: Tensor, bias: Tensor | None, cache: dict | None) -> tuple[Tensor, Tensor]:
    """``(W^T contiguous, bias contiguous or empty)``, kept in ``cache`` until either is replaced or modified
    in place."""
    key = (
        weight.data_ptr(),
        weight._version,
        weight.dtype,
        weight.shape,
        None if bias is None else (bias.data_ptr(), bias._version, bias.dtype),
    )
    if cache is not None and cache.get("key") == key:
        return cache["weight_t"], cache["bias"]
    weight_t = weight.detach().t().contiguous()
    b = bias.detach().contiguous() if bias is not None else torch.empty(0, dtype=weight.dtype)
    if cache is not None:
        cache["key"], cache["weight_t"], cache["bias"] = key, weight_t, b
    return weight_t, b


def _as_bytes(x2: Tensor, tagged: Tensor | None, kernel) -> Tensor | None:
    """``x2`` [R, F] as 0/1 bytes, or ``None`` when it is not binary."""
    if tagged is not None:
        return tagged.reshape(x2.shape)
    x_u8, binary = kernel.compact_binary(x2)
    return x_u8 if binary else None


def try_event_linear(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    mode: str = "auto",
    weight_cache: dict | None = None,
    tagged_bytes: Tensor | None = None,
) -> tuple[Tensor | None, float | None]:
    """The event path's output for ``x [..., F_in]`` when it applies, else ``(None, rate or None)``.

    Applies when the compiled kernel is available, ``x`` is a CPU float32/float64 tensor holding only 0/1
    with ``weight``'s dtype, and (``mode="auto"``) its measured spike rate is at most
    :func:`crossover_rate` of its row count; ``mode="event"`` skips the rate test. Returns ``(y, rate)``.
    ``tagged_bytes`` is a 0/1 byte copy of ``x`` already at hand (from the LIF kernel), which saves a pass.

    >>> w = torch.eye(3)
    >>> y, rate = try_event_linear(torch.tensor([[1.0, 0.0, 0.0]]), w, None, mode="event")
    >>> y is None or y.tolist() == [[1.0, 0.0, 0.0]]
    True
    >>> try_event_linear(torch.ones(1, 3), w, None, mode="dense")
    (None, None)
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    numel = x.numel()
    if mode == "dense" or x.device.type != "cpu" or x.dtype not in _FLOATS or x.dtype != weight.dtype or numel == 0:
        return None, None
    if mode == "auto" and (weight.shape[0] < MIN_EVENT_OUTPUTS or numel * weight.shape[0] < MIN_EVENT_WORK):
        return None, None
    kernel = _kernel()
    if kernel is None:
        return None, None
    x2 = x.reshape(-1, x.shape[-1])
    if not x2.is_contiguous():
        x2 = x2.contiguous()
    spikes = _as_bytes(x2, tagged_bytes, kernel)
    if spikes is None:
        return None, None
    max_rate = 1.0 if mode == "event" else crossover_rate(x2.shape[0])
    weight_t, b = _prepared(weight, bias, weight_cache)
    y, nnz = kernel.event_linear(spikes, weight_t, b, max_rate)
    rate = nnz / numel
    if y is None:
        return None, rate
    return y.reshape(*x.shape[:-1], weight.shape[0]), rate


def event_linear(spikes: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``spikes W^T + b`` by the event path, for binary ``spikes [..., F_in]`` (no autograd).

    Raises ``ValueError`` when ``spikes`` is not 0/1 or the shapes do not match, ``TypeError`` for dtypes
    other than float32/float64 or mismatched ones. Without the compiled kernel it falls back to the dense
    product (same values up to rounding).

    >>> w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> event_linear(torch.tensor([[0.0, 1.0]]), w).tolist()
    [[2.0, 4.0]]
    """
    for name, t in (("spikes", spikes), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if spikes.dtype not in (torch.float32, torch.float64) or spikes.dtype != weight.dtype:
        raise TypeError(f"spikes and weight must share a float32/float64 dtype, got {spikes.dtype} and {weight.dtype}")
    if weight.dim() != 2 or spikes.dim() < 1 or spikes.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"spikes must be [..., {weight.shape[-1] if weight.dim() else '?'}] for a weight of "
            f"shape [F_out, F_in], got spikes {tuple(spikes.shape)} and weight {tuple(weight.shape)}"
        )
    if bias is not None and (bias.shape != (weight.shape[0],) or bias.dtype != weight.dtype):
        raise ValueError(
            f"bias must be [{weight.shape[0]}] of dtype {weight.dtype}, got {tuple(bias.shape)} {bias.dtype}"
        )
    if not bool(((spikes == 0) | (spikes == 1)).all()):
        raise ValueError("spikes must hold only 0 and 1")
    with torch.no_grad():
        y, _ = try_event_linear(spikes, weight, bias, mode="event")
        if y is None:
            y = torch.nn.functional.linear(spikes, weight, bias)
    return y
