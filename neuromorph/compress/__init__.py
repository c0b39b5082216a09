"""Embedding compression: quantisers, Sigma-Delta and Matryoshka binary codes, packed storage, FAISS search.

Evaluation on GloVe / MiniLM lives in :mod:`neuromorph.compress.evaluate` (imported on demand, it needs the
``compress`` extra); the command line is ``neuromorph compress``.
"""

from neuromorph.compress.hadamard import RandomizedHadamard, fwht, hadamard_matrix
from neuromorph.compress.matryoshka import MatryoshkaBinary, MatryoshkaPrefix, matryoshka_loss, ste_sign
from neuromorph.compress.packing import (
    hamming_matrix,
    pack_bits,
    pack_trits,
    pack_uint,
    thermometer,
    unpack_bits,
    unpack_trits,
    unpack_uint,
)
from neuromorph.compress.population_code import PopulationCodeQuantizer
from neuromorph.compress.quantize import (
    Quantizer,
    ScalarQuantizer,
    SignQuantizer,
    SimHashQuantizer,
    TernaryQuantizer,
    ThermometerQuantizer,
    ternary_absmean,
)
from neuromorph.compress.search import BinaryIndex, distance_search, exact_search, recall_at_k, rescore
from neuromorph.compress.sigma_delta import (
    SigmaDeltaQuantizer,
    filter_coefficients,
    sigma_delta_quantize,
    sigma_delta_step,
    stability_bound,
)

__all__ = [
    "RandomizedHadamard",
    "fwht",
    "hadamard_matrix",
    "MatryoshkaBinary",
    "MatryoshkaPrefix",
    "matryoshka_loss",
    "ste_sign",
    "hamming_matrix",
    "pack_bits",
    "pack_trits",
    "pack_uint",
    "thermometer",
    "unpack_bits",
    "unpack_trits",
    "unpack_uint",
    "PopulationCodeQuantizer",
    "Quantizer",
    "ScalarQuantizer",
    "SignQuantizer",
    "SimHashQuantizer",
    "TernaryQuantizer",
    "ThermometerQuantizer",
    "ternary_absmean",
    "BinaryIndex",
    "distance_search",
    "exact_search",
    "recall_at_k",
    "rescore",
    "SigmaDeltaQuantizer",
    "filter_coefficients",
    "sigma_delta_quantize",
    "sigma_delta_step",
    "stability_bound",
]
