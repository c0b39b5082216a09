"""Evolvable spiking networks: genomes (:mod:`~neuromorph.evolution.genome`), their compilation into sparse
SNNs (:mod:`~neuromorph.evolution.compile`) and evolutionary search (:mod:`~neuromorph.evolution.search`)."""

from neuromorph.evolution.compile import (
    EvolvedParams,
    EvolvedSNN,
    EvolvedState,
    compile_genome,
    evolved_step,
    run_evolved,
)
from neuromorph.evolution.genome import Genome, MutationConfig, NeuronGene, SynapseGene, minimal_genome, mutate, prune
from neuromorph.evolution.search import EvolutionConfig, EvolutionResult, Task, evolve, fitness

__all__ = [
    "EvolutionConfig",
    "EvolutionResult",
    "EvolvedParams",
    "EvolvedSNN",
    "EvolvedState",
    "Genome",
    "MutationConfig",
    "NeuronGene",
    "SynapseGene",
    "Task",
    "compile_genome",
    "evolve",
    "evolved_step",
    "fitness",
    "minimal_genome",
    "mutate",
    "prune",
    "run_evolved",
]
