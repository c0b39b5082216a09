"""Training: the one loop (:func:`fit`) with its strategies (BPTT, online, three-factor), DDP plumbing, mixed
precision, per-epoch checkpoints with exact resume, and ``neuromorph train``'s models and data by name."""

from neuromorph.training.amp import Amp
from neuromorph.training.checkpoint import (
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from neuromorph.training.ddp import DistEnv, init_distributed
from neuromorph.training.loop import FitResult, fit
from neuromorph.training.strategies import BPTT, STRATEGIES, Online, Strategy, ThreeFactor, get_strategy
from neuromorph.training.trainer import (
    DATASETS,
    MODELS,
    TrainConfig,
    TrainResult,
    build_data,
    build_model,
    save_training_curve,
    train,
)

__all__ = [
    "Amp",
    "BPTT",
    "DATASETS",
    "DistEnv",
    "FitResult",
    "MODELS",
    "Online",
    "STRATEGIES",
    "Strategy",
    "ThreeFactor",
    "TrainConfig",
    "TrainResult",
    "build_data",
    "build_model",
    "capture_rng_state",
    "fit",
    "get_strategy",
    "init_distributed",
    "latest_checkpoint",
    "load_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
    "save_training_curve",
    "train",
]
