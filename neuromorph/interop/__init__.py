"""Interoperability: NIR exchange (:func:`to_nir`, :func:`from_nir`) with snnTorch, Norse, SpikingJelly and
neuromorphic hardware toolchains.

``nir`` is an optional dependency (``pip install 'neuromorph[interop]'``); it is imported on first use of
:func:`to_nir`/:func:`from_nir`, so ``import neuromorph`` works without it.

>>> import torch
>>> from neuromorph import LIF
>>> from neuromorph.interop import from_nir, to_nir
>>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), LIF(0.9, reset="zero"))
>>> type(from_nir(to_nir(net, torch.zeros(1, 3)))).__name__
'GraphNet'
"""

from __future__ import annotations

from typing import Any

from neuromorph.interop.graph import GraphNet, topological_order
from neuromorph.interop.layers import Scale, SumPool2d


def to_nir(model: Any, sample_input: Any, dt: float = 1e-3) -> Any:
    """See :func:`neuromorph.interop.nir_exchange.to_nir`.

    >>> import torch
    >>> from neuromorph import LIF
    >>> graph = to_nir(torch.nn.Sequential(torch.nn.Linear(3, 2), LIF(0.9, reset="zero")), torch.zeros(1, 3))
    >>> sorted(type(node).__name__ for node in graph.nodes.values())
    ['Affine', 'Input', 'LIF', 'Output']
    """
    from neuromorph.interop.nir_exchange import to_nir as _to_nir

    return _to_nir(model, sample_input, dt=dt)


def from_nir(graph: Any, dt: float | None = None) -> GraphNet:
    """See :func:`neuromorph.interop.nir_exchange.from_nir`.

    >>> import torch
    >>> from neuromorph import LIF
    >>> graph = to_nir(torch.nn.Sequential(torch.nn.Linear(3, 2), LIF(0.9, reset="zero")), torch.zeros(1, 3))
    >>> from_nir(graph)(torch.rand(4, 1, 3)).shape
    torch.Size([4, 1, 2])
    """
    from neuromorph.interop.nir_exchange import from_nir as _from_nir

    return _from_nir(graph, dt=dt)


__all__ = ["GraphNet", "Scale", "SumPool2d", "from_nir", "to_nir", "topological_order"]
