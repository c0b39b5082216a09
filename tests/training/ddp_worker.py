"""Worker for test_ddp.py, run under torchrun: trains a tiny Spikformer and saves this rank's final state.

Usage: python -m torch.distributed.run --standalone --nnodes 1 --nproc_per_node 2 ddp_worker.py OUT_DIR
"""
import os
import sys

import torch

from neuromorph.training import TrainConfig, train
from neuromorph.training.ddp import cleanup

torch.set_num_threads(1)
out_dir = sys.argv[1]
cfg = TrainConfig(model="spikformer", dataset="digits", epochs=2, batch_size=16, lr=3e-3, dim=16, depth=1,
                  heads=2, mlp_ratio=2.0, T=2, limit_train=96, limit_test=64, device="cpu", show_progress=False)
result = train(cfg, log=None)
state = {k: v.detach().clone() for k, v in result.model.state_dict().items()}
torch.save({"state": state, "rank": result.rank, "world_size": result.world_size, "history": result.history},
           os.path.join(out_dir, f"rank{result.rank}.pt"))
cleanup()
