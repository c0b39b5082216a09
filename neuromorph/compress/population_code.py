"""Spike-train population codes of embeddings, as one more "compression" method.

Each component ``x_d`` is coded by ``N`` Gaussian-tuned neurons (``neuromorph.encoding.PopulationEncoder``,
preferred values evenly spaced over the calibrated range ``[low, high]``), emitting Bernoulli spikes for ``T``
steps. The stored code is the full spike raster, ``D * N * T`` bits per vector (order: step, dimension,
neuron). Decoding sums the spikes over time and takes each population's count-weighted mean of preferred
values: ``x_hat_d = sum_i c_di p_i / sum_i c_di``.
"""
from __future__ import annotations

import torch

from neuromorph.compress.quantize import Quantizer
from neuromorph.encoding.population import PopulationEncoder


class PopulationCodeQuantizer(Quantizer):
    """Spike-raster population code (``num_neurons`` per dimension, ``num_steps`` steps)."""

    def __init__(self, num_neurons: int = 8, num_steps: int = 4, clip_quantile: float = 0.001,
                 sigma: float | None = None, r_max: float = 1.0, seed: int = 0, chunk: int = 8192) -> None:
        super().__init__()
        if not isinstance(num_steps, int) or num_steps < 1:
            raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
        if not 0.0 <= clip_quantile < 0.5:
            raise ValueError(f"clip_quantile must be in [0, 0.5), got {clip_quantile}")
        self.num_neurons, self.num_steps, self.clip_quantile = num_neurons, num_steps, clip_quantile
        self.sigma, self.r_max, self.seed, self.chunk = sigma, r_max, seed, chunk
        self.name = f"population{num_neurons}x{num_steps}"
        self.encoder: PopulationEncoder | None = None

    def _fit(self, x: torch.Tensor) -> None:
        flat = x.flatten().to(torch.float64)[: 2 ** 24]
        low = float(torch.quantile(flat, self.clip_quantile))
        high = float(torch.quantile(flat, 1 - self.clip_quantile))
        self.encoder = PopulationEncoder(self.num_neurons, low, high, sigma=self.sigma, r_max=self.r_max)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        assert self.encoder is not None
        gen = torch.Generator().manual_seed(self.seed)
        out = []
        for start in range(0, x.shape[0], self.chunk):
            spikes = self.encoder.encode(x[start:start + self.chunk].to(torch.float32), self.num_steps, gen)
            out.append(spikes.to(torch.uint8).permute(1, 0, 2, 3).reshape(spikes.shape[1], -1))
        return torch.cat(out)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        assert self.encoder is not None and self.dim is not None
        counts = codes.reshape(codes.shape[0], self.num_steps, self.dim, self.num_neurons).sum(1)
        return self.encoder.decode(counts.to(torch.float32))

    def _num_bits(self) -> int:
        return self.num_steps * self._fitted_dim() * self.num_neurons
