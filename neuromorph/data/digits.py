"""scikit-learn's 8x8 handwritten digits (1797 images, embedded in scikit-learn, no download).

Pixels (0..16) are scaled to ``[0, 1]``; a fixed stratified split (``test_size`` of each class, seeded)
keeps train and test class balance identical between runs.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from neuromorph.data._dataset import ImageDataset, as_tensors, shape_images

DIGITS_SHAPE = (1, 8, 8)


@lru_cache(maxsize=4)
def _split(test_size: float, seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = _sk_load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    return tuple(train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y))


def load_digits(test_size: float = 0.25, seed: int = 0, flatten: bool = True) -> ImageDataset:
    """Load the digits as an :class:`ImageDataset` (``[n, 64]`` or ``[n, 1, 8, 8]`` float32 in [0, 1]).

    >>> ds = load_digits()
    >>> ds.x_train.shape, ds.x_test.shape, ds.num_classes
    (torch.Size([1347, 64]), torch.Size([450, 64]), 10)
    """
    if isinstance(test_size, bool) or not isinstance(test_size, float) or not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a float in (0, 1), got {test_size!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    x_tr, x_te, y_tr, y_te = _split(test_size, seed)
    x_tr_t, y_tr_t = as_tensors(x_tr, y_tr)
    x_te_t, y_te_t = as_tensors(x_te, y_te)
    return ImageDataset(
        "digits",
        shape_images(x_tr_t, DIGITS_SHAPE, flatten),
        y_tr_t,
        shape_images(x_te_t, DIGITS_SHAPE, flatten),
        y_te_t,
        DIGITS_SHAPE,
        10,
    )
