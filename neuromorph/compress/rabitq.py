"""RaBitQ-style codes: rotate, quantise to ``B`` bits per dimension, keep one correction factor per vector,
and score float queries with an asymmetric estimator (Gao & Long 2024, and its multi-bit extension).

Fit split: mean ``c``, the top-``m`` principal directions ``W`` (``D x m``), and a rotation ``R`` (``m x m``):
a Haar-random orthogonal matrix (``rotation="random"``) or the ITQ rotation (``"itq"``, see
:mod:`neuromorph.compress.itq`). ``P = (W R)^T`` (``m x D``).

Encoding of one vector ``x`` (``L = 2^B`` levels):

    o = P (x - c),   r = ||o||,   y = o / r
    B = 1:  v = sign(y)                                                  (v in {-1, +1}^m)
    B > 1:  v = 2 u - (L - 1),  u = clip(round((y / delta + L - 1) / 2), 0, L - 1),
            delta = f max|y| / (L - 1) with f the grid value in [0.2, 1] that maximises cos(v, y)
    stored: u (B bits per dimension, ``pack_uint`` layout) and s = r / <v, y> as float16

Asymmetric estimator for a float query ``q`` (``v / ||v||`` is the quantised direction and ``<v/||v||, y>`` its
cosine with the true one; the RaBitQ estimate of ``<y, z>`` is ``<v, z> / <v, y>``):

    <x, q>  ~=  <c, q> + s <v, P q>

exact when ``m = D`` and ``v`` points along ``y``. :meth:`RaBitQQuantizer.decode` returns
``x_hat = c + P^T (s v)``, the vector whose inner product with any ``q`` *is* the estimate (``metric = "inner"``).
Storage: ``ceil(m B / 8) + 2`` bytes per vector.

>>> import torch
>>> x = torch.nn.functional.normalize(torch.randn(2000, 32), dim=1)
>>> q = RaBitQQuantizer(bits_per_dim=2).fit(x[:1000])
>>> q.bytes_per_vector
10
>>> index = AsymmetricIndex(q).add(x[1000:])
>>> scores, ids = index.search(x[:3], 5)
>>> ids.shape
(3, 5)
"""
from __future__ import annotations

import math

import numpy as np
import torch

from neuromorph.compress import native
from neuromorph.compress.itq import itq_rotation, pca_basis, random_orthogonal
from neuromorph.compress.packing import byte_table, check_packed, pack_uint
from neuromorph.compress.quantize import Quantizer, check_embeddings

SCALE_GRID = torch.linspace(0.2, 1.0, 17, dtype=torch.float64)


class RaBitQQuantizer(Quantizer):
    """``B``-bit rotated code with one float16 correction factor per vector (module docstring)."""

    metric = "inner"

    def __init__(self, bits_per_dim: int = 1, num_dims: int | None = None, rotation: str = "random",
                 itq_iterations: int = 50, seed: int = 0, chunk: int = 8192) -> None:
        super().__init__()
        if bits_per_dim not in (1, 2, 4, 8):
            raise ValueError(f"bits_per_dim must be 1, 2, 4 or 8, got {bits_per_dim!r}")
        if num_dims is not None and (not isinstance(num_dims, int) or num_dims < 1):
            raise ValueError(f"num_dims must be a positive int or None, got {num_dims!r}")
        if rotation not in ("random", "itq"):
            raise ValueError(f"rotation must be 'random' or 'itq', got {rotation!r}")
        self.level_bits, self.num_dims, self.rotation = bits_per_dim, num_dims, rotation
        self.itq_iterations, self.seed, self.chunk = itq_iterations, seed, chunk
        self.levels = 2 ** bits_per_dim
        self.name = f"rabitq{bits_per_dim}b-{rotation}"
        self.center: torch.Tensor | None = None
        self.projection: torch.Tensor | None = None     # P, [m, D] float64

    @property
    def code_dims(self) -> int:
        """``m``: the number of quantised (rotated) dimensions."""
        return self.num_dims if self.num_dims is not None else self._fitted_dim()

    @property
    def code_bytes(self) -> int:
        return math.ceil(self.code_dims * self.level_bits / 8)

    def _fit(self, x: torch.Tensor) -> None:
        if self.code_dims > x.shape[1]:
            raise ValueError(f"num_dims={self.code_dims} exceeds the input dimension {x.shape[1]}")
        self.center, basis = pca_basis(x, self.code_dims)
        projected = (x.to(torch.float64) - self.center) @ basis
        if self.rotation == "itq":
            rot, _ = itq_rotation(projected, self.itq_iterations, self.seed)
        else:
            rot = random_orthogonal(self.code_dims, torch.Generator().manual_seed(self.seed))
        self.projection = (basis @ rot).T.contiguous()

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        """``P x`` (no centring) as float64 ``[N, m]``."""
        assert self.projection is not None
        return x.to(torch.float64) @ self.projection.T

    def _quantise(self, y: torch.Tensor) -> torch.Tensor:
        """Integer levels ``u [n, m]`` of unit rows ``y`` (module docstring)."""
        if self.level_bits == 1:
            return (y >= 0).to(torch.int64)
        top = self.levels - 1
        delta = (SCALE_GRID[None, :, None] * y.abs().amax(1)[:, None, None] / top).clamp_min(1e-12)
        u = torch.round((y[:, None, :] / delta + top) / 2).clamp(0, top)        # [n, grid, m]
        v = 2 * u - top
        cos = (v * y[:, None, :]).sum(2) / v.norm(dim=2).clamp_min(1e-12)
        best = cos.argmax(1)
        return u[torch.arange(y.shape[0]), best].to(torch.int64)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, m + 1]`` int64: the levels ``u`` and, last, the float16 bits of ``s`` (as a signed int16)."""
        assert self.center is not None
        out = []
        for start in range(0, x.shape[0], self.chunk):
            o = self.rotate(x[start:start + self.chunk].to(torch.float64) - self.center)
            r = o.norm(dim=1, keepdim=True)
            y = o / r.clamp_min(1e-12)
            u = self._quantise(y)
            v = (2 * u - (self.levels - 1)).to(torch.float64)
            dot = (v * y).sum(1, keepdim=True)
            s = torch.where(dot > 0, r / dot.clamp_min(1e-12), torch.zeros_like(r)).to(torch.float16)
            out.append(torch.cat([u, s.view(torch.int16).to(torch.int64)], 1))
        return torch.cat(out)

    def split(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(levels u [N, m] int64, factors s [N] float32)`` from the output of :meth:`encode`."""
        if codes.shape[1] != self.code_dims + 1:
            raise ValueError(f"codes must have {self.code_dims + 1} columns, got {codes.shape[1]}")
        s = codes[:, -1].to(torch.int16).view(torch.float16).to(torch.float32)
        return codes[:, :-1], s

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        assert self.center is not None and self.projection is not None
        u, s = self.split(codes)
        v = (2 * u - (self.levels - 1)).to(torch.float64)
        return (self.center + (s.to(torch.float64)[:, None] * v) @ self.projection).to(torch.float32)

    def _num_bits(self) -> int:
        return 8 * self.code_bytes + 16

    def pack(self, codes: torch.Tensor) -> np.ndarray:
        """Code bytes (``pack_uint`` layout) followed by the two bytes of the float16 factor."""
        u, s = self.split(codes)
        factor = s.to(torch.float16).numpy().view(np.uint8).reshape(-1, 2)
        return np.concatenate([pack_uint(u, self.level_bits), factor], axis=1)

    def unpack(self, packed: np.ndarray) -> torch.Tensor:
        check_packed("packed", packed, self.num_bits)
        u = byte_table(self.level_bits)[packed[:, :self.code_bytes]].reshape(packed.shape[0], -1)
        s = np.ascontiguousarray(packed[:, self.code_bytes:]).view(np.int16).reshape(-1, 1)
        return torch.cat([torch.from_numpy(u[:, :self.code_dims].astype(np.int64)),
                          torch.from_numpy(s.astype(np.int64))], 1)


class AsymmetricIndex:
    """Brute-force top-``k`` by the asymmetric estimate ``<c, q> + s <v, P q>`` over packed codes.

    Batches of at most ``lut_below`` queries use a lookup table per query, ``T[j, byte] = sum_i z_(j,i)
    value_i(byte)`` (``z = P q`` grouped by code byte ``j``), and sum ``T[j, code_j]`` over the code bytes (the
    compiled scan of :mod:`neuromorph.compress.native`, or torch gathers). Larger batches unpack each chunk of
    codes to bits once and score it with one matrix product:
    ``<z, v> = sum_(d,p) 2^(p+1) z_d bit_(d,p) - (L - 1) sum_d z_d``.
    """

    def __init__(self, quantizer: RaBitQQuantizer, chunk: int = 16384, lut_below: int = 8) -> None:
        if not isinstance(quantizer, RaBitQQuantizer) or quantizer.dim is None:
            raise TypeError("quantizer must be a fitted RaBitQQuantizer")
        self.quantizer, self.chunk, self.lut_below = quantizer, chunk, lut_below
        self.per_byte = 8 // quantizer.level_bits
        levels = byte_table(quantizer.level_bits).astype(np.float32)
        self.values = torch.from_numpy(2 * levels - (quantizer.levels - 1))       # [256, per_byte]
        self.bit_weights = 2.0 ** (1 + torch.arange(quantizer.level_bits, dtype=torch.float32))
        self.codes = np.zeros((0, quantizer.code_bytes), dtype=np.uint8)
        self.factors = torch.zeros(0, dtype=torch.float32)

    @property
    def ntotal(self) -> int:
        return int(self.codes.shape[0])

    def add(self, x: torch.Tensor) -> "AsymmetricIndex":
        """Encode and store float vectors ``x [N, D]``."""
        return self.add_packed(self.quantizer.pack(self.quantizer.encode(x)))

    def add_packed(self, packed: np.ndarray) -> "AsymmetricIndex":
        q = self.quantizer
        check_packed("packed", packed, q.num_bits)
        self.codes = np.concatenate([self.codes, np.ascontiguousarray(packed[:, :q.code_bytes])])
        factor = np.ascontiguousarray(packed[:, q.code_bytes:]).view(np.float16).reshape(-1)
        self.factors = torch.cat([self.factors, torch.from_numpy(factor.astype(np.float32))])
        return self

    def _query_rows(self, queries: torch.Tensor) -> torch.Tensor:
        """``P q`` zero-padded to whole code bytes, float32 ``[Q, bytes * per_byte]``."""
        z = self.quantizer.rotate(queries).to(torch.float32)
        pad = self.quantizer.code_bytes * self.per_byte - z.shape[1]
        return torch.nn.functional.pad(z, (0, pad))

    def search(self, queries: torch.Tensor | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(estimated inner products [Q, k], ids [Q, k])``, best first."""
        if isinstance(queries, np.ndarray):
            queries = torch.from_numpy(queries)
        check_embeddings("queries", queries, self.quantizer.dim)
        if not isinstance(k, int) or not 1 <= k <= self.ntotal:
            raise ValueError(f"k must be an int in [1, {self.ntotal}], got {k!r}")
        assert self.quantizer.center is not None
        z = self._query_rows(queries)
        offset = (queries.to(torch.float64) @ self.quantizer.center).to(torch.float32)
        if z.shape[0] <= self.lut_below:
            scores, ids = self._search_lut(z, k)
        else:
            scores, ids = self._search_matmul(z, k)
        return (scores + offset[:, None]).numpy(), ids.numpy()

    def _search_lut(self, z: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        lut = torch.einsum("qjp,bp->qjb", z.reshape(z.shape[0], -1, self.per_byte), self.values).contiguous()
        module = native.load()
        if module is not None:
            scores, ids = module.lut_topk(lut, torch.from_numpy(self.codes), self.factors, k)
            return scores, ids
        def block_scores(block: np.ndarray) -> torch.Tensor:
            idx = torch.from_numpy(block.astype(np.int64)).T                      # [bytes, n]
            return torch.stack([torch.gather(t, 1, idx).sum(0) for t in lut])    # [Q, n]
        return self._scan(z.shape[0], k, block_scores)

    def _search_matmul(self, z: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        weights = (z[:, :, None] * self.bit_weights).reshape(z.shape[0], -1)      # [Q, bytes * 8]
        bias = (self.quantizer.levels - 1) * z.sum(1, keepdim=True)
        def block_scores(block: np.ndarray) -> torch.Tensor:
            bits = torch.from_numpy(np.unpackbits(block, axis=1, bitorder="little")).to(torch.float32)
            return weights @ bits.T - bias
        return self._scan(z.shape[0], k, block_scores)

    def _scan(self, num_queries: int, k: int, block_scores) -> tuple[torch.Tensor, torch.Tensor]:
        best_s = torch.full((num_queries, k), -torch.inf)
        best_i = torch.zeros((num_queries, k), dtype=torch.int64)
        for start in range(0, self.ntotal, self.chunk):
            block = self.codes[start:start + self.chunk]
            scores = block_scores(block) * self.factors[start:start + self.chunk]
            top_s, top_i = torch.topk(torch.cat([best_s, scores], 1), k, dim=1)
            all_i = torch.cat([best_i, torch.arange(start, start + block.shape[0]).expand(num_queries, -1)], 1)
            best_s, best_i = top_s, torch.gather(all_i, 1, top_i)
        return best_s, best_i
