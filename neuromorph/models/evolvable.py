"""Evolvable spiking network: compile a :class:`~neuromorph.models.genome.Genome` into a sparse SNN, run it,
and evolve a population by mutation, (mu + lambda) selection with elitism, and pruning.

Compiled network (:func:`compile_genome`, :func:`evolved_step`). Non-input neurons are numbered outputs first,
then hidden; input synapses act within the step, recurrent synapses (from any non-input neuron, including
self-loops) with a one-step delay::

    I_t[i] = sum_{(c -> i)} w * x_t[c]  +  sum_{(j -> i)} w * s_{t-1}[j]      (index gather + index_add_)
    v_pre  = beta * v_{t-1} + I_t,  beta = exp(-1 / tau)
    s_t    = H(v_pre - threshold);  v_t = v_pre * (1 - s_t)                  (reset to zero)

Class scores after ``T`` steps (:func:`run_evolved`): ``score_k = count_k + clip(v_T[k] / threshold_k, 0, 1)``
for output ``k`` (spike count plus the fraction of the way to the next spike, a tie-breaker); the prediction is
``argmax_k score_k``.

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
import torch
from torch import Tensor, nn

from neuromorph.models.genome import Genome, MutationConfig, minimal_genome, mutate, prune
from neuromorph.utils import check_tensor, progress


class EvolvedParams(NamedTuple):
    n_inputs: int
    beta: Tensor          # [n] decay of the non-input neurons (outputs first, then hidden)
    threshold: Tensor     # [n]
    in_src: Tensor        # [E_in] input channel of each input synapse
    in_dst: Tensor        # [E_in] target neuron index
    in_w: Tensor          # [E_in]
    rec_src: Tensor       # [E_rec] presynaptic neuron index
    rec_dst: Tensor       # [E_rec]
    rec_w: Tensor         # [E_rec]
    n_outputs: int
    ids: tuple[int, ...]  # genome id of every non-input neuron, in index order


class EvolvedState(NamedTuple):
    v: Tensor       # [B, n]
    spikes: Tensor  # [B, n] last step's spikes


def compile_genome(g: Genome, dtype: torch.dtype = torch.float32) -> EvolvedParams:
    """Turn a genome into index tensors for :func:`evolved_step` (disabled synapses are left out)."""
    if not isinstance(g, Genome):
        raise TypeError(f"g must be a Genome, got {type(g).__name__}")
    inputs = [n for n in g.neurons if n.kind == "input"]
    body = [n for n in g.neurons if n.kind == "output"] + [n for n in g.neurons if n.kind == "hidden"]
    in_index = {n.id: i for i, n in enumerate(inputs)}
    index = {n.id: i for i, n in enumerate(body)}
    syn = [s for s in g.synapses if s.enabled]
    ins = [s for s in syn if s.pre in in_index]
    recs = [s for s in syn if s.pre in index]

    def t(vals: list, dt: torch.dtype) -> Tensor:
        return torch.tensor(vals, dtype=dt)

    return EvolvedParams(
        len(inputs), torch.exp(-1.0 / t([n.tau for n in body], dtype)), t([n.threshold for n in body], dtype),
        t([in_index[s.pre] for s in ins], torch.long), t([index[s.post] for s in ins], torch.long),
        t([s.weight for s in ins], dtype),
        t([index[s.pre] for s in recs], torch.long), t([index[s.post] for s in recs], torch.long),
        t([s.weight for s in recs], dtype), g.n_outputs, tuple(n.id for n in body))


def evolved_step(x: Tensor, state: EvolvedState, params: EvolvedParams) -> tuple[Tensor, EvolvedState]:
    """One step; ``x``: input spikes ``[B, n_inputs]``. Returns ``(spikes [B, n], state)``."""
    current = torch.zeros_like(state.v)
    if params.in_w.numel():
        current.index_add_(1, params.in_dst, x[:, params.in_src] * params.in_w)
    if params.rec_w.numel():
        current.index_add_(1, params.rec_dst, state.spikes[:, params.rec_src] * params.rec_w)
    v_pre = params.beta * state.v + current
    spikes = (v_pre >= params.threshold).to(v_pre.dtype)
    return spikes, EvolvedState(v_pre * (1 - spikes), spikes)


@torch.no_grad()
def run_evolved(params: EvolvedParams, x_seq: Tensor) -> tuple[Tensor, Tensor]:
    """Run ``x_seq [T, B, n_inputs]``. Returns ``(scores [B, n_outputs], spike counts [B, n])``."""
    check_tensor("x_seq", x_seq, ndim=3, floating=True)
    if x_seq.shape[-1] != params.n_inputs:
        raise ValueError(f"x_seq must have shape [T, B, {params.n_inputs}], got {tuple(x_seq.shape)}")
    B, n = x_seq.shape[1], params.beta.numel()
    z = torch.zeros(B, n, dtype=x_seq.dtype)
    st = EvolvedState(z, z)
    counts = torch.zeros(B, n, dtype=x_seq.dtype)
    for t in range(x_seq.shape[0]):
        s, st = evolved_step(x_seq[t], st, params)
        counts += s
    k = params.n_outputs
    scores = counts[:, :k] + (st.v[:, :k] / params.threshold[:k]).clamp(0.0, 1.0)
    return scores, counts


class EvolvedSNN(nn.Module):
    """Thin module around a compiled genome: ``forward(x_seq [T, B, n_in]) -> scores [B, n_out]``."""

    def __init__(self, genome: Genome) -> None:
        super().__init__()
        self.genome = genome
        self.compiled = compile_genome(genome)

    def forward(self, x_seq: Tensor) -> Tensor:
        return run_evolved(self.compiled, x_seq)[0]

    def predict(self, x_seq: Tensor) -> Tensor:
        return self(x_seq).argmax(1)


def fitness(scores: Tensor, labels: Tensor, n_synapses: int = 0, size_penalty: float = 0.0) -> tuple[float, float]:
    """``(fitness, accuracy)`` as defined in the module docstring."""
    acc = float((scores.argmax(1) == labels).float().mean())
    correct = scores.gather(1, labels[:, None])[:, 0]
    other = scores.scatter(1, labels[:, None], float("-inf")).max(1).values
    margin = float((correct - other).clamp(-1.0, 1.0).mean())
    return acc + 0.1 * margin - size_penalty * n_synapses, acc


# ------------------------------------------------------------------------------------------------ tasks

class Task(NamedTuple):
    name: str
    x_train: Tensor  # [T, B, n_in] spikes
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    description: str


def make_task(name: str = "digits", seed: int = 0, steps: int | None = None, n_train: int = 400) -> Task:
    """Build a fixed (seeded) spike data set.

    * ``"digits"``: sklearn digits, classes 0-3 (4 outputs), images average-pooled 2x2 to 4x4 (16 inputs),
      rate-coded: pixel ``p in [0, 1]`` spikes with probability ``p`` at each of ``steps`` (default 20) steps
      (one fixed draw). ``n_train`` random images for fitness, the other ~320 of classes 0-3 for testing.
    * ``"xor"``: temporal XOR. Two inputs each spike once, early (step 1) or late (step 5); class 1 if the two
      times differ, class 0 if they coincide. 4 patterns, each repeated 8 times, same set for train and test;
      ``steps`` defaults to 10.
    """
    g = torch.Generator().manual_seed(seed)
    if steps is None:
        steps = 20 if name == "digits" else 10
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
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
        return Task(name, x[:, tr], y[tr], x[:, te], y[te],
                    f"sklearn digits 0-3, 4x4 pooled, Bernoulli rate code over {steps} steps, "
                    f"{len(tr)} train / {len(te)} test")
    if name == "xor":
        if steps < 7:
            raise ValueError(f"steps must be >= 7 for the xor task, got {steps}")
        pats = [(1, 1), (1, 5), (5, 1), (5, 5)]
        x = torch.zeros(steps, 4, 2)
        for b, (ta, tb) in enumerate(pats):
            x[ta, b, 0] = 1.0
            x[tb, b, 1] = 1.0
        y = torch.tensor([0, 1, 1, 0])
        x, y = x.repeat(1, 8, 1), y.repeat(8)
        return Task(name, x, y, x.clone(), y.clone(), "temporal XOR of two spike times (early=1, late=5)")
    raise ValueError(f"name must be 'digits' or 'xor', got {name!r}")


# ------------------------------------------------------------------------------------------------ evolution

@dataclass(frozen=True)
class EvolutionConfig:
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
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.size_penalty < 0 or self.prune_eps < 0:
            raise ValueError("size_penalty and prune_eps must be non-negative")


@dataclass
class EvolutionResult:
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


def evolve(task: Task, cfg: EvolutionConfig = EvolutionConfig(), seed: int = 0, show_progress: bool | None = None,
           callback: Optional[Callable[[int, dict], None]] = None) -> EvolutionResult:
    """Run (mu + lambda) evolution on ``task``; deterministic for a given ``seed``. See the module docstring."""
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

    pop = [assess(minimal_genome(n_in, n_out, rng, cfg.connect_prob, cfg.mutation.init_std))
           for _ in range(cfg.mu)]
    history: dict[str, list[float]] = {"best": [], "mean": [], "best_acc": [], "hidden": [], "synapses": []}
    for gen in progress(range(cfg.generations), desc="evolve", total=cfg.generations, enable=show_progress):
        children = []
        for _ in range(cfg.lam):
            picks = rng.integers(len(pop), size=cfg.tournament)
            parent = max((pop[int(i)] for i in picks), key=lambda e: e[0])[2]
            children.append(assess(mutate(parent, rng, cfg.mutation)))
        # stable sort with children listed first: on equal fitness a child replaces its parent (neutral drift,
        # which lets structure accumulate across fitness plateaus)
        pop = sorted(children + pop, key=lambda e: -e[0])[:cfg.mu]
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
