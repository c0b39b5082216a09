"""Delta (send-on-change) coding with ON/OFF channels and its reconstruction.

The encoder keeps a reference ``r`` (start value ``r_0``, zeros by default) per element and, at every step
``t`` of a sequence ``x[t]``:

    d = x[t] - r
    on[t]  = 1 if d >=  theta else 0
    off[t] = 1 if d <= -theta else 0
    r <- r + theta * (on[t] - off[t])

so each spike means "the signal moved by one quantum ``theta`` up (ON) or down (OFF)". The decoder
integrates the quanta: ``x_hat[t] = r_0 + theta * sum_{k <= t} (on[k] - off[k])``, which equals the
encoder's reference. While the signal changes by at most ``theta`` per step, ``|x[t] - x_hat[t]| < theta``
after the first crossing; faster changes are followed at one quantum per step (slew-rate limit).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from neuromorph.utils import check_tensor


def _check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    return float(threshold)


def _initial(name: str, initial: Tensor | None, like: Tensor) -> Tensor:
    if initial is None:
        return torch.zeros_like(like)
    check_tensor(name, initial, floating=True, finite=True)
    try:
        return torch.broadcast_to(initial.to(like.dtype), like.shape).clone()
    except RuntimeError as err:
        raise ValueError(
            f"{name} of shape {tuple(initial.shape)} does not broadcast to one step {tuple(like.shape)}"
        ) from err


def delta_encode(x_seq: Tensor, threshold: float, initial: Tensor | None = None) -> Tensor:
    """Encode a sequence ``[T, ...]`` into ON/OFF spikes ``[T, ..., 2]`` (channel 0 = ON, 1 = OFF).

    >>> spikes = delta_encode(torch.tensor([0.0, 0.6, 0.0]), threshold=0.5)
    >>> spikes.tolist()          # [ON, OFF] per step
    [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    """
    check_tensor("x_seq", x_seq, floating=True, finite=True)
    if x_seq.dim() < 1 or x_seq.shape[0] < 1:
        raise ValueError(f"x_seq must be [T, ...] with T >= 1, got shape {tuple(x_seq.shape)}")
    theta = _check_threshold(threshold)
    ref = _initial("initial", initial, x_seq[0])
    out = x_seq.new_zeros((*x_seq.shape, 2))
    for t in range(x_seq.shape[0]):
        d = x_seq[t] - ref
        on = (d >= theta).to(x_seq.dtype)
        off = (d <= -theta).to(x_seq.dtype)
        ref = ref + theta * (on - off)
        out[t, ..., 0] = on
        out[t, ..., 1] = off
    return out


def delta_decode(spikes: Tensor, threshold: float, initial: Tensor | None = None) -> Tensor:
    """Reconstruct ``[T, ...]`` from ON/OFF spikes ``[T, ..., 2]``: ``r_0 + theta * cumsum(on - off)``.

    >>> x = torch.tensor([0.0, 1.0, 1.0, 0.0])
    >>> delta_decode(delta_encode(x, threshold=0.5), threshold=0.5).tolist()
    [0.0, 0.5, 1.0, 0.5]
    """
    check_tensor("spikes", spikes, floating=True)
    if spikes.dim() < 2 or spikes.shape[-1] != 2:
        raise ValueError(f"spikes must be [T, ..., 2] (ON, OFF channels), got shape {tuple(spikes.shape)}")
    theta = _check_threshold(threshold)
    ref = _initial("initial", initial, spikes[0, ..., 0])
    return ref + theta * torch.cumsum(spikes[..., 0] - spikes[..., 1], dim=0)


class DeltaEncoder(nn.Module):
    """Module form of :func:`delta_encode` (``[T, B, ...] -> [T, B, ..., 2]``).

    >>> spikes = DeltaEncoder(threshold=0.5)(torch.tensor([[0.0], [1.0], [0.0]]))
    >>> spikes.shape, spikes[:, 0, 0].tolist()
    (torch.Size([3, 1, 2]), [0.0, 1.0, 0.0])
    """

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = _check_threshold(threshold)

    def forward(self, x_seq: Tensor, initial: Tensor | None = None) -> Tensor:
        return delta_encode(x_seq, self.threshold, initial)

    def decode(self, spikes: Tensor, initial: Tensor | None = None) -> Tensor:
        return delta_decode(spikes, self.threshold, initial)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"
