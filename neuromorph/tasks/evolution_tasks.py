"""Spike data sets for ``neuromorph evolve``: pooled digits 0-3 and the spike-timing XOR."""

from __future__ import annotations

import torch

from neuromorph.evolution.search import Task
from neuromorph.utils import check_positive_int


def make_task(name: str = "digits", seed: int = 0, steps: int | None = None, n_train: int = 400) -> Task:
    """Build a fixed (seeded) spike data set.

    * ``"digits"``: sklearn digits, classes 0-3 (4 outputs), images average-pooled 2x2 to 4x4 (16 inputs),
      rate-coded: pixel ``p in [0, 1]`` spikes with probability ``p`` at each of ``steps`` (default 20) steps
      (one fixed draw). ``n_train`` random images for fitness, the other ~320 of classes 0-3 for testing.
    * ``"xor"``: temporal XOR. Two inputs each spike once, early or late; class 1 if the two times differ,
      class 0 if they coincide. Training uses times 1 / 5, the test set the same rule at times 2 / 6 (never seen
      in training), each of the 4 patterns repeated 8 times; ``steps`` defaults to 10.
    """
    g = torch.Generator().manual_seed(seed)
    if steps is None:
        steps = 20 if name == "digits" else 10
    check_positive_int("steps", steps)
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        keep = d.target < 4
        img = torch.tensor(d.images[keep] / 16.0, dtype=torch.float32)
        y = torch.tensor(d.target[keep], dtype=torch.long)
        pooled = img.reshape(-1, 4, 2, 4, 2).mean((2, 4)).reshape(-1, 16)
        x = (torch.rand(steps, *pooled.shape, generator=g) < pooled).float()
        perm = torch.randperm(len(y), generator=g)
        if not 0 < n_train < len(y):
            raise ValueError(f"n_train must lie in (0, {len(y)}), got {n_train}")
        tr, te = perm[:n_train], perm[n_train:]
        return Task(
            name,
            x[:, tr],
            y[tr],
            x[:, te],
            y[te],
            f"sklearn digits 0-3, 4x4 pooled, Bernoulli rate code over {steps} steps, {len(tr)} train / {len(te)} test",
        )
    if name == "xor":
        if steps < 8:
            raise ValueError(f"steps must be >= 8 for the xor task, got {steps}")

        def patterns(early: int, late: int) -> tuple[torch.Tensor, torch.Tensor]:
            times = [(early, early), (early, late), (late, early), (late, late)]
            x = torch.zeros(steps, 4, 2)
            for b, (ta, tb) in enumerate(times):
                x[ta, b, 0] = 1.0
                x[tb, b, 1] = 1.0
            return x.repeat(1, 8, 1), torch.tensor([0, 1, 1, 0]).repeat(8)

        x_train, y_train = patterns(1, 5)
        x_test, y_test = patterns(2, 6)  # held out: the same rule at spike times never seen in training
        return Task(
            name,
            x_train,
            y_train,
            x_test,
            y_test,
            "temporal XOR of two spike times: train early=1/late=5, test early=2/late=6",
        )
    raise ValueError(f"name must be 'digits' or 'xor', got {name!r}")
