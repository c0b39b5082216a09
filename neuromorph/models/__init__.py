"""Spiking network models (training: :func:`neuromorph.training.fit`)."""

from neuromorph.models.cnn import SpikingCNN
from neuromorph.models.mlp import FeedForwardMLP, SpikingMLP
from neuromorph.models.spikformer import (
    FlatBatchNorm,
    SequenceEmbedding,
    SpikformerBlock,
    Spikformer,
    SpikingMLPBlock,
    SpikingSelfAttention,
    image_to_patches,
)
from neuromorph.models.transformer import TransformerClassifier
from neuromorph.models.lm import bits_per_token, generate
from neuromorph.models.spiking_lm import SpikingCharLM
from neuromorph.models.transformer_lm import TransformerCharLM
from neuromorph.models.reservoir import (
    ReservoirParams,
    ReservoirState,
    SparseSynapses,
    build_connectivity,
    make_synapses,
    propagate,
    reservoir_step,
)
from neuromorph.models.lsm import LiquidStateMachine, RidgeReadout, digits_rows, ridge_fit

__all__ = [
    "FeedForwardMLP",
    "FlatBatchNorm",
    "LiquidStateMachine",
    "ReservoirParams",
    "ReservoirState",
    "RidgeReadout",
    "SequenceEmbedding",
    "SparseSynapses",
    "SpikformerBlock",
    "Spikformer",
    "SpikingCNN",
    "SpikingCharLM",
    "SpikingMLP",
    "SpikingMLPBlock",
    "SpikingSelfAttention",
    "TransformerCharLM",
    "TransformerClassifier",
    "bits_per_token",
    "build_connectivity",
    "digits_rows",
    "generate",
    "image_to_patches",
    "make_synapses",
    "propagate",
    "reservoir_step",
    "ridge_fit",
]
