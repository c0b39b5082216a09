"""Stateless layers that NIR has and torch lacks: an elementwise :class:`Scale` and a :class:`SumPool2d`."""

from __future__ import annotations

import torch  # noqa: F401 - used by the doctests
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from neuromorph.utils import check_tensor


class Scale(nn.Module):
    """Elementwise gain ``y = x * scale`` (NIR ``Scale``); ``scale`` broadcasts against the trailing dims.

    >>> Scale(torch.tensor([2.0, 0.5]))(torch.ones(3, 2)).tolist()[0]
    [2.0, 0.5]
    """

    scale: Tensor  # buffer (registered in __init__)

    def __init__(self, scale: Tensor) -> None:
        super().__init__()
        check_tensor("scale", scale, floating=True, finite=True)
        self.register_buffer("scale", scale.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale.to(x.dtype)

    def extra_repr(self) -> str:
        return f"shape={tuple(self.scale.shape)}"


class SumPool2d(nn.Module):
    """Sum over each pooling window (NIR ``SumPool2d``): ``y = k_h k_w * avg_pool2d(x)`` with zero padding.

    >>> SumPool2d(2)(torch.ones(1, 1, 4, 4)).flatten().tolist()
    [4.0, 4.0, 4.0, 4.0]
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride) if stride is not None else self.kernel_size
        self.padding = _pair(padding)
        for name, value in (("kernel_size", self.kernel_size), ("stride", self.stride)):
            if not all(isinstance(v, int) and v >= 1 for v in value):
                raise ValueError(f"{name} must be positive ints, got {value!r}")
        if not all(isinstance(v, int) and v >= 0 for v in self.padding):
            raise ValueError(f"padding must be ints >= 0, got {self.padding!r}")

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.avg_pool2d(
            x, self.kernel_size, self.stride, self.padding, count_include_pad=True, divisor_override=1
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
