"""Byte copies of spike tensors, handed from a spiking layer to the synapses that consume its spikes.

The compiled LIF kernel writes every spike twice: as float (the layer's output) and as ``uint8``. It tags
the float output with the byte copy and the output's autograd version counter; :class:`SpikeLinear` stores
the byte copy for its backward instead of converting the spikes again. The tag is ignored when the tensor was
modified in place since (its version counter moved on).
"""

from __future__ import annotations

from torch import Tensor

_ATTR = "_neuromorph_spikes_u8"


def tag_compact_spikes(spikes: Tensor, spikes_u8: Tensor) -> None:
    """Attach ``spikes_u8`` (same shape, 0/1 bytes) to ``spikes`` (not to inference-mode tensors, which keep no
    version counter).

    >>> import torch
    >>> spikes = torch.tensor([0.0, 1.0])
    >>> tag_compact_spikes(spikes, spikes.to(torch.uint8))
    >>> tagged_compact_spikes(spikes).tolist()
    [0, 1]
    """
    if spikes.is_inference():
        return
    setattr(spikes, _ATTR, (spikes_u8, spikes._version))


def tagged_compact_spikes(x: Tensor) -> Tensor | None:
    """The byte copy attached to ``x`` by :func:`tag_compact_spikes`, if still valid. A contiguous view of
    the whole of a tagged tensor (e.g. ``spikes.flatten(0, 1)``) gets the tag reshaped alike.

    >>> import torch
    >>> spikes = torch.tensor([1.0, 0.0])
    >>> tag_compact_spikes(spikes, spikes.to(torch.uint8))
    >>> tagged_compact_spikes(spikes) is not None
    True
    >>> spikes.add_(1)   # an in-place change invalidates the byte copy
    tensor([2., 1.])
    >>> tagged_compact_spikes(spikes) is None
    True
    """
    if x.is_inference():
        return None
    tag = getattr(x, _ATTR, None)
    if tag is None:
        base = x._base
        if base is None:
            return None
        tag = getattr(base, _ATTR, None)
        whole = (
            x.dtype == base.dtype
            and x.numel() == base.numel()
            and x.data_ptr() == base.data_ptr()
            and x.is_contiguous()
            and base.is_contiguous()
        )
        if not whole or tag is None or tag[1] != base._version or tag[0].shape != base.shape:
            return None
        return tag[0].reshape(x.shape)
    if tag[1] != x._version or tag[0].shape != x.shape:
        return None
    return tag[0]
