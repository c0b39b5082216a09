"""Training at scale: DDP plumbing, mixed precision, per-epoch checkpoints with exact resume, a generic loop."""
from neuromorph.training.amp import Amp
from neuromorph.training.checkpoint import (capture_rng_state, latest_checkpoint, load_checkpoint,
                                            restore_rng_state, save_checkpoint)
from neuromorph.training.ddp import DistEnv, init_distributed
from neuromorph.training.trainer import (DATASETS, MODELS, TrainConfig, TrainResult, build_data, build_model,
                                         save_training_curve, train)

__all__ = ["Amp", "DATASETS", "DistEnv", "MODELS", "TrainConfig", "TrainResult", "build_data", "build_model",
           "capture_rng_state", "init_distributed", "latest_checkpoint", "load_checkpoint", "restore_rng_state",
           "save_checkpoint", "save_training_curve", "train"]
