"""A network given as a directed acyclic graph of layers, run on multi-step input ``[T, B, ...]``.

:func:`neuromorph.interop.from_nir` returns a :class:`GraphNet`. Each node holds one module; a node's input
is the sum of its predecessors' outputs (NIR's rule for several incoming edges). Spiking layers
(:class:`~neuromorph.SpikingModule`) see the whole sequence and run their fused kernels; every other
module runs on all ``T*B`` rows at once.

>>> import torch
>>> from neuromorph import LIF
>>> net = GraphNet({"fc": torch.nn.Linear(3, 2), "lif": LIF(0.9, reset="zero")},
...                [("input", "fc"), ("fc", "lif"), ("lif", "output")])
>>> net(torch.ones(5, 4, 3)).shape
torch.Size([5, 4, 2])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import Tensor, nn

from neuromorph.models._recording import seq_apply
from neuromorph.neurons.base import SpikingModule, reset
from neuromorph.utils import check_tensor


def topological_order(names: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """Order ``names`` so that every edge points forward; raise ``ValueError`` naming the nodes on a cycle.

    >>> topological_order(["b", "a"], [("a", "b")])
    ['a', 'b']
    """
    names = list(names)
    successors: dict[str, list[str]] = {n: [] for n in names}
    indegree = dict.fromkeys(names, 0)
    for src, dst in edges:
        for end in (src, dst):
            if end not in successors:
                raise ValueError(f"edge ({src!r}, {dst!r}) names an unknown node {end!r}")
        successors[src].append(dst)
        indegree[dst] += 1
    ready = [n for n in names if indegree[n] == 0]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for nxt in successors[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    if len(order) != len(names):
        cyclic = {n for n in names if indegree[n] > 0}
        while True:  # drop nodes merely downstream of a cycle: what is left lies on one
            sinks = {n for n in cyclic if not any(s in cyclic for s in successors[n])}
            if not sinks:
                break
            cyclic -= sinks
        raise ValueError(
            f"the graph has a cycle (recurrent connection) through nodes {sorted(cyclic)}; only "
            "feed-forward graphs are supported"
        )
    return order


def run_layer(module: nn.Module, x: Tensor) -> Tensor:
    """Apply one node's module to ``[T, B, ...]``: spiking layers see the sequence, others all rows at once.

    >>> import torch
    >>> from neuromorph import LIF
    >>> run_layer(torch.nn.Linear(3, 2), torch.ones(5, 4, 3)).shape, run_layer(LIF(), torch.ones(5, 4, 3)).shape
    (torch.Size([5, 4, 2]), torch.Size([5, 4, 3]))
    """
    if isinstance(module, SpikingModule):
        return module(x)
    if isinstance(module, nn.Sequential):
        for child in module:
            x = run_layer(child, x)
        return x
    return seq_apply(module, x)


class GraphNet(nn.Module):
    """Feed-forward graph of layers between one ``"input"`` and one ``"output"`` node (module docstring).

    Args:
        layers: node name -> module (``nn.Sequential`` runs its children in order).
        edges: ``(source, target)`` pairs over the layer names plus ``input_name`` and ``output_name``.
        input_name / output_name: names of the graph's entry and exit.

    ``forward(x [T, B, ...]) -> [T, B, ...]``; the state of the spiking layers carries over between calls
    until :meth:`reset` (or :func:`neuromorph.reset`).

    >>> import torch
    >>> from neuromorph import LIF
    >>> net = GraphNet({"a": torch.nn.Linear(3, 2), "b": torch.nn.Linear(3, 2), "lif": LIF(0.9)},
    ...                [("input", "a"), ("input", "b"), ("a", "lif"), ("b", "lif"), ("lif", "output")])
    >>> net.order, net(torch.ones(5, 4, 3)).shape        # "lif" receives a + b
    (['a', 'b', 'lif'], torch.Size([5, 4, 2]))
    """

    def __init__(
        self,
        layers: Mapping[str, nn.Module],
        edges: Iterable[tuple[str, str]],
        input_name: str = "input",
        output_name: str = "output",
    ) -> None:
        super().__init__()
        edges = [(str(a), str(b)) for a, b in edges]
        if input_name in layers or output_name in layers:
            raise ValueError(f"layer names must differ from input_name {input_name!r} and output_name {output_name!r}")
        for name, module in layers.items():
            if not isinstance(module, nn.Module):
                raise TypeError(f"layer {name!r} must be an nn.Module, got {type(module).__name__}")
        order = topological_order([input_name, *layers, output_name], edges)
        self.predecessors = {n: [a for a, b in edges if b == n] for n in [*layers, output_name]}
        for name, preds in self.predecessors.items():
            if not preds:
                raise ValueError(f"node {name!r} has no incoming edge")
        if any(a == output_name for a, _ in edges) or any(b == input_name for _, b in edges):
            raise ValueError("edges may not leave the output node or enter the input node")
        self.order = [n for n in order if n in layers]
        self.input_name, self.output_name = input_name, output_name
        self.edges = edges
        self.keys = {name: f"n{i}_{name.replace('.', '_')}" for i, name in enumerate(layers)}
        self.layers = nn.ModuleDict({self.keys[name]: module for name, module in layers.items()})

    def layer(self, name: str) -> nn.Module:
        """The module of node ``name``."""
        return self.layers[self.keys[name]]

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        """``(node name, module)`` in execution order."""
        return [(name, self.layer(name)) for name in self.order]

    def reset(self) -> None:
        """Reset the state of every spiking layer."""
        reset(self)

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x, floating=True)
        if x.dim() < 3:
            raise ValueError(f"x must be a sequence [T, B, ...] with at least 3 dims, got shape {tuple(x.shape)}")
        values = {self.input_name: x}
        for name in [*self.order, self.output_name]:
            preds = self.predecessors[name]
            h = values[preds[0]]
            for other in preds[1:]:
                h = h + values[other]
            values[name] = h if name == self.output_name else run_layer(self.layer(name), h)
        return values[self.output_name]
