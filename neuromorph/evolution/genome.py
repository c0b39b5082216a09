"""Genome of an evolvable spiking network: neuron and synapse genes, mutations and pruning.

A :class:`Genome` lists

* neurons: ``NeuronGene(id, kind, tau, threshold)`` with ``kind`` in {"input", "output", "hidden"}; ``tau`` is
  the membrane time constant in steps (decay ``beta = exp(-1 / tau)``), ``threshold > 0``. Input neurons are
  spike sources (their ``tau``/``threshold`` are unused); ``n_inputs`` inputs and ``n_outputs`` outputs are
  always present, hidden neurons come and go.
* synapses: ``SynapseGene(pre, post, weight, enabled)`` between neuron ids; ``post`` is never an input.
  At most one gene per (pre, post) pair.

Every function here is pure: it returns a new genome and leaves its argument untouched. Random choices come
from the ``numpy.random.Generator`` passed in, so a run is reproducible from its seed.

Mutations (:func:`mutate` applies each with its probability from :class:`MutationConfig`):

* weight perturbation: every enabled weight, with prob. ``weight_rate``: ``w <- clip(w + N(0, weight_sigma^2))``
  (or, with prob. ``weight_reset``, a fresh draw ``N(0, init_std^2)``);
* neuron perturbation: one random non-input neuron: ``tau <- clip(tau * exp(N(0, param_sigma^2)))``, same for
  ``threshold``;
* add synapse: a new random (pre, post) pair, or re-enable a disabled one;
* remove synapse: delete a random synapse;
* add neuron: split an enabled synapse ``a -> b`` (weight ``w``) into ``a -> h`` (weight ``relay_weight``, so
  ``h`` fires on ``a``'s spike) and ``h -> b`` (weight ``w``), disabling the old gene;
* remove neuron: delete a random hidden neuron and its synapses.

Pruning (:func:`prune`) deletes disabled synapses and those with ``|w| < weight_eps``, hidden neurons that
cannot matter (no incoming or no outgoing synapse, repeated to a fixed point) and, given per-neuron spike
counts from an evaluation, hidden neurons that never spiked (their synapses never transmitted anything, so on
that data the network's outputs are unchanged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping, NamedTuple, Optional

import numpy as np

KINDS = ("input", "output", "hidden")


class NeuronGene(NamedTuple):
    """One neuron: genome ``id``, ``kind`` ("input", "output" or "hidden"), time constant ``tau`` (steps), threshold.

    >>> NeuronGene(3, "hidden")
    NeuronGene(id=3, kind='hidden', tau=5.0, threshold=1.0)
    """

    id: int
    kind: str
    tau: float = 5.0
    threshold: float = 1.0


class SynapseGene(NamedTuple):
    """One synapse from neuron ``pre`` to neuron ``post`` (genome ids) with its weight; disabled genes are kept.

    >>> SynapseGene(0, 2, 0.5)
    SynapseGene(pre=0, post=2, weight=0.5, enabled=True)
    """

    pre: int
    post: int
    weight: float
    enabled: bool = True


@dataclass(frozen=True)
class Genome:
    """A network: its neuron and synapse genes (module docstring); validated on construction, immutable.

    >>> g = minimal_genome(2, 1, np.random.default_rng(0), connect_prob=1.0)
    >>> g.size(), [n.kind for n in g.neurons]
    ((0, 2), ['input', 'input', 'output'])
    >>> Genome.from_dict(g.to_dict()) == g
    True
    """

    n_inputs: int
    n_outputs: int
    neurons: tuple[NeuronGene, ...]
    synapses: tuple[SynapseGene, ...]
    next_id: int

    def __post_init__(self) -> None:
        validate(self)

    @property
    def hidden(self) -> list[NeuronGene]:
        return [n for n in self.neurons if n.kind == "hidden"]

    @property
    def num_enabled(self) -> int:
        return sum(1 for s in self.synapses if s.enabled)

    def size(self) -> tuple[int, int]:
        """``(hidden neurons, enabled synapses)``."""
        return len(self.hidden), self.num_enabled

    def to_dict(self) -> dict:
        return {
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "next_id": self.next_id,
            "neurons": [list(n) for n in self.neurons],
            "synapses": [list(s) for s in self.synapses],
        }

    @staticmethod
    def from_dict(d: Mapping) -> "Genome":
        return Genome(
            int(d["n_inputs"]),
            int(d["n_outputs"]),
            tuple(NeuronGene(int(i), str(k), float(t), float(th)) for i, k, t, th in d["neurons"]),
            tuple(SynapseGene(int(a), int(b), float(w), bool(e)) for a, b, w, e in d["synapses"]),
            int(d["next_id"]),
        )


def validate(g: Genome) -> None:
    """Raise ``ValueError`` if the genome is inconsistent (ids, kinds, ranges, duplicate synapses).

    >>> neurons = (NeuronGene(0, "input"), NeuronGene(1, "output"))
    >>> validate(Genome(1, 1, neurons, (SynapseGene(0, 1, 1.0),), next_id=2))
    >>> try:
    ...     Genome(1, 1, neurons, (SynapseGene(1, 0, 1.0),), next_id=2)     # a synapse into an input
    ... except ValueError:
    ...     print("invalid")
    invalid
    """
    if g.n_inputs < 1 or g.n_outputs < 1:
        raise ValueError(f"genome needs n_inputs >= 1 and n_outputs >= 1, got {g.n_inputs}, {g.n_outputs}")
    ids = [n.id for n in g.neurons]
    if len(set(ids)) != len(ids):
        raise ValueError("genome neuron ids must be unique")
    if ids and max(ids) >= g.next_id:
        raise ValueError(f"genome next_id must exceed every neuron id, got next_id={g.next_id}, max id {max(ids)}")
    kinds = {n.id: n.kind for n in g.neurons}
    for n in g.neurons:
        if n.kind not in KINDS:
            raise ValueError(f"neuron kind must be one of {KINDS}, got {n.kind!r}")
        if n.kind != "input" and not (n.tau > 0 and n.threshold > 0 and math.isfinite(n.tau + n.threshold)):
            raise ValueError(
                f"neuron {n.id}: tau and threshold must be positive and finite, got {n.tau}, {n.threshold}"
            )
    counts = [sum(1 for n in g.neurons if n.kind == k) for k in ("input", "output")]
    if counts != [g.n_inputs, g.n_outputs]:
        raise ValueError(f"genome must hold {g.n_inputs} input and {g.n_outputs} output neurons, got {counts}")
    seen = set()
    for s in g.synapses:
        if s.pre not in kinds or s.post not in kinds:
            raise ValueError(f"synapse {s.pre}->{s.post} refers to an unknown neuron id")
        if kinds[s.post] == "input":
            raise ValueError(f"synapse {s.pre}->{s.post} targets an input neuron")
        if (s.pre, s.post) in seen:
            raise ValueError(f"duplicate synapse {s.pre}->{s.post}")
        if not math.isfinite(s.weight):
            raise ValueError(f"synapse {s.pre}->{s.post} has a non-finite weight")
        seen.add((s.pre, s.post))


def minimal_genome(
    n_inputs: int,
    n_outputs: int,
    rng: np.random.Generator,
    connect_prob: float = 0.5,
    init_std: float = 1.0,
    tau: float = 5.0,
    threshold: float = 1.0,
) -> Genome:
    """Inputs and outputs only; each input -> output synapse present with prob. ``connect_prob``,
    weight ``N(0, init_std^2)``.

    >>> g = minimal_genome(3, 2, np.random.default_rng(0), connect_prob=1.0)
    >>> len(g.neurons), g.num_enabled, g.hidden
    (5, 6, [])
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not 0.0 <= connect_prob <= 1.0:
        raise ValueError(f"connect_prob must lie in [0, 1], got {connect_prob}")
    neurons = [NeuronGene(i, "input") for i in range(n_inputs)]
    neurons += [NeuronGene(n_inputs + j, "output", tau, threshold) for j in range(n_outputs)]
    syn = [
        SynapseGene(i, n_inputs + j, float(rng.normal(0.0, init_std)))
        for i in range(n_inputs)
        for j in range(n_outputs)
        if rng.random() < connect_prob
    ]
    return Genome(n_inputs, n_outputs, tuple(neurons), tuple(syn), n_inputs + n_outputs)


@dataclass(frozen=True)
class MutationConfig:
    """Probabilities and scales of the mutations of the module docstring.

    >>> cfg = MutationConfig(add_neuron=1.0)
    >>> cfg.add_neuron, cfg.tau_range
    (1.0, (1.0, 50.0))
    """

    weight_rate: float = 0.2
    weight_sigma: float = 0.3
    weight_reset: float = 0.1
    weight_max: float = 5.0
    init_std: float = 1.0
    param_prob: float = 0.3
    param_sigma: float = 0.2
    tau_range: tuple[float, float] = (1.0, 50.0)
    threshold_range: tuple[float, float] = (0.1, 10.0)
    add_synapse: float = 0.3
    remove_synapse: float = 0.15
    add_neuron: float = 0.1
    remove_neuron: float = 0.05
    relay_weight: float = 1.5
    hidden_tau: float = 5.0
    hidden_threshold: float = 1.0

    def __post_init__(self) -> None:
        for name in (
            "weight_rate",
            "weight_reset",
            "param_prob",
            "add_synapse",
            "remove_synapse",
            "add_neuron",
            "remove_neuron",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {v}")
        for name in ("weight_sigma", "weight_max", "init_std", "param_sigma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


def mutate(g: Genome, rng: np.random.Generator, cfg: MutationConfig = MutationConfig()) -> Genome:
    """Apply the mutations of the module docstring (each with its probability) and return the child.

    >>> parent = minimal_genome(2, 1, np.random.default_rng(0), connect_prob=1.0)
    >>> child = mutate(parent, np.random.default_rng(1), MutationConfig(add_neuron=1.0, remove_neuron=0.0))
    >>> len(child.hidden), len(parent.hidden)         # the parent is left untouched
    (1, 0)
    """
    if not isinstance(g, Genome):
        raise TypeError(f"g must be a Genome, got {type(g).__name__}")
    neurons = list(g.neurons)
    syn = list(g.synapses)
    next_id = g.next_id
    # weights
    for i, s in enumerate(syn):
        if s.enabled and rng.random() < cfg.weight_rate:
            w = (
                rng.normal(0.0, cfg.init_std)
                if rng.random() < cfg.weight_reset
                else s.weight + rng.normal(0.0, cfg.weight_sigma)
            )
            syn[i] = s._replace(weight=float(np.clip(w, -cfg.weight_max, cfg.weight_max)))
    # neuron time constant / threshold
    body = [i for i, n in enumerate(neurons) if n.kind != "input"]
    if body and rng.random() < cfg.param_prob:
        i = body[int(rng.integers(len(body)))]
        n = neurons[i]
        tau = float(np.clip(n.tau * math.exp(rng.normal(0.0, cfg.param_sigma)), *cfg.tau_range))
        thr = float(np.clip(n.threshold * math.exp(rng.normal(0.0, cfg.param_sigma)), *cfg.threshold_range))
        neurons[i] = n._replace(tau=tau, threshold=thr)
    # add synapse
    if rng.random() < cfg.add_synapse:
        pres = [n.id for n in neurons]
        posts = [n.id for n in neurons if n.kind != "input"]
        a, b = pres[int(rng.integers(len(pres)))], posts[int(rng.integers(len(posts)))]
        idx = {(s.pre, s.post): i for i, s in enumerate(syn)}
        if (a, b) in idx:
            j = idx[(a, b)]
            syn[j] = syn[j]._replace(enabled=True)
        else:
            syn.append(SynapseGene(a, b, float(rng.normal(0.0, cfg.init_std))))
    # remove synapse
    if syn and rng.random() < cfg.remove_synapse:
        del syn[int(rng.integers(len(syn)))]
    # add neuron by splitting an enabled synapse
    enabled = [i for i, s in enumerate(syn) if s.enabled]
    if enabled and rng.random() < cfg.add_neuron:
        j = enabled[int(rng.integers(len(enabled)))]
        s = syn[j]
        h = next_id
        next_id += 1
        neurons.append(NeuronGene(h, "hidden", cfg.hidden_tau, cfg.hidden_threshold))
        syn[j] = s._replace(enabled=False)
        syn += [SynapseGene(s.pre, h, cfg.relay_weight), SynapseGene(h, s.post, s.weight)]
    # remove a hidden neuron
    hidden = [n.id for n in neurons if n.kind == "hidden"]
    if hidden and rng.random() < cfg.remove_neuron:
        h = hidden[int(rng.integers(len(hidden)))]
        neurons = [n for n in neurons if n.id != h]
        syn = [s for s in syn if s.pre != h and s.post != h]
    return Genome(g.n_inputs, g.n_outputs, tuple(neurons), tuple(syn), next_id)


def prune(g: Genome, weight_eps: float = 0.05, spike_counts: Optional[Mapping[int, float]] = None) -> Genome:
    """Remove disabled/weak synapses and useless hidden neurons (see the module docstring).

    ``spike_counts`` maps neuron id -> number of spikes in an evaluation; hidden neurons with zero count are
    removed. Returns a new genome (``g`` itself when nothing changed).

    >>> g = minimal_genome(2, 1, np.random.default_rng(0), connect_prob=1.0)
    >>> weak = Genome(g.n_inputs, g.n_outputs, g.neurons, g.synapses[:1] + (g.synapses[1]._replace(weight=0.01),),
    ...               g.next_id)
    >>> prune(weak, weight_eps=0.05).num_enabled
    1
    """
    if weight_eps < 0:
        raise ValueError(f"weight_eps must be non-negative, got {weight_eps}")
    syn = [s for s in g.synapses if s.enabled and abs(s.weight) >= weight_eps]
    neurons = list(g.neurons)
    if spike_counts is not None:
        silent = {n.id for n in neurons if n.kind == "hidden" and spike_counts.get(n.id, 0) == 0}
        neurons = [n for n in neurons if n.id not in silent]
        syn = [s for s in syn if s.pre not in silent and s.post not in silent]
    while True:
        # a hidden neuron matters only if it has an incoming synapse from another neuron and an outgoing one
        has_in = {s.post for s in syn if s.pre != s.post}
        has_out = {s.pre for s in syn if s.pre != s.post}
        dead = {n.id for n in neurons if n.kind == "hidden" and (n.id not in has_in or n.id not in has_out)}
        if not dead:
            break
        neurons = [n for n in neurons if n.id not in dead]
        syn = [s for s in syn if s.pre not in dead and s.post not in dead]
    if len(syn) == len(g.synapses) and len(neurons) == len(g.neurons):
        return g
    return replace(g, neurons=tuple(neurons), synapses=tuple(syn))
