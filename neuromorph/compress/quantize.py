"""Embedding quantisers: sign, SimHash, k-bit scalar, thermometer and ternary absmean.

Every quantiser follows one interface (:class:`Quantizer`): ``fit(x)`` calibrates on float embeddings
``[N, D]``, ``encode(x) -> codes`` (integer tensor), ``decode(codes) -> float [N, D']`` (the vectors whose
``metric`` -- cosine, Hamming (cosine of +-1 signs), L1 or Euclidean -- is the method's similarity),
``pack(codes) -> uint8 [N, bytes_per_vector]`` (the exact stored bytes), ``unpack(packed) -> codes``.
``num_bits`` is the information bits per vector; ``bytes_per_vector`` the packed storage. Quantisers with
``hamming = True`` store plain bit strings whose Hamming distance is the search distance (FAISS binary
indexes can search them).

Formulas (``x`` one embedding, ``mu`` the calibration mean when centring is on):

* sign:       ``b_d = [x_d - mu_d >= 0]`` (1 bit/dim), decode ``2 b - 1``.
* SimHash:    ``b_j = [(G (x - mu))_j >= 0]``, ``G`` an ``M x D`` standard Gaussian matrix (``M`` bits);
  ``mu = 0`` by default (plain random hyperplanes: ``P[b_j != b'_j] = angle(x, x') / pi``).
* scalar:     per-dimension range ``[lo_d, hi_d]`` = calibration quantiles ``(q, 1 - q)``; with
  ``L = 2**k`` levels ``c_d = clip(round((x_d - lo_d) / (hi_d - lo_d) * (L - 1)), 0, L - 1)``;
  decode ``lo_d + c_d (hi_d - lo_d) / (L - 1)``; stored as ``k`` bits per dimension.
* thermometer: the scalar code with ``L`` levels written as ``L - 1`` thermometer bits per dimension, so that
  Hamming distance = L1 distance between the integer codes.
* ternary absmean (BitNet b1.58): ``gamma = mean_d |x_d|``, ``t_d = clip(round(x_d / (gamma + eps)), -1, 1)``;
  ``log2(3) = 1.58`` bits/dim of information, stored five trits per byte. ``gamma`` is not stored: every
  similarity used here is scale-invariant (cosine), so ``decode`` returns ``t``.
"""

from __future__ import annotations

import math
from typing import TypeVar
from abc import ABC, abstractmethod

import numpy as np
import torch

from neuromorph.compress.packing import (
    check_packed,
    pack_bits,
    pack_trits,
    pack_uint,
    packed_bytes,
    thermometer,
    unpack_bits,
    unpack_trits,
    unpack_uint,
)
from neuromorph.utils import check_tensor


QuantizerT = TypeVar("QuantizerT", bound="Quantizer")


def check_embeddings(name: str, x: object, dim: int | None = None) -> torch.Tensor:
    """Require a finite 2-D float32/float64 tensor ``[N, D]`` (``D == dim`` when given).

    >>> check_embeddings("x", torch.zeros(2, 3)).shape
    torch.Size([2, 3])
    >>> try:
    ...     check_embeddings("x", torch.zeros(2, 3), dim=4)
    ... except ValueError as err:
    ...     print(err)
    x has 3 dimensions but the quantiser was fitted on 4
    """
    check_tensor(name, x, ndim=2)
    assert isinstance(x, torch.Tensor)
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be a float32 or float64 tensor, got dtype {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must contain at least one vector, got shape {tuple(x.shape)}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} has {x.shape[1]} dimensions but the quantiser was fitted on {dim}")
    check_tensor(name, x, finite=True)
    return x


def sign_bits(x: torch.Tensor) -> torch.Tensor:
    """``[x >= 0]`` as uint8 (sign(0) = +1).

    >>> sign_bits(torch.tensor([-1.0, 0.0, 2.0])).tolist()
    [0, 1, 1]
    """
    return (x >= 0).to(torch.uint8)


def uniform_codes(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, levels: int) -> torch.Tensor:
    """``clip(round((x - lo) / (hi - lo) * (levels - 1)), 0, levels - 1)`` as int64.

    >>> uniform_codes(torch.tensor([0.0, 0.4, 1.0, 2.0]), torch.tensor(0.0), torch.tensor(1.0), levels=3).tolist()
    [0, 1, 2, 2]
    """
    scale = (hi - lo).clamp_min(torch.finfo(x.dtype).tiny)
    return torch.round((x - lo) / scale * (levels - 1)).clamp(0, levels - 1).to(torch.int64)


def uniform_values(codes: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, levels: int) -> torch.Tensor:
    """Inverse map of :func:`uniform_codes`: ``lo + codes * (hi - lo) / (levels - 1)``.

    >>> uniform_values(torch.tensor([0, 1, 2]), torch.tensor(0.0), torch.tensor(1.0), levels=3).tolist()
    [0.0, 0.5, 1.0]
    """
    return lo + codes.to(lo.dtype) * (hi - lo) / (levels - 1)


def ternary_absmean(x: torch.Tensor, eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """BitNet b1.58 absmean ternarisation per row: returns ``(t int8 in {-1,0,1}, gamma [N])``.

    >>> ternary_absmean(torch.tensor([[0.1, -2.0, 0.9, 1.0]]))[0].tolist()
    [[0, -1, 1, 1]]
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor, got {type(x).__name__}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or infinite values")
    gamma = x.abs().mean(dim=-1)
    t = torch.round(x / (gamma.unsqueeze(-1) + eps)).clamp(-1, 1).to(torch.int8)
    return t, gamma


class Quantizer(ABC):
    """Base class: validation, ``dim`` bookkeeping and the storage figures.

    >>> q = SignQuantizer(center=False).fit(torch.randn(10, 4))
    >>> isinstance(q, Quantizer), q.dim, q.num_bits, q.bytes_per_vector
    (True, 4, 4, 1)
    >>> codes = q.encode(torch.tensor([[0.5, -1.0, 2.0, -0.1]]))
    >>> q.decode(codes).tolist(), q.unpack(q.pack(codes)).tolist() == codes.tolist()
    ([[1.0, -1.0, 1.0, -1.0]], True)
    """

    name: str = "quantizer"
    metric: str = "cosine"  # how decoded vectors are compared: "cosine", "hamming", "l1" or "euclidean"
    hamming: bool = False  # packed codes are bit strings searched by Hamming distance

    def __init__(self) -> None:
        self.dim: int | None = None

    # -- public API -------------------------------------------------------------------------------------
    def fit(self: QuantizerT, x: torch.Tensor) -> QuantizerT:
        check_embeddings("x", x)
        self.dim = int(x.shape[1])
        self._fit(x)
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        check_embeddings("x", x, self._fitted_dim())
        return self._encode(x)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        self._fitted_dim()
        check_tensor("codes", codes, ndim=2)
        if codes.is_floating_point():
            raise TypeError(f"codes must be an integer tensor from encode(), got dtype {codes.dtype}")
        return self._decode(codes)

    @property
    def num_bits(self) -> int:
        """Information bits per vector."""
        self._fitted_dim()
        return self._num_bits()

    @property
    def bits_per_dim(self) -> float:
        return self.num_bits / self._fitted_dim()

    @property
    def bytes_per_vector(self) -> int:
        """Exact packed storage per vector (what :meth:`pack` writes)."""
        return packed_bytes(self.num_bits)

    def pack(self, codes: torch.Tensor) -> np.ndarray:
        return pack_bits(self._bits(codes))

    def unpack(self, packed: np.ndarray) -> torch.Tensor:
        check_packed("packed", packed, self.num_bits)
        return self._from_bits(torch.from_numpy(unpack_bits(packed, self.num_bits)))

    # -- hooks --------------------------------------------------------------------------------------------
    def _fitted_dim(self) -> int:
        if self.dim is None:
            raise RuntimeError(f"{type(self).__name__} must be fitted (call fit(x)) before use")
        return self.dim

    def _fit(self, x: torch.Tensor) -> None:  # default: nothing to calibrate
        return None

    @abstractmethod
    def _encode(self, x: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def _decode(self, codes: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def _num_bits(self) -> int: ...

    def _bits(self, codes: torch.Tensor) -> torch.Tensor:
        return codes

    def _from_bits(self, bits: torch.Tensor) -> torch.Tensor:
        return bits


class BinaryQuantizer(Quantizer):
    """Shared code for bit-string quantisers (codes are 0/1 uint8, decode is ``2 b - 1``).

    ``metric = "hamming"``: cosine of the decoded signs is ``1 - 2 H / m``; the distance estimate of unit
    vectors is ``2 sin(pi H / (2 m))`` (random-hyperplane angle ``theta ~ pi H / m``).

    >>> q = SimHashQuantizer(16, seed=0).fit(torch.randn(20, 8))
    >>> isinstance(q, BinaryQuantizer), q.hamming, q.pack(q.encode(torch.randn(3, 8))).shape
    (True, True, (3, 2))
    """

    metric = "hamming"
    hamming = True

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.to(torch.float32) * 2 - 1


class SignQuantizer(BinaryQuantizer):
    """1 bit per dimension: ``b_d = [x_d - mu_d >= 0]`` (``mu = 0`` when ``center=False``).

    >>> x = torch.tensor([[1.0, 3.0], [3.0, 1.0]])
    >>> SignQuantizer(center=True).fit(x).encode(x).tolist()      # signs around the mean [2, 2]
    [[0, 1], [1, 0]]
    """

    name = "sign"

    def __init__(self, center: bool = True) -> None:
        super().__init__()
        self.center = center
        self.mu: torch.Tensor | None = None

    def _fit(self, x: torch.Tensor) -> None:
        self.mu = x.mean(0) if self.center else torch.zeros(x.shape[1], dtype=x.dtype)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        assert self.mu is not None
        return sign_bits(x - self.mu.to(x.dtype))

    def _num_bits(self) -> int:
        return self._fitted_dim()


class SimHashQuantizer(BinaryQuantizer):
    """``num_bits`` random-hyperplane bits: ``b = [G (x - mu) >= 0]``, ``G_jd ~ N(0, 1)`` (seeded).

    ``center=True`` subtracts the calibration mean first (better word similarity, but the Hamming distance then
    estimates the angle between centred vectors).

    >>> q = SimHashQuantizer(64, seed=0).fit(torch.randn(50, 16))
    >>> x = torch.randn(2, 16)
    >>> codes = q.encode(torch.cat([x, 3 * x]))          # a positive rescaling keeps every bit
    >>> q.num_bits, torch.equal(codes[:2], codes[2:])
    (64, True)
    """

    name = "simhash"

    def __init__(self, num_bits: int, center: bool = False, seed: int = 0) -> None:
        super().__init__()
        if num_bits < 1:
            raise ValueError(f"num_bits must be >= 1, got {num_bits}")
        self.bits, self.center, self.seed = num_bits, center, seed
        self.mu: torch.Tensor | None = None
        self.proj: torch.Tensor | None = None

    def _fit(self, x: torch.Tensor) -> None:
        self.mu = x.mean(0) if self.center else torch.zeros(x.shape[1], dtype=x.dtype)
        gen = torch.Generator().manual_seed(self.seed)
        self.proj = torch.randn(self.bits, x.shape[1], generator=gen, dtype=torch.float64)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        assert self.mu is not None and self.proj is not None
        return sign_bits((x - self.mu.to(x.dtype)) @ self.proj.to(x.dtype).T)

    def _num_bits(self) -> int:
        return self.bits


class ScalarQuantizer(Quantizer):
    """Per-dimension uniform ``k``-bit quantiser with calibrated ranges (see module docstring).

    >>> x = torch.linspace(-1, 1, 9).reshape(9, 1).repeat(1, 3)
    >>> q = ScalarQuantizer(bits=2).fit(x)
    >>> q.encode(x[[0, 4, 8]])[:, 0].tolist(), q.bytes_per_vector
    ([0, 2, 3], 1)
    >>> [round(v, 3) for v in q.decode(q.encode(x[:1]))[0].tolist()]
    [-1.0, -1.0, -1.0]
    """

    def __init__(self, bits: int, clip_quantile: float = 0.0) -> None:
        super().__init__()
        if not 1 <= bits <= 16:
            raise ValueError(f"bits must be in [1, 16], got {bits}")
        if not 0.0 <= clip_quantile < 0.5:
            raise ValueError(f"clip_quantile must be in [0, 0.5), got {clip_quantile}")
        self.k, self.clip_quantile = bits, clip_quantile
        self.levels = 2**bits
        self.name = "int8" if bits == 8 else f"scalar{bits}"
        self.lo: torch.Tensor | None = None
        self.hi: torch.Tensor | None = None

    def _fit(self, x: torch.Tensor) -> None:
        xs = x.to(torch.float64)
        if self.clip_quantile > 0:
            self.lo = torch.quantile(xs, self.clip_quantile, dim=0)
            self.hi = torch.quantile(xs, 1 - self.clip_quantile, dim=0)
        else:
            self.lo, self.hi = xs.min(0).values, xs.max(0).values

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        assert self.lo is not None and self.hi is not None
        return uniform_codes(x.to(torch.float64), self.lo, self.hi, self.levels)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        assert self.lo is not None and self.hi is not None
        return uniform_values(codes, self.lo, self.hi, self.levels).to(torch.float32)

    def _num_bits(self) -> int:
        return self._fitted_dim() * self.k

    def pack(self, codes: torch.Tensor) -> np.ndarray:
        return pack_uint(codes, self.k)

    def unpack(self, packed: np.ndarray) -> torch.Tensor:
        check_packed("packed", packed, self.num_bits)
        return torch.from_numpy(unpack_uint(packed, self._fitted_dim(), self.k))


class ThermometerQuantizer(ScalarQuantizer):
    """``levels``-level scalar codes stored as ``levels - 1`` thermometer bits per dimension.

    Hamming distance between packed codes equals the L1 distance between the integer codes, so k-bit
    scalar codes become searchable by FAISS binary indexes, at ``levels - 1`` bits per dimension.

    >>> q = ThermometerQuantizer(levels=4).fit(torch.linspace(0, 1, 7).reshape(7, 1))
    >>> q.encode(torch.tensor([[0.0], [0.5], [1.0]])).flatten().tolist(), q.num_bits
    ([0, 2, 3], 3)
    """

    hamming = True

    def __init__(self, levels: int, clip_quantile: float = 0.0) -> None:
        if levels < 2:
            raise ValueError(f"levels must be >= 2, got {levels}")
        super().__init__(bits=max(1, math.ceil(math.log2(levels))), clip_quantile=clip_quantile)
        self.levels = levels
        self.name = f"thermo{levels}"

    def _num_bits(self) -> int:
        return self._fitted_dim() * (self.levels - 1)

    def pack(self, codes: torch.Tensor) -> np.ndarray:
        return pack_bits(thermometer(codes, self.levels))

    def unpack(self, packed: np.ndarray) -> torch.Tensor:
        check_packed("packed", packed, self.num_bits)
        bits = unpack_bits(packed, self.num_bits).reshape(packed.shape[0], self._fitted_dim(), self.levels - 1)
        return torch.from_numpy(bits.sum(axis=2).astype(np.int64))


class TernaryQuantizer(Quantizer):
    """BitNet b1.58 absmean ternary codes (see :func:`ternary_absmean`), five trits per stored byte.

    >>> q = TernaryQuantizer().fit(torch.randn(4, 5))
    >>> q.encode(torch.tensor([[0.1, -2.0, 0.9, 1.0, 0.0]])).tolist(), q.bytes_per_vector   # gamma = 0.8
    ([[0, -1, 1, 1, 0]], 1)
    """

    name = "ternary"

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return ternary_absmean(x, self.eps)[0]

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.to(torch.float32)

    def _num_bits(self) -> int:
        return math.ceil(self._fitted_dim() * math.log2(3))

    @property
    def bytes_per_vector(self) -> int:
        return (self._fitted_dim() + 4) // 5

    def pack(self, codes: torch.Tensor) -> np.ndarray:
        return pack_trits(codes)

    def unpack(self, packed: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(unpack_trits(packed, self._fitted_dim()))
