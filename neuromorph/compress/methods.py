"""The project's compression methods as benchmark rows (:class:`~neuromorph.compress.faiss_anchors.MethodSpec`).

Each quantiser is fitted on the fit split, encodes the database, and is searched by the engine its codes allow:

* Hamming codes (``hamming = True``: sign, ITQ, SimHash, thermometer, Matryoshka): FAISS ``IndexBinaryFlat``
  (popcount), queries encoded the same way (symmetric);
* RaBitQ-style codes: :class:`~neuromorph.compress.rabitq.AsymmetricIndex` (float query, asymmetric estimate);
* Sigma-Delta (``l1`` / ``euclidean``): brute-force distance over the decoded vectors;
* everything else (float32, scalar, ternary, population and spike-count codes): inner-product search over the
  decoded, unit-normalised vectors.

Names: ``float``, ``int8``, ``scalarK``, ``ternary``, ``thermoL``, ``sign``, ``signraw``, ``simhashM``,
``csimhashM``, ``itqM`` (M <= D bits), ``rabitqB-M`` / ``rabitqB-M-itq`` (B bits on M rotated dimensions,
random / ITQ rotation; suffix ``-f8``: one-byte factor), ``sdR-M`` / ``sdgR-M`` (Sigma-Delta),
``matryoshka[-P1-P2..]`` (one row per prefix), ``populationNxT`` (spike raster), ``spikecountNxT`` (spike counts),
and every ``faiss-...`` anchor of :mod:`neuromorph.compress.faiss_anchors`.

>>> [m.name for m in parse_methods(["sign", "rabitq2-48-itq", "faiss-pq8"], dim=384)]
['sign', 'rabitq 2b x 48 itq', 'faiss IndexPQ 8x8']
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
import torch

from neuromorph.compress.faiss_anchors import Built, MethodSpec, parse_faiss
from neuromorph.compress.itq import ITQQuantizer
from neuromorph.compress.matryoshka import MatryoshkaBinary
from neuromorph.compress.population_code import PopulationCodeQuantizer, SpikeCountQuantizer
from neuromorph.compress.quantize import (
    Quantizer,
    ScalarQuantizer,
    SignQuantizer,
    SimHashQuantizer,
    TernaryQuantizer,
    ThermometerQuantizer,
)
from neuromorph.compress.rabitq import AsymmetricIndex, RaBitQQuantizer
from neuromorph.compress.search import BinaryIndex, _faiss, distance_search
from neuromorph.compress.sigma_delta import SigmaDeltaQuantizer
from neuromorph.compress.splits import unit_rows

SD_BLOCKS = {1: 16, 2: 15, 3: 16}


def _float_index(vectors: torch.Tensor):
    index = _faiss().IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors.numpy(), dtype=np.float32))
    return index


def float_method() -> MethodSpec:
    """Exact float32 search (the ground-truth engine; recall 1 by construction).

    >>> built = float_method().build(torch.randn(5, 4), torch.eye(4))
    >>> built.bytes_per_vector, built.search(np.eye(4, dtype="float32")[2:3], 1).tolist()
    (16, [[2]])
    """

    def build(fit: torch.Tensor, database: torch.Tensor) -> Built:
        t0 = time.perf_counter()
        index = _float_index(database)
        return Built(
            4 * database.shape[1], lambda q, k: index.search(q, k)[1], lambda x: (x, "cosine"), time.perf_counter() - t0
        )

    return MethodSpec("float32", "neuromorph", build)


def quantizer_method(name: str, fit_quantizer: Callable[[torch.Tensor], Quantizer]) -> MethodSpec:
    """Row for a quantiser: ``fit_quantizer(fit)`` returns it fitted; the search engine follows its codes.

    >>> spec = quantizer_method("sign", lambda fit: SignQuantizer().fit(fit))
    >>> built = spec.build(torch.randn(50, 16), torch.randn(30, 16))
    >>> spec.family, built.bytes_per_vector, built.search(np.random.rand(2, 16).astype("float32"), 5).shape
    ('neuromorph', 2, (2, 5))
    """

    def build(fit: torch.Tensor, database: torch.Tensor) -> Built:
        t0 = time.perf_counter()
        quant = fit_quantizer(fit)

        def decode_words(x: torch.Tensor) -> tuple[torch.Tensor, str]:
            return quant.decode(quant.encode(x)), quant.metric

        if isinstance(quant, RaBitQQuantizer):
            index = AsymmetricIndex(quant).add(database)
            search = lambda q, k: index.search(torch.from_numpy(q), k)[1]
        elif quant.hamming:
            packed = quant.pack(quant.encode(database))
            binary = BinaryIndex(8 * packed.shape[1]).add(packed)
            search = lambda q, k: binary.search(quant.pack(quant.encode(torch.from_numpy(q))), k)[1]
        elif quant.metric in ("l1", "euclidean"):
            decoded = quant.decode(quant.encode(database))
            p = 1.0 if quant.metric == "l1" else 2.0
            search = lambda q, k: distance_search(quant.decode(quant.encode(torch.from_numpy(q))), decoded, k, p=p)
        else:
            flat = _float_index(unit_rows(quant.decode(quant.encode(database))))
            search = lambda q, k: flat.search(
                np.ascontiguousarray(unit_rows(quant.decode(quant.encode(torch.from_numpy(q)))).numpy()), k
            )[1]
        return Built(quant.bytes_per_vector, search, decode_words, time.perf_counter() - t0)

    return MethodSpec(name, "neuromorph", build)


class _SharedMatryoshka:
    """Trains one Matryoshka code per fit split (keyed by tensor identity) and hands out its prefixes."""

    def __init__(self, prefixes: Sequence[int], **kwargs) -> None:
        self.prefixes, self.kwargs = tuple(prefixes), kwargs
        self.cache: dict[tuple, MatryoshkaBinary] = {}

    def fitter(self, m: int) -> Callable[[torch.Tensor], Quantizer]:
        def fit(x: torch.Tensor) -> Quantizer:
            key = (x.data_ptr(), tuple(x.shape))
            if key not in self.cache:
                self.cache[key] = MatryoshkaBinary(self.prefixes, **self.kwargs).fit(x)
            return self.cache[key].prefix(m)

        return fit


def matryoshka_prefixes(dim: int) -> tuple[int, ...]:
    """64/128/256/384 bits plus ``8 * floor(dim / 8)`` (one bit per dimension, byte aligned).

    >>> matryoshka_prefixes(384), matryoshka_prefixes(50)
    ((64, 128, 256, 384), (48, 64, 128, 256, 384))
    """
    return tuple(sorted({64, 128, 256, 384, 8 * max(1, dim // 8)}))


def _ints(parts: Sequence[str], name: str, form: str) -> list[int]:
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"{name!r}: expected {form}")
    return [int(p) for p in parts]


def parse_methods(names: Sequence[str], dim: int, seed: int = 0, matryoshka_steps: int = 400) -> list[MethodSpec]:
    """Method rows from their names (module docstring).

    >>> [(m.name, m.family) for m in parse_methods(["sign", "faiss-sq4"], dim=16)]
    [('sign', 'neuromorph'), ('faiss IndexScalarQuantizer 4b', 'faiss')]
    """
    out: list[MethodSpec] = []
    for name in names:
        # factories are called without arguments; lambdas bind the loop's values as defaults, hence `...`
        def q(factory: Callable[..., Quantizer], label: str = name) -> MethodSpec:
            return quantizer_method(label, lambda x: factory().fit(x))

        if name.startswith("faiss-"):
            out.append(parse_faiss(name))
        elif name == "float":
            out.append(float_method())
        elif name == "int8":
            out.append(q(lambda: ScalarQuantizer(8)))
        elif name.startswith("scalar") and name[6:].isdigit():
            out.append(q(lambda k=int(name[6:]): ScalarQuantizer(k, clip_quantile=0.001)))
        elif name == "ternary":
            out.append(q(TernaryQuantizer))
        elif name.startswith("thermo") and name[6:].isdigit():
            out.append(q(lambda lv=int(name[6:]): ThermometerQuantizer(lv, clip_quantile=0.001)))
        elif name == "sign":
            out.append(q(SignQuantizer))
        elif name == "signraw":
            out.append(q(lambda: SignQuantizer(center=False), "sign (uncentred)"))
        elif name.startswith("simhash") and name[7:].isdigit():
            out.append(q(lambda m=int(name[7:]): SimHashQuantizer(m, seed=seed)))
        elif name.startswith("csimhash") and name[8:].isdigit():
            out.append(
                q(lambda m=int(name[8:]): SimHashQuantizer(m, center=True, seed=seed), f"simhash{name[8:]} centred")
            )
        elif name.startswith("itq") and name[3:].isdigit():
            out.append(q(lambda m=int(name[3:]): ITQQuantizer(m, seed=seed), f"itq {name[3:]}b"))
        elif name.startswith("rabitq"):
            parts = name[6:].split("-")
            factor_bits = 8 if parts[-1] == "f8" else 16
            parts = parts[:-1] if factor_bits == 8 else parts
            rotation = "itq" if parts[-1] == "itq" else "random"
            parts = parts[:-1] if rotation == "itq" else parts
            form = "rabitqB-M[-itq][-f8] (B bits, M dimensions, ITQ rotation, 1-byte factor)"
            bits, dims = _ints(parts if len(parts) == 2 else [], name, form)
            out.append(
                q(
                    lambda b=bits, m=dims, r=rotation, f=factor_bits: RaBitQQuantizer(
                        b, m, r, seed=seed, factor_bits=f
                    ),
                    f"rabitq {bits}b x {dims} {rotation}" + (" f8" if factor_bits == 8 else ""),
                )
            )
        elif name.startswith("sd") and "-" in name:
            gaussian = name.startswith("sdg")
            order, bits = _ints(name[3 if gaussian else 2 :].split("-", 1), name, "sdR-M / sdgR-M (R in 1..3, M bits)")
            if order not in SD_BLOCKS:
                raise ValueError(f"Sigma-Delta methods are named sdR-M / sdgR-M (R in 1..3, M bits), got {name!r}")
            if gaussian:
                out.append(
                    q(
                        lambda r=order, m=bits: SigmaDeltaQuantizer(
                            r, m, SD_BLOCKS[r], frame="gaussian", clip_quantile=0.999, seed=seed
                        ),
                        f"sigma-delta r{order} gauss {bits}b",
                    )
                )
            else:
                out.append(
                    q(
                        lambda r=order, m=bits: SigmaDeltaQuantizer(
                            r, m, frame="repeat", clip_quantile=0.99, seed=seed
                        ),
                        f"sigma-delta r{order} {bits}b",
                    )
                )
        elif name.startswith("matryoshka"):
            parts = name.split("-")[1:]
            prefixes = (
                tuple(_ints(parts, name, "matryoshka-P1-P2 (prefix bits)")) if parts else matryoshka_prefixes(dim)
            )
            weights = (3.0,) + (1.0,) * (len(prefixes) - 1)  # emphasise the shortest prefix
            shared = _SharedMatryoshka(prefixes, prefix_weights=weights, steps=matryoshka_steps, seed=seed)
            out += [quantizer_method(f"matryoshka {m}b", shared.fitter(m)) for m in prefixes]
        elif name.startswith(("population", "spikecount")):
            spiking = name.startswith("population")
            n, t = _ints(name[10:].split("x"), name, "populationNxT / spikecountNxT")
            cls = PopulationCodeQuantizer if spiking else SpikeCountQuantizer
            out.append(
                q(
                    lambda n=n, t=t, cls=cls: cls(n, t, seed=seed),
                    f"{'population' if spiking else 'spike count'} {n}x{t}",
                )
            )
        else:
            raise ValueError(
                f"unknown method {name!r}; known: float, int8, scalarK, ternary, thermoL, sign, signraw, "
                "simhashM, csimhashM, itqM, rabitqB-M[-itq], sdR-M, sdgR-M, matryoshka[-P1-P2], "
                "populationNxT, spikecountNxT, faiss-..."
            )
    return out


DEFAULT_METHODS = {
    "glove": (
        "float",
        "int8",
        "sign",
        "itq48",
        "matryoshka",
        "rabitq1-48-itq",
        "rabitq1-50-itq",
        "rabitq2-50-itq",
        "rabitq2-50",
        "rabitq4-50",
        "population4x1",
        "population8x4",
        "spikecount4x2",
        "spikecount8x4",
        "faiss-pq5",
        "faiss-pq10",
        "faiss-pq25",
        "faiss-pq50",
        "faiss-rabitq",
        "faiss-rabitq2",
        "faiss-lsh64",
        "faiss-lsh128",
        "faiss-lsh256",
        "faiss-lsh384",
        "faiss-sq4",
        "faiss-sq8",
        "faiss-ivfpq10",
    ),
    "minilm": (
        "float",
        "int8",
        "sign",
        "itq64",
        "itq128",
        "itq256",
        "itq384",
        "matryoshka",
        "rabitq1-48-itq",
        "rabitq1-112-itq",
        "rabitq2-56-itq",
        "rabitq1-240-itq",
        "rabitq2-120-itq",
        "rabitq1-368-itq",
        "rabitq2-184-itq",
        "rabitq4-92",
        "population4x1",
        "spikecount4x2",
        "faiss-pq8",
        "faiss-pq16",
        "faiss-pq32",
        "faiss-pq48",
        "faiss-rabitq",
        "faiss-lsh64",
        "faiss-lsh128",
        "faiss-lsh256",
        "faiss-lsh384",
        "faiss-sq4",
        "faiss-sq8",
        "faiss-ivfpq16",
    ),
}
