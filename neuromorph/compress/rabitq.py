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
    stored: u (B bits per dimension, ``pack_uint`` layout) and s = r / <v, y>, as float16 (``factor_bits=16``)
            or as one byte on a log scale, code = round(255 (ln s - a) / (b - a)), [a, b] the 0.05 % and
            99.95 % quantiles of ln s over the fit split (``factor_bits=8``)

Asymmetric estimator for a float query ``q`` (``v / ||v||`` is the quantised direction and ``<v/||v||, y>`` its
cosine with the true one; the RaBitQ estimate of ``<y, z>`` is ``<v, z> / <v, y>``):

    <x, q>  ~=  <c, q> + s <v, P q>

exact when ``m = D`` and ``v`` points along ``y``. :meth:`RaBitQQuantizer.decode` returns
``x_hat = c + P^T (s v)``, the vector whose inner product with any ``q`` *is* the estimate (``metric = "inner"``).
Storage: ``ceil(m B / 8) + factor_bits / 8`` bytes per vector.

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
    """``B``-bit rotated code with one correction factor per vector (float16 or a log-scale byte; module docstring).

    >>> x = torch.nn.functional.normalize(torch.randn(500, 16), dim=1)
    >>> q = RaBitQQuantizer(bits_per_dim=1).fit(x)
    >>> packed = q.pack(q.encode(x[:3]))
    >>> packed.shape[1] == q.bytes_per_vector, torch.equal(q.unpack(packed), q.encode(x[:3]))
    (True, True)
    """

    metric = "inner"

    def __init__(
        self,
        bits_per_dim: int = 1,
        num_dims: int | None = None,
        rotation: str = "random",
        itq_iterations: int = 50,
        seed: int = 0,
        chunk: int = 8192,
        factor_bits: int = 16,
    ) -> None:
        super().__init__()
        if bits_per_dim not in (1, 2, 4, 8):
            raise ValueError(f"bits_per_dim must be 1, 2, 4 or 8, got {bits_per_dim!r}")
        if num_dims is not None and (not isinstance(num_dims, int) or num_dims < 1):
            raise ValueError(f"num_dims must be a positive int or None, got {num_dims!r}")
        if rotation not in ("random", "itq"):
            raise ValueError(f"rotation must be 'random' or 'itq', got {rotation!r}")
        if factor_bits not in (8, 16):
            raise ValueError(f"factor_bits must be 8 or 16, got {factor_bits!r}")
        self.factor_bits = factor_bits
        self.log_range: tuple[float, float] | None = None
        self.level_bits, self.num_dims, self.rotation = bits_per_dim, num_dims, rotation
        self.itq_iterations, self.seed, self.chunk = itq_iterations, seed, chunk
        self.levels = 2**bits_per_dim
        self.name = f"rabitq{bits_per_dim}b-{rotation}"
        self.center: torch.Tensor | None = None
        self.projection: torch.Tensor | None = None  # P, [m, D] float64

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
        if self.factor_bits == 8:
            self.log_range = None
            log_s = torch.cat([self._factors(x[i : i + self.chunk])[1] for i in range(0, x.shape[0], self.chunk)])
            log_s = log_s[torch.isfinite(log_s)].log()
            lo, hi = torch.quantile(log_s[: 2**24], torch.tensor([0.0005, 0.9995], dtype=log_s.dtype)).tolist()
            self.log_range = (lo, max(hi, lo + 1e-6))

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
        u = torch.round((y[:, None, :] / delta + top) / 2).clamp(0, top)  # [n, grid, m]
        v = 2 * u - top
        cos = (v * y[:, None, :]).sum(2) / v.norm(dim=2).clamp_min(1e-12)
        best = cos.argmax(1)
        return u[torch.arange(y.shape[0]), best].to(torch.int64)

    def _factors(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Levels ``u [n, m]`` and exact factors ``s = r / <v, y> [n]`` (float64) of a chunk of rows."""
        assert self.center is not None
        o = self.rotate(x.to(torch.float64) - self.center)
        r = o.norm(dim=1)
        y = o / r.clamp_min(1e-12)[:, None]
        u = self._quantise(y)
        dot = ((2 * u - (self.levels - 1)).to(torch.float64) * y).sum(1)
        return u, torch.where(dot > 0, r / dot.clamp_min(1e-12), torch.zeros_like(r))

    def factor_code(self, s: torch.Tensor) -> torch.Tensor:
        """Stored integer of factors ``s``: float16 bits (as int16) or the log-scale byte (module docstring)."""
        if self.factor_bits == 16:
            return s.to(torch.float16).view(torch.int16).to(torch.int64)
        assert self.log_range is not None
        lo, hi = self.log_range
        return torch.round((s.clamp_min(1e-30).log() - lo) / (hi - lo) * 255).clamp(0, 255).to(torch.int64)

    def factor_value(self, code: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`factor_code` (float32)."""
        if self.factor_bits == 16:
            return code.to(torch.int16).view(torch.float16).to(torch.float32)
        assert self.log_range is not None
        lo, hi = self.log_range
        return torch.exp(lo + code.to(torch.float64) * (hi - lo) / 255).to(torch.float32)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, m + 1]`` int64: the levels ``u`` and, last, the stored factor (:meth:`factor_code`)."""
        out = []
        for start in range(0, x.shape[0], self.chunk):
            u, s = self._factors(x[start : start + self.chunk])
            out.append(torch.cat([u, self.factor_code(s)[:, None]], 1))
        return torch.cat(out)

    def split(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(levels u [N, m] int64, factors s [N] float32)`` from the output of :meth:`encode`."""
        if codes.shape[1] != self.code_dims + 1:
            raise ValueError(f"codes must have {self.code_dims + 1} columns, got {codes.shape[1]}")
        return codes[:, :-1], self.factor_value(codes[:, -1])

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        assert self.center is not None and self.projection is not None
        u, s = self.split(codes)
        v = (2 * u - (self.levels - 1)).to(torch.float64)
        return (self.center + (s.to(torch.float64)[:, None] * v) @ self.projection).to(torch.float32)

    def _num_bits(self) -> int:
        return 8 * self.code_bytes + self.factor_bits

    def pack(self, codes: torch.Tensor) -> np.ndarray:
        """Code bytes (``pack_uint`` layout) followed by the factor: float16 (2 bytes) or one log-scale byte."""
        if codes.shape[1] != self.code_dims + 1:
            raise ValueError(f"codes must have {self.code_dims + 1} columns, got {codes.shape[1]}")
        stored = codes[:, -1]
        if self.factor_bits == 16:
            factor = stored.to(torch.int16).numpy().view(np.uint8).reshape(-1, 2)
        else:
            factor = stored.to(torch.uint8).numpy().reshape(-1, 1)
        return np.concatenate([pack_uint(codes[:, :-1], self.level_bits), factor], axis=1)

    def packed_factors(self, packed: np.ndarray) -> torch.Tensor:
        """The factors ``s`` (float32 ``[N]``) stored after the code bytes of ``packed``."""
        raw = np.ascontiguousarray(packed[:, self.code_bytes :])
        stored = raw.view(np.int16).reshape(-1) if self.factor_bits == 16 else raw.reshape(-1)
        return self.factor_value(torch.from_numpy(stored.astype(np.int64)))

    def unpack(self, packed: np.ndarray) -> torch.Tensor:
        check_packed("packed", packed, self.num_bits)
        u = byte_table(self.level_bits)[packed[:, : self.code_bytes]].reshape(packed.shape[0], -1)
        raw = np.ascontiguousarray(packed[:, self.code_bytes :])
        stored = raw.view(np.int16) if self.factor_bits == 16 else raw
        return torch.cat(
            [
                torch.from_numpy(u[:, : self.code_dims].astype(np.int64)),
                torch.from_numpy(stored.reshape(-1, 1).astype(np.int64)),
            ],
            1,
        )


class AsymmetricIndex:
    """Brute-force top-``k`` by the asymmetric estimate ``<c, q> + s <v, P q>`` over packed codes.

    Batches of at most ``lut_below`` queries use a lookup table per query, ``T[j, byte] = sum_i z_(j,i)
    value_i(byte)`` (``z = P q`` grouped by code byte ``j``), and sum ``T[j, code_j]`` over the code bytes (the
    compiled scan of :mod:`neuromorph.compress.native`, or torch gathers). Larger batches unpack each chunk of
    codes to bits once and score it with one matrix product:
    ``<z, v> = sum_(d,p) 2^(p+1) z_d bit_(d,p) - (L - 1) sum_d z_d``.

    >>> x = torch.nn.functional.normalize(torch.randn(600, 16), dim=1)
    >>> index = AsymmetricIndex(RaBitQQuantizer(bits_per_dim=4).fit(x[:300])).add(x[300:])
    >>> scores, ids = index.search(x[300:303], 1)
    >>> index.ntotal, ids.flatten().tolist()              # each query finds itself
    (300, [0, 1, 2])
    """

    def __init__(self, quantizer: RaBitQQuantizer, chunk: int = 16384, lut_below: int = 8) -> None:
        if not isinstance(quantizer, RaBitQQuantizer) or quantizer.dim is None:
            raise TypeError("quantizer must be a fitted RaBitQQuantizer")
        self.quantizer, self.chunk, self.lut_below = quantizer, chunk, lut_below
        self.per_byte = 8 // quantizer.level_bits
        levels = byte_table(quantizer.level_bits).astype(np.float32)
        self.values = torch.from_numpy(2 * levels - (quantizer.levels - 1))  # [256, per_byte]
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
        self.codes = np.concatenate([self.codes, np.ascontiguousarray(packed[:, : q.code_bytes])])
        self.factors = torch.cat([self.factors, q.packed_factors(packed)])
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
            idx = torch.from_numpy(block.astype(np.int64)).T  # [bytes, n]
            return torch.stack([torch.gather(t, 1, idx).sum(0) for t in lut])  # [Q, n]

        return self._scan(z.shape[0], k, block_scores)

    def _search_matmul(self, z: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        weights = (z[:, :, None] * self.bit_weights).reshape(z.shape[0], -1)  # [Q, bytes * 8]
        bias = (self.quantizer.levels - 1) * z.sum(1, keepdim=True)

        def block_scores(block: np.ndarray) -> torch.Tensor:
            bits = torch.from_numpy(np.unpackbits(block, axis=1, bitorder="little")).to(torch.float32)
            return weights @ bits.T - bias

        return self._scan(z.shape[0], k, block_scores)

    def _scan(self, num_queries: int, k: int, block_scores) -> tuple[torch.Tensor, torch.Tensor]:
        best_s = torch.full((num_queries, k), -torch.inf)
        best_i = torch.zeros((num_queries, k), dtype=torch.int64)
        for start in range(0, self.ntotal, self.chunk):
            block = self.codes[start : start + self.chunk]
            scores = block_scores(block) * self.factors[start : start + self.chunk]
            top_s, top_i = torch.topk(torch.cat([best_s, scores], 1), k, dim=1)
            all_i = torch.cat([best_i, torch.arange(start, start + block.shape[0]).expand(num_queries, -1)], 1)
            best_s, best_i = top_s, torch.gather(all_i, 1, top_i)
        return best_s, best_i
