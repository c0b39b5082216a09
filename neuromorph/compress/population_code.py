"""Spike-train population codes of embeddings, as one more "compression" method.

Each component ``x_d`` is coded by ``N`` Gaussian-tuned neurons (``neuromorph.encoding.PopulationEncoder``,
preferred values evenly spaced over the calibrated range ``[low, high]``), emitting Bernoulli spikes for ``T``
steps. The stored code is the full spike raster, ``D * N * T`` bits per vector (order: step, dimension,
neuron). Decoding sums the spikes over time and takes each population's count-weighted mean of preferred
values: ``x_hat_d = sum_i c_di p_i / sum_i c_di``.

:class:`SpikeCountQuantizer` stores only what that decoder reads: the count ``c_di in [0, T]`` of each neuron,
``ceil(log2(T + 1))`` bits per neuron, ``D * N * ceil(log2(T + 1))`` bits per vector (same spikes, same
decoded vectors, fewer bytes than the raster when ``T > 1``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from neuromorph.compress.packing import check_packed, pack_uint, unpack_uint
from neuromorph.compress.quantize import Quantizer
from neuromorph.encoding.population import PopulationEncoder
from neuromorph.utils import check_positive_int


class PopulationCodeQuantizer(Quantizer):
    """Spike-raster population code (``num_neurons`` per dimension, ``num_steps`` steps).

    >>> x = torch.nn.functional.normalize(torch.randn(100, 4), dim=1)
    >>> q = PopulationCodeQuantizer(num_neurons=4, num_steps=3).fit(x)
    >>> codes = q.encode(x[:2])
    >>> q.num_bits, codes.shape, q.decode(codes).shape
    (48, torch.Size([2, 48]), torch.Size([2, 4]))
    """

    def __init__(
        self,
        num_neurons: int = 8,
        num_steps: int = 4,
        clip_quantile: float = 0.001,
        sigma: float | None = None,
        r_max: float = 1.0,
        seed: int = 0,
        chunk: int = 8192,
    ) -> None:
        super().__init__()
        check_positive_int("num_steps", num_steps)
        if not 0.0 <= clip_quantile < 0.5:
            raise ValueError(f"clip_quantile must be in [0, 0.5), got {clip_quantile}")
        self.num_neurons, self.num_steps, self.clip_quantile = num_neurons, num_steps, clip_quantile
        self.sigma, self.r_max, self.seed, self.chunk = sigma, r_max, seed, chunk
        self.name = f"population{num_neurons}x{num_steps}"
        self.encoder: PopulationEncoder | None = None

    def _fit(self, x: torch.Tensor) -> None:
        flat = x.flatten().to(torch.float64)[: 2**24]
        low = float(torch.quantile(flat, self.clip_quantile))
        high = float(torch.quantile(flat, 1 - self.clip_quantile))
        self.encoder = PopulationEncoder(self.num_neurons, low, high, sigma=self.sigma, r_max=self.r_max)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        assert self.encoder is not None
        gen = torch.Generator().manual_seed(self.seed)
        out = []
        for start in range(0, x.shape[0], self.chunk):
            spikes = self.encoder.encode(x[start : start + self.chunk].to(torch.float32), self.num_steps, gen)
            out.append(spikes.to(torch.uint8).permute(1, 0, 2, 3).reshape(spikes.shape[1], -1))
        return torch.cat(out)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        assert self.encoder is not None and self.dim is not None
        counts = codes.reshape(codes.shape[0], self.num_steps, self.dim, self.num_neurons).sum(1)
        return self.encoder.decode(counts.to(torch.float32))

    def _num_bits(self) -> int:
        return self.num_steps * self._fitted_dim() * self.num_neurons


class SpikeCountQuantizer(PopulationCodeQuantizer):
    """Per-neuron spike counts of :class:`PopulationCodeQuantizer` (``[N, D * num_neurons]`` ints in ``[0, T]``).

    >>> import torch
    >>> x = torch.nn.functional.normalize(torch.randn(100, 8), dim=1)
    >>> q = SpikeCountQuantizer(4, 3).fit(x)
    >>> q.num_bits, q.encode(x).max() <= 3
    (64, tensor(True))
    """

    def __init__(self, num_neurons: int = 8, num_steps: int = 4, **kwargs) -> None:
        super().__init__(num_neurons, num_steps, **kwargs)
        self.count_bits = max(1, math.ceil(math.log2(num_steps + 1)))
        self.name = f"spikecount{num_neurons}x{num_steps}"

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        raster = super()._encode(x)
        return raster.reshape(raster.shape[0], self.num_steps, -1).sum(1, dtype=torch.int64)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        assert self.encoder is not None and self.dim is not None
        return self.encoder.decode(codes.reshape(codes.shape[0], self.dim, self.num_neurons).to(torch.float32))

    def _num_bits(self) -> int:
        return self._fitted_dim() * self.num_neurons * self.count_bits

    def pack(self, codes: torch.Tensor) -> np.ndarray:
        return pack_uint(codes, self.count_bits)

    def unpack(self, packed: np.ndarray) -> torch.Tensor:
        check_packed("packed", packed, self.num_bits)
        return torch.from_numpy(unpack_uint(packed, self._fitted_dim() * self.num_neurons, self.count_bits))
