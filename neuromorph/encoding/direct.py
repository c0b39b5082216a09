"""Direct (current) coding: a static input fed as the same input current at every step.

``x [B, ...] -> [T, B, ...]`` with ``out[t] = x`` for ``t = 0..T-1`` (a broadcast view: no copy).

>>> import torch
>>> direct_encode(torch.tensor([[0.5, 1.0]]), 3).shape
torch.Size([3, 1, 2])
"""

from __future__ import annotations

from torch import Tensor

from neuromorph.utils import check_positive_int, check_tensor


def direct_encode(x: Tensor, num_steps: int) -> Tensor:
    """``x`` repeated over a new leading time axis of length ``num_steps`` (a view).

    >>> import torch
    >>> direct_encode(torch.tensor([[0.5, 1.0]]), 3)[:, 0].tolist()
    [[0.5, 1.0], [0.5, 1.0], [0.5, 1.0]]
    """
    check_tensor("x", x, floating=True, finite=True)
    num_steps = check_positive_int("num_steps", num_steps)
    return x.unsqueeze(0).expand(num_steps, *x.shape)
