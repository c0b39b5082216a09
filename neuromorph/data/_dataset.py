"""The split-dataset container shared by the image loaders."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ImageDataset:
    """Train/test (and optional validation) tensors of one image classification data set.

    ``x_*`` are float32 in ``[0, 1]`` shaped ``[n, H*W]`` (``flatten=True``) or ``[n, 1, H, W]``;
    ``y_*`` are int64 class indices.

    >>> ds = ImageDataset("toy", torch.zeros(4, 4), torch.tensor([0, 1, 0, 1]), torch.zeros(2, 4), torch.tensor([0, 1]),
    ...                   image_shape=(1, 2, 2), num_classes=2)
    >>> ds.num_features, ds.subset(train=2).x_train.shape
    (4, torch.Size([2, 4]))
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    image_shape: tuple[int, int, int]
    num_classes: int
    x_valid: Tensor | None = None
    y_valid: Tensor | None = None

    @property
    def num_features(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    def subset(self, train: int | None = None, test: int | None = None) -> "ImageDataset":
        """The first ``train`` / ``test`` examples of each split (``None`` keeps all)."""
        for name, n in (("train", train), ("test", test)):
            if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
                raise ValueError(f"{name} must be a positive int or None, got {n!r}")
        return ImageDataset(
            self.name,
            self.x_train[:train],
            self.y_train[:train],
            self.x_test[:test],
            self.y_test[:test],
            self.image_shape,
            self.num_classes,
            self.x_valid,
            self.y_valid,
        )


def shape_images(x: Tensor, image_shape: tuple[int, int, int], flatten: bool) -> Tensor:
    """``[n, F]`` -> ``[n, F]`` (``flatten``) or ``[n, C, H, W]``."""
    return x.reshape(x.shape[0], -1) if flatten else x.reshape(x.shape[0], *image_shape)


def as_tensors(x, y) -> tuple[Tensor, Tensor]:
    return torch.as_tensor(x, dtype=torch.float32).contiguous(), torch.as_tensor(y, dtype=torch.int64)
