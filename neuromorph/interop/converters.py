"""The one table of NIR converters, keyed by class: torch/neuromorph layer -> NIR nodes and back.

``EXPORTERS[type(module)](module, in_shape, dt) -> [nir nodes]`` (a chain; ``in_shape`` is the shape of one
sample at one time step, without batch) and ``IMPORTERS[type(node)](node, dt) -> nn.Module``. Lookup is by
exact class, never by ``isinstance``: a subclass may change the dynamics, so it must be registered on its
own (:func:`register_exporter` / :func:`register_importer`, e.g. from a neuron registry).

Neuron parameters follow :mod:`neuromorph.interop.mapping` (forward Euler, snnTorch's convention):

============================  =====================================================================
neuromorph                    NIR
============================  =====================================================================
``LIF(beta, threshold,        ``LIF(tau = dt/(1-beta), r = tau/dt, v_leak = 0, v_threshold = threshold,
reset="zero")``               v_reset = 0)``; ``delay=True`` adds ``Delay(dt)``
``LeakyIntegrator(beta)``     ``LI(tau = dt/(1-beta), r = tau/dt, v_leak = 0)``
``SynapticLIF(alpha, beta,    ``CubaLIF(tau_syn = dt/(1-alpha), tau_mem = dt/(1-beta), r = tau_mem/dt,
threshold, reset="zero")``    w_in = tau_syn/dt, v_leak = 0, v_threshold = threshold, v_reset = 0)``
============================  =====================================================================

NIR 1.0.8 neurons reset the membrane *to* ``v_reset``; a subtractive reset, no reset, or a refractory
penalty cannot be written and raises ``ValueError``. On import a node whose input gain (``r dt/tau``, and
``w_in dt/tau_syn`` for CubaLIF) is not 1 becomes ``Sequential(Scale(gain), neuron)``, which is exact;
``v_leak != 0`` or ``v_reset != 0`` raise.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from neuromorph.interop.layers import Scale, SumPool2d
from neuromorph.interop.mapping import decay_to_nir, is_unit, nir_to_decay
from neuromorph.neurons.integrator import LeakyIntegrator
from neuromorph.neurons.lif import LIF
from neuromorph.neurons.synaptic import SynapticLIF
from neuromorph.synapses.linear import SpikeLinear

try:
    import nir
except ModuleNotFoundError as err:  # pragma: no cover - exercised only without the extra
    raise ModuleNotFoundError(
        "NIR exchange needs the 'nir' package: pip install 'neuromorph[interop]' (or pip install nir==1.0.8)"
    ) from err

Shape = tuple[int, ...]
Exporter = Callable[[Any, Shape, float], list]
Importer = Callable[[Any, float], nn.Module]

EXPORTERS: dict[type, Exporter] = {}
IMPORTERS: dict[type, Importer] = {}


def register_exporter(*classes: type) -> Callable[[Exporter], Exporter]:
    """Decorator: use ``fn(module, in_shape, dt) -> list of NIR nodes`` for modules of exactly ``classes``.

    >>> class Double(nn.Module):
    ...     def forward(self, x):
    ...         return 2 * x
    >>> @register_exporter(Double)
    ... def export_double(module, in_shape, dt):
    ...     return [nir.Scale(np.full(in_shape, 2.0))]
    >>> EXPORTERS[Double] is export_double
    True
    >>> del EXPORTERS[Double]
    """

    def wrap(fn: Exporter) -> Exporter:
        for cls in classes:
            EXPORTERS[cls] = fn
        return fn

    return wrap


def register_importer(*classes: type) -> Callable[[Importer], Importer]:
    """Decorator: use ``fn(node, dt) -> nn.Module`` for NIR nodes of exactly ``classes``.

    >>> class TaggedScale(nir.Scale):
    ...     pass
    >>> @register_importer(TaggedScale)
    ... def import_tagged(node, dt):
    ...     return Scale(torch.as_tensor(node.scale, dtype=torch.float32))
    >>> IMPORTERS[TaggedScale] is import_tagged
    True
    >>> del IMPORTERS[TaggedScale]
    """

    def wrap(fn: Importer) -> Importer:
        for cls in classes:
            IMPORTERS[cls] = fn
        return fn

    return wrap


# -- helpers ---------------------------------------------------------------------------------------
def as_array(value: Any, dtype: type = np.float64) -> np.ndarray:
    """A NIR field (numpy array, torch tensor, list or number) as a numpy array.

    >>> as_array(torch.tensor([1, 2])).dtype, as_array(3.0).shape
    (dtype('float64'), ())
    """
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def per_neuron(value: Tensor, shape: Shape, name: str) -> np.ndarray:
    """A neuron parameter (scalar or per-neuron tensor) broadcast to the layer's step ``shape`` (float64).

    >>> per_neuron(torch.tensor(0.5), (2, 3), "beta").shape
    (2, 3)
    >>> per_neuron(torch.tensor([1.0, 2.0]), (2,), "threshold").tolist()
    [1.0, 2.0]
    """
    array = as_array(value)
    try:
        return np.broadcast_to(array, shape).copy()
    except ValueError:
        raise ValueError(f"{name} of shape {array.shape} does not broadcast to the layer shape {shape}") from None


def _weight(module: nn.Module, name: str) -> np.ndarray:
    return getattr(module, name).detach().cpu().numpy().copy()


def _check_zero_reset(module: Any) -> None:
    if module.reset_mode != "zero":
        raise ValueError(
            f"reset={module.reset_mode!r} cannot be written to NIR 1.0.8: its LIF/CubaLIF nodes reset the "
            "membrane to v_reset after a spike (reset='zero'); a subtractive or absent reset has no NIR "
            "encoding. Build the layer with reset='zero' to export it"
        )


def _neuron_shape(node: Any, fields: list[str]) -> Shape:
    shapes = [as_array(getattr(node, f)).shape for f in fields]
    return tuple(int(s) for s in np.broadcast_shapes(*shapes))


def _uniform_or_tensor(array: np.ndarray) -> float | Tensor:
    """A scalar when all entries are equal, else a float32 tensor."""
    flat = array.reshape(-1)
    if flat.size and bool(np.all(flat == flat[0])):
        return float(flat[0])
    return torch.as_tensor(np.array(array), dtype=torch.float32)


def _neuron_kwargs(shape: Shape, **params: np.ndarray) -> dict[str, Any]:
    """Constructor kwargs: scalars when every parameter is uniform, else per-neuron with ``num_neurons``."""
    values = {k: _uniform_or_tensor(np.broadcast_to(v, shape)) for k, v in params.items()}
    if any(isinstance(v, Tensor) for v in values.values()):
        if not shape:
            raise ValueError("per-neuron parameters need a neuron shape")
        return {**values, "num_neurons": shape}
    return values


def _require_zero(node: Any, field: str) -> None:
    value = getattr(node, field)
    if value is not None and not np.allclose(as_array(value), 0.0, rtol=0.0, atol=0.0):
        raise ValueError(
            f"{field} = {np.unique(as_array(value)).tolist()[:5]} is not supported (neuromorph "
            f"neurons have {field} = 0)"
        )


def _with_gain(gain: np.ndarray, shape: Shape, neuron: nn.Module) -> nn.Module:
    if is_unit(gain):
        return neuron
    return nn.Sequential(Scale(torch.as_tensor(np.broadcast_to(gain, shape).copy(), dtype=torch.float32)), neuron)


# -- stateless layers --------------------------------------------------------------------------------
@register_exporter(nn.Linear, SpikeLinear)
def _export_linear(module: nn.Linear, in_shape: Shape, dt: float) -> list:
    if module.bias is None:
        return [nir.Linear(weight=_weight(module, "weight"))]
    return [nir.Affine(weight=_weight(module, "weight"), bias=_weight(module, "bias"))]


@register_importer(nir.Affine, nir.Linear)
def _import_linear(node: Any, dt: float) -> nn.Module:
    weight = as_array(node.weight, np.float32)
    if weight.ndim != 2:
        raise ValueError(f"weight must be 2-D [out, in], got shape {weight.shape}")
    bias = getattr(node, "bias", None)
    module = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(weight))
        if bias is not None:
            module.bias.copy_(torch.from_numpy(as_array(bias, np.float32).reshape(-1)))
    return module


@register_exporter(nn.Conv2d)
def _export_conv2d(module: nn.Conv2d, in_shape: Shape, dt: float) -> list:
    if module.padding_mode != "zeros":
        raise ValueError(f"padding_mode={module.padding_mode!r} has no NIR encoding (only 'zeros')")
    if len(in_shape) != 3:
        raise ValueError(f"Conv2d expects a [C, H, W] step shape, got {in_shape}")
    bias = _weight(module, "bias") if module.bias is not None else np.zeros(module.out_channels, np.float32)
    return [
        nir.Conv2d(
            input_shape=tuple(in_shape[1:]),
            weight=_weight(module, "weight"),
            stride=module.stride,
            padding=module.padding,
            dilation=module.dilation,
            groups=module.groups,
            bias=bias,
        )
    ]


@register_importer(nir.Conv2d)
def _import_conv2d(node: Any, dt: float) -> nn.Module:
    weight = as_array(node.weight, np.float32)
    padding = node.padding if isinstance(node.padding, str) else tuple(int(p) for p in np.atleast_1d(node.padding))
    geometry: dict[str, Any] = dict(
        stride=tuple(int(s) for s in np.atleast_1d(node.stride)),
        padding=padding,
        dilation=tuple(int(d) for d in np.atleast_1d(node.dilation)),
    )
    module = nn.Conv2d(
        weight.shape[1] * int(node.groups),
        weight.shape[0],
        tuple(weight.shape[2:]),
        **geometry,
        groups=int(node.groups),
    )
    assert module.bias is not None  # bias=True
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(weight))
        module.bias.copy_(torch.from_numpy(as_array(node.bias, np.float32).reshape(-1)))
    return module


@register_exporter(nn.Flatten)
def _export_flatten(module: nn.Flatten, in_shape: Shape, dt: float) -> list:
    # torch counts the batch dim, NIR does not: NIR dim = torch dim - 1 (negative dims are the same)
    start, end = module.start_dim, module.end_dim
    if start == 0 or end == 0:
        raise ValueError("a Flatten over the batch dim (dim 0) has no NIR encoding")
    return [
        nir.Flatten(
            input_type={"input": np.array(in_shape)},
            start_dim=start - 1 if start > 0 else start,
            end_dim=end - 1 if end > 0 else end,
        )
    ]


@register_importer(nir.Flatten)
def _import_flatten(node: Any, dt: float) -> nn.Module:
    start, end = int(node.start_dim), int(node.end_dim)
    return nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)


def _pool_fields(kernel_size: Any, stride: Any, padding: Any) -> dict[str, np.ndarray]:
    pair = lambda v: np.array(nn.modules.utils._pair(v), dtype=np.int64)  # noqa: E731
    return {
        "kernel_size": pair(kernel_size),
        "stride": pair(stride if stride is not None else kernel_size),
        "padding": pair(padding),
    }


@register_exporter(SumPool2d)
def _export_sumpool(module: SumPool2d, in_shape: Shape, dt: float) -> list:
    return [nir.SumPool2d(**_pool_fields(module.kernel_size, module.stride, module.padding))]


@register_exporter(nn.AvgPool2d)
def _export_avgpool(module: nn.AvgPool2d, in_shape: Shape, dt: float) -> list:
    if module.ceil_mode or module.divisor_override is not None:
        raise ValueError("AvgPool2d with ceil_mode=True or divisor_override has no NIR encoding")
    fields = _pool_fields(module.kernel_size, module.stride, module.padding)
    if fields["padding"].any() and not module.count_include_pad:
        raise ValueError("AvgPool2d with padding and count_include_pad=False has no NIR encoding")
    return [nir.AvgPool2d(**fields)]


def _pool_args(node: Any) -> dict[str, Any]:
    return {
        k: tuple(int(v) for v in np.broadcast_to(as_array(getattr(node, k), np.int64), (2,)))
        for k in ("kernel_size", "stride", "padding")
    }


@register_importer(nir.SumPool2d)
def _import_sumpool(node: Any, dt: float) -> nn.Module:
    return SumPool2d(**_pool_args(node))


@register_importer(nir.AvgPool2d)
def _import_avgpool(node: Any, dt: float) -> nn.Module:
    return nn.AvgPool2d(**_pool_args(node), count_include_pad=True)


@register_exporter(Scale)
def _export_scale(module: Scale, in_shape: Shape, dt: float) -> list:
    return [nir.Scale(scale=per_neuron(module.scale, in_shape, "scale").astype(np.float32))]


@register_importer(nir.Scale)
def _import_scale(node: Any, dt: float) -> nn.Module:
    return Scale(torch.as_tensor(as_array(node.scale, np.float32)))


@register_exporter(nn.Identity, nn.Dropout)
def _export_identity(module: nn.Module, in_shape: Shape, dt: float) -> list:
    return []  # Dropout is the identity at inference time


# -- neurons -----------------------------------------------------------------------------------------
@register_exporter(LIF)
def _export_lif(module: LIF, in_shape: Shape, dt: float) -> list:
    _check_zero_reset(module)
    beta = per_neuron(module.beta(), in_shape, "beta")
    tau, r = decay_to_nir(beta, dt)
    zeros = np.zeros(in_shape)
    nodes = [
        nir.LIF(
            tau=tau,
            r=r,
            v_leak=zeros,
            v_threshold=per_neuron(module.threshold(), in_shape, "threshold"),
            v_reset=zeros.copy(),
        )
    ]
    if module.delay:
        nodes.append(nir.Delay(delay=np.full(in_shape, dt)))
    return nodes


@register_importer(nir.LIF)
def _import_lif(node: Any, dt: float) -> nn.Module:
    _require_zero(node, "v_leak")
    _require_zero(node, "v_reset")
    shape = _neuron_shape(node, ["tau", "r", "v_threshold"])
    beta, gain = nir_to_decay(node.tau, node.r, dt)
    kwargs = _neuron_kwargs(shape, beta=beta, threshold=as_array(node.v_threshold))
    return _with_gain(gain, shape, LIF(reset="zero", **kwargs))


@register_exporter(LeakyIntegrator)
def _export_li(module: LeakyIntegrator, in_shape: Shape, dt: float) -> list:
    tau, r = decay_to_nir(per_neuron(module.beta(), in_shape, "beta"), dt)
    return [nir.LI(tau=tau, r=r, v_leak=np.zeros(in_shape))]


@register_importer(nir.LI)
def _import_li(node: Any, dt: float) -> nn.Module:
    _require_zero(node, "v_leak")
    shape = _neuron_shape(node, ["tau", "r"])
    beta, gain = nir_to_decay(node.tau, node.r, dt)
    return _with_gain(gain, shape, LeakyIntegrator(**_neuron_kwargs(shape, beta=beta)))


@register_exporter(SynapticLIF)
def _export_cuba(module: SynapticLIF, in_shape: Shape, dt: float) -> list:
    _check_zero_reset(module)
    tau_syn, w_in = decay_to_nir(per_neuron(module.alpha(), in_shape, "alpha"), dt)
    tau_mem, r = decay_to_nir(per_neuron(module.beta(), in_shape, "beta"), dt)
    zeros = np.zeros(in_shape)
    return [
        nir.CubaLIF(
            tau_syn=tau_syn,
            tau_mem=tau_mem,
            r=r,
            v_leak=zeros,
            v_threshold=per_neuron(module.threshold(), in_shape, "threshold"),
            v_reset=zeros.copy(),
            w_in=w_in,
        )
    ]


@register_importer(nir.CubaLIF)
def _import_cuba(node: Any, dt: float) -> nn.Module:
    _require_zero(node, "v_leak")
    _require_zero(node, "v_reset")
    shape = _neuron_shape(node, ["tau_syn", "tau_mem", "r", "w_in", "v_threshold"])
    alpha, syn_gain = nir_to_decay(node.tau_syn, node.w_in, dt)
    beta, mem_gain = nir_to_decay(node.tau_mem, node.r, dt)
    # the current and membrane are linear before the threshold: both gains move onto the input
    kwargs = _neuron_kwargs(shape, alpha=alpha, beta=beta, threshold=as_array(node.v_threshold))
    return _with_gain(syn_gain * mem_gain, shape, SynapticLIF(reset="zero", **kwargs))
