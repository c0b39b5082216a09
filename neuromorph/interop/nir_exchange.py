"""Export to and import from NIR, the Neuromorphic Intermediate Representation (``nir`` 1.0.8).

:func:`to_nir` walks an ``nn.Sequential`` (nested ones included), a :class:`~neuromorph.interop.GraphNet` or
a single supported layer, converts every layer through the class-keyed table of
:mod:`neuromorph.interop.converters` and returns a type-checked ``nir.NIRGraph`` whose metadata records
``dt``. :func:`from_nir` turns a graph (or a ``.nir`` file) back into a :class:`GraphNet` running on
``[T, B, ...]``. Anything the other side cannot express raises a ``ValueError`` naming the layer or node;
nothing is approximated.

>>> import torch
>>> from neuromorph import LIF, LeakyIntegrator
>>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), LIF(0.9, reset="zero"), torch.nn.Linear(8, 2),
...                           LeakyIntegrator(0.8))
>>> graph = to_nir(net, torch.zeros(1, 4), dt=1e-3)
>>> sorted(type(n).__name__ for n in graph.nodes.values())
['Affine', 'Affine', 'Input', 'LI', 'LIF', 'Output']
>>> back = from_nir(graph)
>>> x = torch.rand(50, 3, 4)
>>> torch.allclose(back(x), net(x), atol=1e-5)
True
"""

from __future__ import annotations

import os
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from neuromorph.interop.converters import EXPORTERS, IMPORTERS, as_array, nir
from neuromorph.interop.graph import GraphNet, topological_order
from neuromorph.interop.mapping import check_dt
from neuromorph.neurons.base import SpikingModule
from neuromorph.neurons.lif import LIF
from neuromorph.utils import check_tensor

#: NIR node types that need a time step to be read.
_TIMED = (nir.LIF, nir.LI, nir.CubaLIF, nir.Delay)


def _supported(table: dict) -> str:
    return ", ".join(sorted({cls.__name__ for cls in table}))


def _leaves(name: str, module: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, layer)`` chain of a layer or a (nested) ``nn.Sequential``; children named ``name.i``."""
    if isinstance(module, nn.Sequential):
        out: list[tuple[str, nn.Module]] = []
        for child_name, child in module.named_children():
            out += _leaves(f"{name}.{child_name}" if name else child_name, child)
        return out
    return [(name, module)]


def _as_graph(model: nn.Module) -> tuple[list[tuple[str, nn.Module]], list[tuple[str, str]]]:
    """The model as layers in execution order and edges between layer names, ``"input"`` and ``"output"``."""
    if isinstance(model, GraphNet):
        layers: list[tuple[str, nn.Module]] = []
        edges: list[tuple[str, str]] = []
        entry, exit_ = {model.input_name: "input"}, {model.output_name: "output"}
        for node, module in model.named_layers():
            chain = _leaves(node, module) if isinstance(module, nn.Sequential) else [(node, module)]
            if not chain:
                chain = [(node, nn.Identity())]
            layers += chain
            edges += [(a, b) for (a, _), (b, _) in zip(chain[:-1], chain[1:])]
            entry[node], exit_[node] = chain[0][0], chain[-1][0]
        edges += [(exit_[a] if a in exit_ else entry[a], entry[b] if b in entry else exit_[b]) for a, b in model.edges]
        return layers, edges
    chain = _leaves("", model) if isinstance(model, nn.Sequential) else [(type(model).__name__.lower(), model)]
    names = ["input", *(n for n, _ in chain), "output"]
    return chain, list(zip(names[:-1], names[1:]))


def to_nir(model: nn.Module, sample_input: Tensor, dt: float = 1e-3) -> Any:
    """Convert ``model`` to a ``nir.NIRGraph``.

    Args:
        model: an ``nn.Sequential`` (nested allowed), a :class:`GraphNet` or one layer, built from the layers
            listed in :mod:`neuromorph.interop.converters`.
        sample_input: one time step of input, ``[B, *features]`` (only its shape is used).
        dt: time step in seconds that the continuous NIR parameters refer to (snnTorch writes ``1e-4``,
            Norse ``1e-3``); stored as ``graph.metadata["dt"]``.

    Raises ``TypeError`` for a layer without converter and ``ValueError`` (naming the layer) for settings NIR
    cannot express, e.g. a subtractive reset.

    >>> import torch
    >>> from neuromorph import LIF
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), LIF(0.5, reset="zero"))
    >>> graph = to_nir(net, torch.zeros(1, 3), dt=1e-3)
    >>> lif = next(node for node in graph.nodes.values() if type(node).__name__ == "LIF")
    >>> [round(float(v), 6) for v in (lif.tau[0], lif.r[0], lif.v_threshold[0])]
    [0.002, 2.0, 1.0]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    check_tensor("sample_input", sample_input, floating=True, finite=True)
    if sample_input.dim() < 2:
        raise ValueError(f"sample_input must be one time step [B, *features], got shape {tuple(sample_input.shape)}")
    dt = check_dt(dt)
    layers, edges = _as_graph(model)
    order = topological_order(["input", *(n for n, _ in layers), "output"], edges)
    modules = dict(layers)
    preds = {n: [a for a, b in edges if b == n] for n in order}

    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array(sample_input.shape[1:]))}
    nir_edges: list[tuple[str, str]] = []
    values: dict[str, Tensor] = {"input": sample_input.detach()}
    exits: dict[str, list[str]] = {"input": ["input"]}
    with torch.no_grad():
        for name in order[1:]:
            x = values[preds[name][0]]
            for other in preds[name][1:]:
                x = x + values[other]
            sources = [e for p in preds[name] for e in exits[p]]
            if name == "output":
                nodes["output"] = nir.Output(output_type=np.array(x.shape[1:]))
                nir_edges += [(s, "output") for s in sources]
                break
            module = modules[name]
            exporter = EXPORTERS.get(type(module))
            if exporter is None:
                raise TypeError(
                    f"layer {name!r} ({type(module).__name__}) has no NIR converter; supported: "
                    f"{_supported(EXPORTERS)}, nn.Sequential, GraphNet"
                )
            try:
                exported = exporter(module, tuple(x.shape[1:]), dt)
            except ValueError as err:
                raise ValueError(f"layer {name!r} ({type(module).__name__}): {err}") from None
            values[name] = x if isinstance(module, SpikingModule) else module(x)
            node_names = [name] + [f"{name}_{i}" for i in range(1, len(exported))]
            for node_name, node in zip(node_names, exported):
                nodes[node_name] = node
                nir_edges += [(s, node_name) for s in sources]
                sources = [node_name]
            exits[name] = sources
    return nir.NIRGraph(nodes=nodes, edges=nir_edges, metadata={"dt": dt, "source": "neuromorph"})


def _fold_delays(nodes: dict[str, Any], edges: list[tuple[str, str]], dt: float | None) -> set[str]:
    """Remove every ``Delay(dt)`` that is the only successor of a LIF node; return those LIF names.

    A LIF followed by a one-step delay is ``LIF(delay=True)``; any other Delay node raises."""
    delayed: set[str] = set()
    for name in [n for n, node in nodes.items() if isinstance(node, nir.Delay)]:
        preds = [a for a, b in edges if b == name]
        src = preds[0] if len(preds) == 1 else None
        only_child = src is not None and [b for a, b in edges if a == src] == [name]
        one_step = dt is not None and np.allclose(as_array(nodes[name].delay), dt, rtol=1e-6, atol=0.0)
        if not (src is not None and isinstance(nodes[src], nir.LIF) and only_child and one_step):
            raise ValueError(
                f"NIR node {name!r} (Delay): only a delay of exactly one step (dt={dt}) directly "
                "after a LIF node can be expressed (as LIF(delay=True))"
            )
        delayed.add(src)
        del nodes[name]
        edges[:] = [(src, b) if a == name else (a, b) for a, b in edges if b != name]
    return delayed


def _set_delay(module: nn.Module) -> None:
    lif = module[-1] if isinstance(module, nn.Sequential) else module
    assert isinstance(lif, LIF)
    lif.delay = True


def from_nir(graph: Any, dt: float | None = None) -> GraphNet:
    """Build a :class:`GraphNet` from a ``nir.NIRGraph`` or the path of a ``.nir`` file.

    Args:
        graph: the graph (feed-forward, one Input and one Output node).
        dt: time step in seconds used to turn ``tau`` into a per-step decay ``beta = 1 - dt/tau``; defaults to
            ``graph.metadata["dt"]`` (written by :func:`to_nir`). Graphs from other tools carry no ``dt``:
            pass the one they were exported with (Norse 1.1 needs ``dt**2``, see docs/interop.md).

    Raises ``ValueError`` naming the node for anything neuromorph cannot express (a reset to a non-zero
    potential, a leak voltage, recurrent edges, nested subgraphs, ``dt >= tau``, an unknown node type).

    >>> import torch
    >>> from neuromorph import LIF
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), LIF(0.9, reset="zero"))
    >>> back = from_nir(to_nir(net, torch.zeros(1, 3)))
    >>> x = torch.rand(10, 2, 3)
    >>> torch.equal(back(x), net(x))
    True
    """
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or a path to a .nir file, got {type(graph).__name__}")
    if dt is None and "dt" in (graph.metadata or {}):
        dt = float(np.asarray(graph.metadata["dt"]))
    nodes = dict(graph.nodes)
    timed = sorted(n for n, node in nodes.items() if isinstance(node, _TIMED))
    if dt is None and timed:
        raise ValueError(
            f"the graph has neuron/delay nodes {timed[:5]} but no 'dt' in its metadata: pass "
            "from_nir(graph, dt=...) with the time step it was exported with"
        )
    if dt is not None:
        dt = check_dt(dt)
    edges = [(str(a), str(b)) for a, b in graph.edges]
    inputs = sorted(n for n, node in nodes.items() if isinstance(node, nir.Input))
    outputs = sorted(n for n, node in nodes.items() if isinstance(node, nir.Output))
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"the graph must have exactly one Input and one Output node, got inputs {inputs} and outputs {outputs}"
        )
    delayed = _fold_delays(nodes, edges, dt)
    layers: dict[str, nn.Module] = {}
    for name, node in nodes.items():
        if name in inputs or name in outputs:
            continue
        if isinstance(node, nir.NIRGraph):
            raise ValueError(
                f"NIR node {name!r} is a nested subgraph (e.g. a recurrent layer); only flat "
                "feed-forward graphs are supported"
            )
        importer = IMPORTERS.get(type(node))
        if importer is None:
            raise ValueError(
                f"NIR node {name!r} has type {type(node).__name__}, which neuromorph cannot "
                f"express; supported: {_supported(IMPORTERS)}, Delay (one step after a LIF)"
            )
        try:
            layers[name] = importer(node, cast(float, dt))  # None only when no node is timed (none reads it)
        except (ValueError, TypeError) as err:
            raise ValueError(f"NIR node {name!r} ({type(node).__name__}): {err}") from None
        if name in delayed:
            _set_delay(layers[name])
    return GraphNet(layers, edges, input_name=inputs[0], output_name=outputs[0])
