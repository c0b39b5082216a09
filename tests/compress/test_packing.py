import numpy as np
import pytest
import torch

from neuromorph.compress.packing import (hamming_matrix, pack_bits, pack_trits, pack_uint, packed_bytes,
                                         thermometer, unpack_bits, unpack_trits, unpack_uint)

rng = np.random.default_rng(0)


def naive_hamming(a_bits, b_bits):
    return (a_bits[:, None, :] != b_bits[None, :, :]).sum(-1)


@pytest.mark.parametrize("num_bits", [1, 7, 8, 50, 64, 129])
def test_pack_bits_round_trip_and_size(num_bits):
    bits = rng.integers(0, 2, (13, num_bits)).astype(np.uint8)
    packed = pack_bits(bits)
    assert packed.dtype == np.uint8 and packed.shape == (13, packed_bytes(num_bits)) == (13, (num_bits + 7) // 8)
    np.testing.assert_array_equal(unpack_bits(packed, num_bits), bits)
    # bit j is bit j % 8 of byte j // 8 (little-endian)
    j = num_bits - 1
    np.testing.assert_array_equal((packed[:, j // 8] >> (j % 8)) & 1, bits[:, j])


def test_prefix_bytes_are_the_prefix_code():
    bits = rng.integers(0, 2, (5, 64)).astype(np.uint8)
    np.testing.assert_array_equal(pack_bits(bits)[:, :2], pack_bits(bits[:, :16]))


def test_hamming_matrix_matches_naive_and_padding_is_neutral():
    a = rng.integers(0, 2, (6, 50)).astype(np.uint8)
    b = rng.integers(0, 2, (9, 50)).astype(np.uint8)
    np.testing.assert_array_equal(hamming_matrix(pack_bits(a), pack_bits(b)), naive_hamming(a, b))


@pytest.mark.parametrize("bits", [1, 3, 5, 8, 12])
def test_pack_uint_round_trip(bits):
    codes = rng.integers(0, 2 ** bits, (7, 50))
    packed = pack_uint(codes, bits)
    assert packed.shape == (7, (50 * bits + 7) // 8)
    np.testing.assert_array_equal(unpack_uint(packed, 50, bits), codes)


def test_trits_round_trip_five_per_byte():
    t = rng.integers(-1, 2, (4, 51))
    packed = pack_trits(torch.from_numpy(t))
    assert packed.shape == (4, 11)
    np.testing.assert_array_equal(unpack_trits(packed, 51), t)


def test_thermometer_hamming_equals_l1():
    codes = rng.integers(0, 5, (8, 10))
    th = thermometer(codes, 5)
    assert th.shape == (8, 40)
    l1 = np.abs(codes[:, None, :] - codes[None, :, :]).sum(-1)
    np.testing.assert_array_equal(hamming_matrix(pack_bits(th), pack_bits(th)), l1)


def test_packing_errors():
    with pytest.raises(TypeError, match="integers or booleans"):
        pack_bits(np.zeros((2, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="only 0 and 1"):
        pack_bits(np.full((2, 8), 2))
    with pytest.raises(ValueError, match="2-D"):
        pack_bits(np.zeros(8, dtype=np.uint8))
    with pytest.raises(ValueError, match="must lie in"):
        pack_uint(np.full((1, 3), 8), 3)
    with pytest.raises(ValueError, match="bytes per vector"):
        unpack_bits(np.zeros((2, 3), dtype=np.uint8), 32)
    with pytest.raises(TypeError, match="uint8"):
        unpack_bits(np.zeros((2, 4), dtype=np.int32), 32)
    with pytest.raises(ValueError, match="same bytes"):
        hamming_matrix(np.zeros((1, 2), np.uint8), np.zeros((1, 3), np.uint8))
