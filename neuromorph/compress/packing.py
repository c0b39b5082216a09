"""Packed bit storage for compressed embeddings.

Layouts (all little-endian within a byte, row-major over vectors):

* ``pack_bits``: a ``[N, B]`` array of 0/1 becomes ``[N, ceil(B / 8)]`` uint8; bit ``j`` of vector ``n`` is
  bit ``j % 8`` of byte ``j // 8``. Unused high bits of the last byte are zero, so Hamming distances between
  packed rows equal Hamming distances between the bit rows, and the first ``m / 8`` bytes of a row are the
  ``m``-bit prefix (``m`` a multiple of 8) -- what nested (Matryoshka) prefixes and FAISS binary indexes use.
* ``pack_uint``: ``[N, D]`` integers in ``[0, 2**k)`` are written as ``k`` consecutive bits each (dimension
  ``d`` occupies bits ``d*k .. d*k + k - 1``, least significant bit first), then packed as above:
  ``ceil(D * k / 8)`` bytes per vector, no per-dimension padding.
* ``pack_trits``: ternary values in {-1, 0, +1} are stored base 3, five per byte
  (``byte = sum_j (t_j + 1) * 3**j``, ``3**5 = 243 <= 256``): ``ceil(D / 5)`` bytes, 1.6 bits per value.
* ``thermometer``: an integer ``c`` in ``[0, L)`` becomes ``L - 1`` bits ``[c > 0, c > 1, ..., c > L - 2]``;
  the Hamming distance between two thermometer codes equals ``|c - c'|``, so the Hamming distance of whole
  vectors equals the L1 distance of their integer codes.
"""

from __future__ import annotations

import numpy as np
import torch

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _as_numpy_ints(name: str, value: object) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex():
            raise TypeError(f"{name} must hold integers or booleans, got dtype {value.dtype}")
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(value).__name__}")
    if not (np.issubdtype(value.dtype, np.integer) or value.dtype == np.bool_):
        raise TypeError(f"{name} must hold integers or booleans, got dtype {value.dtype}")
    if value.ndim != 2:
        raise ValueError(f"{name} must be 2-D [num_vectors, num_values], got shape {value.shape}")
    return value


def packed_bytes(num_bits: int) -> int:
    """Bytes per vector for ``num_bits`` packed bits: ``ceil(num_bits / 8)``.

    >>> packed_bytes(8), packed_bytes(9), packed_bytes(384)
    (1, 2, 48)
    """
    if num_bits < 1:
        raise ValueError(f"num_bits must be >= 1, got {num_bits}")
    return (num_bits + 7) // 8


def pack_bits(bits: np.ndarray | torch.Tensor) -> np.ndarray:
    """Pack a ``[N, B]`` array of 0/1 (or bool) into ``[N, ceil(B/8)]`` uint8 (see module docstring).

    >>> pack_bits(np.array([[1, 0, 0, 0, 0, 0, 0, 1, 1]])).tolist()
    [[129, 1]]
    """
    arr = _as_numpy_ints("bits", bits)
    if arr.dtype != np.bool_ and ((arr < 0).any() or (arr > 1).any()):
        raise ValueError("bits must contain only 0 and 1")
    return np.packbits(arr.astype(np.uint8), axis=1, bitorder="little")


def unpack_bits(packed: np.ndarray, num_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: ``[N, ceil(B/8)]`` uint8 -> ``[N, B]`` uint8 of 0/1.

    >>> unpack_bits(pack_bits(np.array([[1, 1, 0, 1, 0]])), 5).tolist()
    [[1, 1, 0, 1, 0]]
    """
    check_packed("packed", packed, num_bits)
    return np.unpackbits(packed, axis=1, count=num_bits, bitorder="little")


def check_packed(name: str, packed: object, num_bits: int) -> np.ndarray:
    """Validate a packed code array: numpy uint8, 2-D, ``ceil(num_bits/8)`` bytes per row.

    >>> check_packed("codes", np.zeros((3, 2), dtype=np.uint8), num_bits=16).shape
    (3, 2)
    >>> try:
    ...     check_packed("codes", np.zeros((3, 2), dtype=np.uint8), num_bits=24)
    ... except ValueError:
    ...     print("wrong width")
    wrong width
    """
    if not isinstance(packed, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of uint8, got {type(packed).__name__}")
    if packed.dtype != np.uint8:
        raise TypeError(f"{name} must have dtype uint8 (packed bits), got {packed.dtype}")
    if packed.ndim != 2:
        raise ValueError(f"{name} must be 2-D [num_vectors, num_bytes], got shape {packed.shape}")
    expected = packed_bytes(num_bits)
    if packed.shape[1] != expected:
        raise ValueError(f"{name} must have {expected} bytes per vector for {num_bits} bits, got {packed.shape[1]}")
    return packed


def pack_uint(codes: np.ndarray | torch.Tensor, bits: int) -> np.ndarray:
    """Pack ``[N, D]`` integers in ``[0, 2**bits)`` at ``bits`` bits each: ``ceil(D*bits/8)`` bytes per row.

    >>> packed = pack_uint(np.array([[3, 0, 2, 1, 3]]), bits=2)
    >>> packed.shape, unpack_uint(packed, 5, bits=2).tolist()
    ((1, 2), [[3, 0, 2, 1, 3]])
    """
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be in [1, 16], got {bits}")
    arr = _as_numpy_ints("codes", codes).astype(np.int64)
    if (arr < 0).any() or (arr >= 2**bits).any():
        raise ValueError(f"codes must lie in [0, {2**bits - 1}] for {bits}-bit packing")
    if 8 % bits == 0:  # whole values per byte: shift-and-add, same layout
        per_byte = 8 // bits
        n, d = arr.shape
        padded = np.zeros((n, -(-d // per_byte) * per_byte), dtype=np.int64)
        padded[:, :d] = arr
        shifts = np.arange(per_byte, dtype=np.int64) * bits
        return (padded.reshape(n, -1, per_byte) << shifts).sum(axis=2).astype(np.uint8)
    shifts = np.arange(bits, dtype=np.int64)
    planes = (arr[:, :, None] >> shifts) & 1  # [N, D, bits], LSB first
    return pack_bits(planes.reshape(arr.shape[0], -1).astype(np.uint8))


def unpack_uint(packed: np.ndarray, dim: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack_uint`: returns ``[N, dim]`` int64.

    >>> unpack_uint(pack_uint(np.array([[5, 7, 0]]), bits=3), 3, bits=3).tolist()
    [[5, 7, 0]]
    """
    planes = unpack_bits(packed, dim * bits).reshape(packed.shape[0], dim, bits).astype(np.int64)
    return (planes << np.arange(bits, dtype=np.int64)).sum(axis=2)


def byte_table(bits: int) -> np.ndarray:
    """``[256, 8 // bits]`` uint8: entry ``[v, i]`` is value ``i`` of a byte ``v`` written by :func:`pack_uint`.

    ``table[packed]`` unpacks ``bits``-bit codes (``bits`` in 1, 2, 4, 8) with one gather.

    >>> byte_table(2)[0b11100100].tolist()          # four 2-bit values of one byte, lowest bits first
    [0, 1, 2, 3]
    """
    if bits not in (1, 2, 4, 8):
        raise ValueError(f"bits must be 1, 2, 4 or 8, got {bits}")
    shifts = np.arange(8 // bits) * bits
    return ((np.arange(256)[:, None] >> shifts) & (2**bits - 1)).astype(np.uint8)


def pack_trits(trits: np.ndarray | torch.Tensor) -> np.ndarray:
    """Pack ``[N, D]`` values in {-1, 0, 1} five per byte (base 3): ``ceil(D/5)`` bytes per row.

    >>> packed = pack_trits(np.array([[1, 0, -1, 1, 1, -1]]))
    >>> packed.shape, unpack_trits(packed, 6).tolist()
    ((1, 2), [[1, 0, -1, 1, 1, -1]])
    """
    arr = _as_numpy_ints("trits", trits).astype(np.int64)
    if (arr < -1).any() or (arr > 1).any():
        raise ValueError("trits must contain only -1, 0 and 1")
    n, d = arr.shape
    groups = (d + 4) // 5
    digits = np.zeros((n, groups * 5), dtype=np.int64)
    digits[:, :d] = arr + 1
    # padding digits hold 0 (a stored "-1"), unpack_trits drops them
    weights = 3 ** np.arange(5, dtype=np.int64)
    return (digits.reshape(n, groups, 5) * weights).sum(axis=2).astype(np.uint8)


def unpack_trits(packed: np.ndarray, dim: int) -> np.ndarray:
    """Inverse of :func:`pack_trits`: returns ``[N, dim]`` int8 in {-1, 0, 1}.

    >>> unpack_trits(pack_trits(np.array([[-1, -1, 0]])), 3).tolist()
    [[-1, -1, 0]]
    """
    if not isinstance(packed, np.ndarray) or packed.dtype != np.uint8 or packed.ndim != 2:
        raise TypeError("packed must be a 2-D numpy.ndarray of uint8")
    if packed.shape[1] != (dim + 4) // 5:
        raise ValueError(f"packed must have {(dim + 4) // 5} bytes per vector for dim={dim}, got {packed.shape[1]}")
    vals = packed.astype(np.int64)[:, :, None] // (3 ** np.arange(5, dtype=np.int64)) % 3
    return (vals.reshape(packed.shape[0], -1)[:, :dim] - 1).astype(np.int8)


def thermometer(codes: np.ndarray | torch.Tensor, levels: int) -> np.ndarray:
    """Thermometer bits: ``[N, D]`` integers in ``[0, levels)`` -> ``[N, D*(levels-1)]`` 0/1 uint8.

    Bit ``d*(levels-1) + j`` is ``codes[n, d] > j``; Hamming distance of two rows = L1 distance of the codes.

    >>> thermometer(np.array([[0, 2, 3]]), levels=4).tolist()
    [[0, 0, 0, 1, 1, 0, 1, 1, 1]]
    """
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}")
    arr = _as_numpy_ints("codes", codes)
    if (arr < 0).any() or (arr >= levels).any():
        raise ValueError(f"codes must lie in [0, {levels - 1}]")
    bits = arr[:, :, None] > np.arange(levels - 1)
    return bits.reshape(arr.shape[0], -1).astype(np.uint8)


def hamming_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Brute-force Hamming distances between packed rows: ``[Na, bytes] x [Nb, bytes] -> [Na, Nb]`` int32.

    A plain reference (byte-wise XOR + popcount table) used to check the FAISS indexes.

    >>> a = pack_bits(np.array([[1, 0, 1, 1]]))
    >>> b = pack_bits(np.array([[1, 0, 1, 1], [0, 1, 0, 0]]))
    >>> hamming_matrix(a, b).tolist()
    [[0, 4]]
    """
    for name, arr in (("a", a), ("b", b)):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.ndim != 2:
            raise TypeError(f"{name} must be a 2-D numpy.ndarray of uint8")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same bytes per vector, got {a.shape[1]} and {b.shape[1]}")
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.int32)
    for i in range(a.shape[0]):
        out[i] = _POPCOUNT[np.bitwise_xor(a[i][None, :], b)].sum(axis=1, dtype=np.int32)
    return out
