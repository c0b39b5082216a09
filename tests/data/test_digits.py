import pytest
import torch

from neuromorph.data import DATASETS, load_dataset, load_digits


def test_digits_split_is_scaled_stratified_and_fixed():
    d = load_digits()
    assert d.name == "digits" and d.num_classes == 10 and d.image_shape == (1, 8, 8)
    assert d.x_train.shape == (1347, 64) and d.x_test.shape == (450, 64)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert float(d.x_train.min()) == 0.0 and float(d.x_train.max()) == 1.0
    tr = torch.bincount(d.y_train, minlength=10).float() / d.y_train.numel()
    te = torch.bincount(d.y_test, minlength=10).float() / d.y_test.numel()
    assert (tr - te).abs().max() < 0.01  # stratified
    again = load_digits()
    assert torch.equal(again.x_test, d.x_test) and torch.equal(again.y_train, d.y_train)
    other = load_digits(seed=1)
    assert not torch.equal(other.y_test, d.y_test)


def test_digits_image_layout_and_subset():
    d = load_dataset("digits", flatten=False)
    assert d.x_train.shape[1:] == (1, 8, 8) and d.num_features == 64
    s = d.subset(train=100, test=20)
    assert s.x_train.shape[0] == 100 and s.y_test.shape[0] == 20
    with pytest.raises(ValueError, match="train"):
        d.subset(train=0)


def test_bad_arguments():
    assert DATASETS == ("digits", "mnist")
    with pytest.raises(ValueError, match="name"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="test_size"):
        load_digits(test_size=1.5)
