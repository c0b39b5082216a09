"""Evolutionary search over genomes: mutation, (mu + lambda) selection with elitism, pruning.

Fitness (:func:`fitness`): ``accuracy + 0.1 * mean(clip(score_y - max_{k != y} score_k, -1, 1))
- size_penalty * enabled_synapses``.

Evolution (:func:`evolve`): ``mu`` parents; each generation ``lam`` children, each a mutated copy of a parent
picked by a size-``tournament`` tournament; children are pruned (weak synapses, dead and silent hidden
neurons), the ``mu`` best of parents and children survive (so the best fitness never decreases; on ties
children win, allowing neutral drift across plateaus).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional

import numpy as np
from torch import Tensor

from neuromorph.evolution.compile import EvolvedParams, compile_genome, run_evolved
from neuromorph.evolution.genome import Genome, MutationConfig, minimal_genome, mutate, prune
from neuromorph.utils import check_positive_int, progress


class Task(NamedTuple):
    """A fixed spike data set to evolve on (``x``: ``[T, B, n_in]`` spikes).

    >>> import torch
    >>> x = torch.ones(3, 4, 2)
    >>> task = Task("toy", x, torch.zeros(4, dtype=torch.long), x, torch.zeros(4, dtype=torch.long), "all ones")
    >>> task.x_train.shape
    torch.Size([3, 4, 2])
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    description: str


def fitness(scores: Tensor, labels: Tensor, n_synapses: int = 0, size_penalty: float = 0.0) -> tuple[float, float]:
    """``(fitness, accuracy)`` as defined in the module docstring.

    >>> import torch
    >>> fit, acc = fitness(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
    >>> round(fit, 3), acc
    (0.5, 0.5)
    """
    acc = float((scores.argmax(1) == labels).float().mean())
    correct = scores.gather(1, labels[:, None])[:, 0]
    other = scores.scatter(1, labels[:, None], float("-inf")).max(1).values
    margin = float((correct - other).clamp(-1.0, 1.0).mean())
    return acc + 0.1 * margin - size_penalty * n_synapses, acc


@dataclass(frozen=True)
class EvolutionConfig:
    """Settings of the (mu + lambda) search of :func:`evolve` (module docstring).

    >>> EvolutionConfig(mu=4, lam=8, generations=2).tournament
    3
    """

    mu: int = 10
    lam: int = 30
    generations: int = 60
    tournament: int = 3
    size_penalty: float = 0.0
    prune_eps: float = 0.05
    connect_prob: float = 0.5
    mutation: MutationConfig = field(default_factory=MutationConfig)

    def __post_init__(self) -> None:
        for name in ("mu", "lam", "generations", "tournament"):
            v = getattr(self, name)
            check_positive_int(name, v)
        if self.size_penalty < 0 or self.prune_eps < 0:
            raise ValueError("size_penalty and prune_eps must be non-negative")


@dataclass
class EvolutionResult:
    """Outcome of :func:`evolve`: the best genome, its fitness and accuracies, and per-generation history.

    >>> import torch
    >>> x = (torch.rand(4, 8, 2) < 0.5).float()
    >>> task = Task("toy", x, torch.zeros(8, dtype=torch.long), x, torch.zeros(8, dtype=torch.long), "")
    >>> result = evolve(task, EvolutionConfig(mu=2, lam=2, generations=1), seed=0, show_progress=False)
    >>> isinstance(result.best, Genome), sorted(result.history)[:2]
    (True, ['best', 'best_acc'])
    """

    best: Genome
    best_fitness: float
    train_accuracy: float
    test_accuracy: float
    history: dict[str, list[float]]  # per generation: best, mean, best_acc, hidden, synapses


def _evaluate(g: Genome, x: Tensor, y: Tensor, size_penalty: float) -> tuple[float, float, Tensor, EvolvedParams]:
    p = compile_genome(g, x.dtype)
    scores, counts = run_evolved(p, x)
    fit, acc = fitness(scores, y, g.num_enabled, size_penalty)
    return fit, acc, counts.sum(0), p


def evolve(
    task: Task,
    cfg: EvolutionConfig = EvolutionConfig(),
    seed: int = 0,
    show_progress: bool | None = None,
    callback: Optional[Callable[[int, dict], None]] = None,
) -> EvolutionResult:
    """Run (mu + lambda) evolution on ``task``; deterministic for a given ``seed``. See the module docstring.

    >>> import torch
    >>> x = torch.zeros(4, 8, 2)
    >>> x[:, :4, 0] = 1.0; x[:, 4:, 1] = 1.0                # class = the active input channel
    >>> y = torch.tensor([0] * 4 + [1] * 4)
    >>> result = evolve(Task("toy", x, y, x, y, ""), EvolutionConfig(mu=2, lam=4, generations=2), seed=0,
    ...                 show_progress=False)
    >>> result.train_accuracy >= 0.5, len(result.history["best"])
    (True, 2)
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task (see make_task), got {type(task).__name__}")
    rng = np.random.default_rng(seed)
    n_in, n_out = task.x_train.shape[-1], int(task.y_train.max()) + 1
    x, y = task.x_train, task.y_train

    def assess(g: Genome) -> tuple[float, float, Genome]:
        fit, acc, counts, p = _evaluate(g, x, y, cfg.size_penalty)
        spk = {gid: float(c) for gid, c in zip(p.ids, counts.tolist())}
        pruned = prune(g, cfg.prune_eps, spk)
        if pruned is not g:  # pruning silent/dead parts keeps outputs; weak-synapse pruning may not: re-score
            fit, acc, _, _ = _evaluate(pruned, x, y, cfg.size_penalty)
        return fit, acc, pruned

    pop = [assess(minimal_genome(n_in, n_out, rng, cfg.connect_prob, cfg.mutation.init_std)) for _ in range(cfg.mu)]
    history: dict[str, list[float]] = {"best": [], "mean": [], "best_acc": [], "hidden": [], "synapses": []}
    for gen in progress(range(cfg.generations), desc="evolve", total=cfg.generations, enable=show_progress):
        children = []
        for _ in range(cfg.lam):
            picks = rng.integers(len(pop), size=cfg.tournament)
            parent = max((pop[int(i)] for i in picks), key=lambda e: e[0])[2]
            children.append(assess(mutate(parent, rng, cfg.mutation)))
        # stable sort with children listed first: on equal fitness a child replaces its parent (neutral drift,
        # which lets structure accumulate across fitness plateaus)
        pop = sorted(children + pop, key=lambda e: -e[0])[: cfg.mu]
        best = pop[0]
        history["best"].append(best[0])
        history["mean"].append(float(np.mean([e[0] for e in pop])))
        history["best_acc"].append(best[1])
        h, s = best[2].size()
        history["hidden"].append(float(h))
        history["synapses"].append(float(s))
        if callback is not None:
            callback(gen, {k: v[-1] for k, v in history.items()})
    best_fit, best_acc, best_g = pop[0]
    scores, _ = run_evolved(compile_genome(best_g), task.x_test)
    test_acc = float((scores.argmax(1) == task.y_test).float().mean())
    return EvolutionResult(best_g, best_fit, best_acc, test_acc, history)
