"""Property: every pack function of neuromorph.compress.packing is undone by its unpack function (and codes of
different rows never bleed into each other), for random shapes and values."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from neuromorph.compress.packing import (hamming_matrix, pack_bits, pack_trits, pack_uint, packed_bytes,
                                         thermometer, unpack_bits, unpack_trits, unpack_uint)

shapes = st.tuples(st.integers(1, 6), st.integers(1, 70))


@given(shape=shapes, data=st.data(), as_tensor=st.booleans())
def test_pack_bits_round_trip(shape, data, as_tensor):
    bits = data.draw(arrays(np.uint8, shape, elements=st.integers(0, 1)))
    packed = pack_bits(torch.from_numpy(bits) if as_tensor else bits)
    assert packed.dtype == np.uint8 and packed.shape == (shape[0], packed_bytes(shape[1]))
    np.testing.assert_array_equal(unpack_bits(packed, shape[1]), bits)
    # unused high bits of the last byte stay zero, so packed Hamming distance = bit Hamming distance
    expected = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    np.testing.assert_array_equal(hamming_matrix(packed, packed), expected)


@given(shape=shapes, bits=st.integers(1, 16), data=st.data())
def test_pack_uint_round_trip(shape, bits, data):
    codes = data.draw(arrays(np.int64, shape, elements=st.integers(0, 2 ** bits - 1)))
    packed = pack_uint(codes, bits)
    assert packed.shape == (shape[0], packed_bytes(shape[1] * bits))
    np.testing.assert_array_equal(unpack_uint(packed, shape[1], bits), codes)


@given(shape=shapes, data=st.data())
def test_pack_trits_round_trip(shape, data):
    trits = data.draw(arrays(np.int8, shape, elements=st.integers(-1, 1)))
    packed = pack_trits(trits)
    assert packed.shape == (shape[0], (shape[1] + 4) // 5)
    out = unpack_trits(packed, shape[1])
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, trits)


@given(shape=shapes, levels=st.integers(2, 12), data=st.data())
def test_thermometer_pack_round_trip_and_l1(shape, levels, data):
    codes = data.draw(arrays(np.int64, shape, elements=st.integers(0, levels - 1)))
    bits = thermometer(codes, levels)
    width = levels - 1
    # decode: the code is the number of ones in its block
    np.testing.assert_array_equal(bits.reshape(shape[0], shape[1], width).sum(axis=2), codes)
    packed = pack_bits(bits)
    np.testing.assert_array_equal(unpack_bits(packed, shape[1] * width), bits)
    l1 = np.abs(codes[:, None, :] - codes[None, :, :]).sum(axis=2)
    np.testing.assert_array_equal(hamming_matrix(packed, packed), l1)
