"""Online learning: eligibility-trace gradients (OTTT / e-prop family) with a BPTT switch, three-factor
reward-modulated learning, STDP, homeostasis and activity-based pruning. See ``docs/learning.md``."""

from neuromorph.learning.homeostasis import (
    adapt_threshold,
    firing_rates,
    homeostatic_threshold,
    normalize_weights,
    synaptic_scaling,
)
from neuromorph.learning.online import OnlineLearner, find_synapses
from neuromorph.learning.streaming import StreamingChain
from neuromorph.learning.pruning import ActivityPruner, prune_mask
from neuromorph.learning.reward import EligibilityTrace, RunningBaseline
from neuromorph.learning.stdp import STDP, STDPParams, STDPState, stdp_init, stdp_step

__all__ = [
    "OnlineLearner",
    "StreamingChain",
    "find_synapses",
    "EligibilityTrace",
    "RunningBaseline",
    "STDP",
    "STDPParams",
    "STDPState",
    "stdp_init",
    "stdp_step",
    "adapt_threshold",
    "firing_rates",
    "homeostatic_threshold",
    "normalize_weights",
    "synaptic_scaling",
    "ActivityPruner",
    "prune_mask",
]
