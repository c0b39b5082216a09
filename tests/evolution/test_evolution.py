"""Evolvable SNN: genome validity, mutations, pruning, compiled kernel vs dense loop, deterministic evolution."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from neuromorph.evolution import (EvolutionConfig, EvolvedSNN, EvolvedState, compile_genome, evolve,
                                  evolved_step, fitness, run_evolved)
from neuromorph.evolution.genome import (Genome, MutationConfig, NeuronGene, SynapseGene, minimal_genome, mutate,
                                         prune, validate)
from neuromorph.tasks.evolution_tasks import make_task


pytestmark = pytest.mark.usefixtures("one_thread")


def _xor_solution() -> Genome:
    """Hand-built temporal-XOR network: output 0 detects coincidence, output 1 counts input spikes."""
    neurons = (NeuronGene(0, "input"), NeuronGene(1, "input"),
               NeuronGene(2, "output", 2.0, 1.5), NeuronGene(3, "output", 2.0, 1.0))
    syn = (SynapseGene(0, 2, 0.8), SynapseGene(1, 2, 0.8), SynapseGene(0, 3, 1.0), SynapseGene(1, 3, 1.0))
    return Genome(2, 2, neurons, syn, 4)


def _random_genome(seed: int = 0, steps: int = 40) -> Genome:
    rng = np.random.default_rng(seed)
    g = minimal_genome(3, 2, rng, connect_prob=1.0)
    cfg = MutationConfig(add_neuron=0.5, add_synapse=0.8, remove_neuron=0.0)
    for _ in range(steps):
        g = mutate(g, rng, cfg)
    return g


def test_genome_validation():
    g = _xor_solution()
    validate(g)
    with pytest.raises(ValueError, match="duplicate synapse"):
        Genome(2, 2, g.neurons, g.synapses + (SynapseGene(0, 2, 1.0),), 4)
    with pytest.raises(ValueError, match="targets an input"):
        Genome(2, 2, g.neurons, (SynapseGene(2, 0, 1.0),), 4)
    with pytest.raises(ValueError, match="unknown neuron"):
        Genome(2, 2, g.neurons, (SynapseGene(9, 2, 1.0),), 4)
    with pytest.raises(ValueError, match="tau and threshold"):
        Genome(2, 2, g.neurons[:3] + (NeuronGene(3, "output", 2.0, -1.0),), (), 4)
    with pytest.raises(ValueError, match="next_id"):
        Genome(2, 2, g.neurons, (), 3)
    with pytest.raises(ValueError, match="2 input and 2 output"):
        Genome(2, 2, g.neurons[:3], (), 4)
    assert Genome.from_dict(g.to_dict()) == g


def test_mutation_is_pure_deterministic_and_valid():
    parent = _random_genome(0, steps=5)
    snapshot = parent.to_dict()
    a = [mutate(parent, np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    assert parent.to_dict() == snapshot
    g = _random_genome(1, steps=60)
    validate(g)
    assert len(g.hidden) > 0 and g.next_id > 5
    with pytest.raises(TypeError, match="Genome"):
        mutate("genome", np.random.default_rng(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="add_neuron"):
        MutationConfig(add_neuron=1.5)


def test_add_neuron_splits_a_synapse():
    g = minimal_genome(1, 1, np.random.default_rng(0), connect_prob=1.0)
    cfg = MutationConfig(weight_rate=0.0, param_prob=0.0, add_synapse=0.0, remove_synapse=0.0, add_neuron=1.0,
                         remove_neuron=0.0, relay_weight=1.5)
    child = mutate(g, np.random.default_rng(0), cfg)
    (h,) = child.hidden
    old = g.synapses[0]
    syn = {(s.pre, s.post): s for s in child.synapses}
    assert not syn[(0, 1)].enabled
    assert syn[(0, h.id)].weight == 1.5 and syn[(h.id, 1)].weight == old.weight


def _dense_run(g: Genome, x_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    p = compile_genome(g)
    n = p.beta.numel()
    w_in, w_rec = torch.zeros(p.n_inputs, n), torch.zeros(n, n)
    w_in[p.in_src, p.in_dst] = p.in_w
    w_rec[p.rec_src, p.rec_dst] = p.rec_w
    v, s = torch.zeros(x_seq.shape[1], n), torch.zeros(x_seq.shape[1], n)
    counts = torch.zeros_like(v)
    for x in x_seq:
        v = p.beta * v + x @ w_in + s @ w_rec
        s = (v >= p.threshold).float()
        v = v * (1 - s)
        counts += s
    return counts, v


def test_compiled_kernel_matches_dense_loop():
    g = _random_genome(2, steps=80)
    x = (torch.rand(12, 5, 3, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    scores, counts = run_evolved(compile_genome(g), x)
    ref_counts, ref_v = _dense_run(g, x)
    assert ref_counts.sum() > 0
    torch.testing.assert_close(counts, ref_counts)
    p = compile_genome(g)
    k = g.n_outputs
    torch.testing.assert_close(scores, ref_counts[:, :k] + (ref_v[:, :k] / p.threshold[:k]).clamp(0, 1))
    assert EvolvedSNN(g)(x).shape == (5, 2)
    with pytest.raises(ValueError, match=r"x_seq must have shape \[T, B, 3\]"):
        run_evolved(p, torch.zeros(4, 2, 2))


def test_evolved_step_recurrent_delay():
    # input 0 -> hidden h (fires at once), h -> output with a one-step delay
    neurons = (NeuronGene(0, "input"), NeuronGene(1, "output", 1.0, 1.0), NeuronGene(2, "hidden", 1.0, 1.0))
    g = Genome(1, 1, neurons, (SynapseGene(0, 2, 2.0), SynapseGene(2, 1, 2.0)), 3)
    p = compile_genome(g)
    z = torch.zeros(1, 2)
    st = EvolvedState(z, z)
    s1, st = evolved_step(torch.ones(1, 1), st, p)
    s2, st = evolved_step(torch.zeros(1, 1), st, p)
    assert s1.tolist() == [[0.0, 1.0]] and s2.tolist() == [[1.0, 0.0]]


def test_prune_keeps_outputs_and_removes_dead_parts():
    g = _random_genome(3, steps=80)
    x = (torch.rand(10, 8, 3, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    p = compile_genome(g)
    scores, counts = run_evolved(p, x)
    spk = {gid: float(c) for gid, c in zip(p.ids, counts.sum(0).tolist())}
    pruned = prune(g, weight_eps=0.0, spike_counts=spk)
    assert len(pruned.hidden) < len(g.hidden)  # silent hidden neurons were removed ...
    torch.testing.assert_close(run_evolved(compile_genome(pruned), x)[0], scores)  # ... without any effect
    assert all(s.enabled for s in pruned.synapses)
    # a hidden neuron without outgoing synapses is removed, and so are its synapses
    dangling = Genome(g.n_inputs, g.n_outputs, g.neurons + (NeuronGene(g.next_id, "hidden"),),
                      g.synapses + (SynapseGene(0, g.next_id, 3.0),), g.next_id + 1)
    cleaned = prune(dangling, 0.0)
    assert g.next_id not in {n.id for n in cleaned.neurons}
    weak = prune(g, weight_eps=10.0)
    assert weak.num_enabled == 0 and not weak.hidden
    assert prune(weak, 0.0) is weak


def test_fitness_formula():
    scores = torch.tensor([[2.0, 0.5], [0.2, 0.7], [1.0, 3.0]])
    labels = torch.tensor([0, 0, 1])
    fit, acc = fitness(scores, labels, n_synapses=10, size_penalty=0.01)
    margin = (1.0 + (-0.5) + 1.0) / 3
    assert acc == pytest.approx(2 / 3)
    assert fit == pytest.approx(2 / 3 + 0.1 * margin - 0.1)


def test_hand_built_xor_solves_task():
    task = make_task("xor")
    assert not torch.equal(task.x_train, task.x_test)   # the test spike times are held out
    for x, y in ((task.x_train, task.y_train), (task.x_test, task.y_test)):
        scores, _ = run_evolved(compile_genome(_xor_solution()), x)
        assert float((scores.argmax(1) == y).float().mean()) == 1.0


def test_evolution_deterministic_monotone_and_solves_xor():
    task = make_task("xor")
    cfg = EvolutionConfig(mu=6, lam=12, generations=25)
    a = evolve(task, cfg, seed=3)
    b = evolve(task, cfg, seed=3)
    assert a.history == b.history and a.best == b.best
    best = a.history["best"]
    assert all(y >= x for x, y in zip(best, best[1:]))
    assert a.train_accuracy == 1.0 and a.test_accuracy == 1.0   # test: spike times never seen in training
    c = evolve(task, cfg, seed=4)
    assert c.history != a.history


def test_evolution_improves_digits():
    task = make_task("digits", steps=8, n_train=200)
    res = evolve(task, EvolutionConfig(mu=6, lam=12, generations=15, connect_prob=1.0), seed=0)
    assert res.history["best"][-1] > res.history["best"][0] + 0.1
    assert res.test_accuracy > 0.4  # 4 classes: chance is 0.25


def test_make_task_validates():
    with pytest.raises(ValueError, match="name"):
        make_task("cartpole")
    with pytest.raises(ValueError, match="n_train"):
        make_task("digits", n_train=10_000)
    with pytest.raises(TypeError, match="Task"):
        evolve("xor")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mu"):
        EvolutionConfig(mu=0)


def test_cli_evolve_writes_plot(tmp_path):
    out = subprocess.run([sys.executable, "-m", "neuromorph", "evolve", "--task", "xor", "--generations", "4",
                          "--mu", "4", "--lam", "8", "--out", str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "best fitness" in out.stdout
    png = tmp_path / "evolve_fitness.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "best_genome.json").exists()
